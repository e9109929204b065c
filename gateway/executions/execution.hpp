#pragma once
// One cell run through the execute API, as the kernel's messages describe it: the events a
// streaming client gets (nbformat v4 outputs as they come, then "done"), the outputs an
// nbformat notebook would hold, the status, usage and budgets. Pure bookkeeping: no I/O, no
// timers; the HTTP side (api/execution_runner) feeds it the messages answering its request.
#include "executions/output_budget.hpp"
#include "protocol/kernel_message.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::gateway
{

class execution
{
public:
    using clock = std::chrono::steady_clock;
    // Events kept per execution (a replay for clients that come back); past it, outputs are
    // dropped and counted (usage.dropped_events), the final "done" always kept.
    static constexpr std::size_t max_events = 10000;

    struct event
    {
        std::string type; // stream, display_data, ..., done
        std::string json; // the whole event, one line
    };

    // `budget`: the text and image bytes this execution may keep.
    execution(std::string id, std::string msg_id, output_budget budget,
              clock::time_point now = clock::now());

    const std::string& id() const { return m_id; }
    const std::string& msg_id() const { return m_msg_id; }

    // An iopub or shell message whose parent is this execution's request. Returns whether
    // anything changed (new events, the reply, the end): a reply whose idle status never
    // comes (the kernel's iopub dropped it at its high-water mark) must still be seen, so
    // that the runner ends the execution after a grace period.
    bool on_message(const kernel_message& message, clock::time_point now = clock::now());
    // input() was answered with `value`: shown on stdout after its prompt, as a terminal would
    // (the kernel itself prints neither).
    void echo_input(const std::string& prompt, const std::string& value);
    // The execution ends without its answer (the kernel went away).
    void end_died(const std::string& ename, const std::string& evalue,
                  clock::time_point now = clock::now());
    // Someone asked for it to stop (DELETE, or its client left): the KeyboardInterrupt that
    // follows is "aborted", not an error of the cell.
    void mark_interrupted() { m_interrupted = true; }
    bool interrupted() const { return m_interrupted; }
    // The reply came but not the idle status after a grace period: end anyway.
    void end_now(clock::time_point now = clock::now());

    // The kernel has begun the cell (its execute_input or busy status came).
    bool started() const { return m_began; }
    bool replied() const { return m_reply.has_value(); }
    bool done() const { return m_done; }
    const std::vector<event>& events() const { return m_events; }
    // The answer: {"execution_id", "status", ..., "outputs"?}.
    nlohmann::json result(bool with_outputs) const;
    const std::string& status() const { return m_status; }

private:
    void add_event(const std::string& type, nlohmann::json fields);
    void add_output(nlohmann::json output);
    void on_stream(const nlohmann::json& content);
    void emit_stream(const std::string& name, const std::string& text);
    // A data bundle within the budgets.
    nlohmann::json budget_bundle(const nlohmann::json& data);
    void on_reply(const nlohmann::json& header, const nlohmann::json& content,
                  const nlohmann::json& metadata, clock::time_point now);
    void finish(clock::time_point now);

    std::string m_id;
    std::string m_msg_id;
    output_budget m_budget;
    clock::time_point m_started;
    std::optional<double> m_wall_ms;
    std::vector<event> m_events;
    std::size_t m_dropped_events = 0;
    bool m_outputs_capped = false; // past max_events outputs
    nlohmann::json m_outputs = nlohmann::json::array();
    bool m_clear_pending = false; // clear_output(wait=True): at the next output
    std::map<std::string, std::vector<std::size_t>> m_displays; // display_id -> outputs
    std::string m_stdout;
    std::string m_stderr;
    nlohmann::json m_result = nullptr;
    nlohmann::json m_error = nullptr;
    nlohmann::json m_execution_count = nullptr;
    nlohmann::json m_kernel_usage = nlohmann::json::object(); // execute_reply metadata.cellbox
    std::optional<nlohmann::json> m_reply;
    bool m_began = false;
    bool m_idle = false;
    bool m_done = false;
    bool m_interrupted = false;
    std::string m_status = "running";
};

} // namespace cellbox::gateway
