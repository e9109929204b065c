#pragma once

#include "protocol/kernel_message.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellbox::gateway
{

// The cell limit of an execute_request: its metadata.cellbox.timeout, else `default_s`, never
// above `cap_s` (0: no default / no cap).
double cell_limit(const nlohmann::json& metadata, double default_s, double cap_s);

// What one kernel was asked and has not answered yet, across its processes: execute requests
// with their cell limits, other shell requests, and requests held between two processes.
// Pure bookkeeping (no I/O, no timers): the kernel manager sends what it hands back.
class execution_tracker
{
public:
    using clock = std::chrono::steady_clock;
    // A request to answer on the process's behalf: to `session_id`'s connections.
    struct answer
    {
        std::string session_id;
        kernel_message request; // the request (its header is what the answer needs)
        bool aborted = false;   // queued behind the cell that died: "aborted", not an error
    };
    struct death
    {
        std::vector<answer> answers;
        std::vector<double> pending_ages; // seconds each execute request waited (-1: unknown)
    };

    // Requests a restarting kernel holds for its next process: a client that sends more before
    // it is back is flooding, not waiting.
    static constexpr std::size_t max_held = 256;

    void execute_sent(const std::string& msg_id, const std::string& session_id,
                      const std::string& header, double limit_s, clock::time_point now);
    void request_sent(const std::string& msg_id, const std::string& session_id,
                      const std::string& header, const std::string& channel);
    // A reply to `msg_id` reached the client. Returns the request's session id and header if
    // it was one of the requests tracked (execute or other shell requests).
    struct replied_request
    {
        std::string session_id;
        std::string header;
    };
    std::optional<replied_request> replied(const std::string& msg_id);
    // The kernel started the cell: its limit if it is one of ours and has one.
    std::optional<double> started(const std::string& msg_id);
    bool is_pending(const std::string& msg_id) const { return m_pending.count(msg_id) != 0; }
    std::size_t pending_count() const { return m_pending.size(); }
    // The execute_reply of `msg_id`: how long it took, if it was one of ours.
    std::optional<double> execute_answered(const std::string& msg_id, clock::time_point now);

    // Between two processes: whether another request may wait (max_held).
    bool can_hold() const { return m_held.size() < max_held; }
    std::size_t held_count() const { return m_held.size(); }
    void hold(std::uint64_t connection, kernel_message message);
    std::vector<std::pair<std::uint64_t, kernel_message>> take_held();

    // The process is gone after a restart or shutdown: every request it took gets an error.
    std::vector<answer> take_in_flight();
    // The process died: the cell it ran (the one it started last, else the oldest request)
    // gets an error, execute requests queued behind it are aborted, other requests get an
    // error.
    death take_for_death(clock::time_point now);

private:
    // Execute requests by msg_id until their reply: (session id, request header).
    std::map<std::string, std::pair<std::string, std::string>> m_pending;
    std::map<std::string, double> m_limits; // msg_id -> seconds (0: none), until the reply
    // msg_id -> when it was sent, until its execute_reply was seen (for the metrics): the
    // reply and the execute_reply are two events, either may come first.
    std::map<std::string, clock::time_point> m_since;
    // Other shell requests (complete, inspect...) by msg_id: (session id, request).
    std::map<std::string, std::pair<std::string, kernel_message>> m_unanswered;
    std::vector<std::pair<std::uint64_t, kernel_message>> m_held;
    std::string m_running; // the execute_request the kernel started last
};

} // namespace cellbox::gateway
