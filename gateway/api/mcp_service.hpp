#pragma once
// The MCP endpoint's state on the server's thread: its session table (mcp/session_table),
// each session's kernel, started on first use as POST /api/kernels starts one (the pool, the
// user's quotas) and shut down when the session is deleted or culled for idleness.
#include "api/api_context.hpp"
#include "mcp/session_table.hpp"

#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::gateway
{

class execution_runner;

class mcp_service : public std::enable_shared_from_this<mcp_service>
{
public:
    // The kernel of a session, or why there is none (for the tool's error text). `fresh` when
    // it was started for this call after an earlier one of the session went away.
    struct kernel_outcome
    {
        std::optional<std::string> kernel_id;
        std::string error;
        bool replaced = false;
    };
    using kernel_handler = std::function<void(kernel_outcome)>;

    explicit mcp_service(std::shared_ptr<api_context> ctx);
    // Starts the idle culling (a timer on the server's thread).
    void start();

    api_context& ctx() { return *m_ctx; }
    const std::shared_ptr<api_context>& shared_ctx() const { return m_ctx; }
    mcp::session_table& sessions() { return m_sessions; }

    // The session's kernel, started now if it has none yet or its kernel went away (culled,
    // shut down through the REST API, died for good).
    void with_kernel(const std::string& session_id, const identity& who, kernel_handler done);
    // The cell a tools/call runs (`request`: its JSON-RPC id, dumped), for
    // notifications/cancelled; forgotten when the call ends.
    void track(const std::string& session_id, const std::string& request,
               std::weak_ptr<execution_runner> run);
    void untrack(const std::string& session_id, const std::string& request);
    // A cell of the session still running, if any.
    std::shared_ptr<execution_runner> running(const std::string& session_id) const;
    // notifications/cancelled: interrupts that call's cell, if it still runs.
    void cancel(const std::string& session_id, const std::string& request);
    // Ends a session: its kernel is shut down. `why` goes to the log. The id is a copy: a
    // caller may hold it in the session this removes.
    void end(std::string session_id, const std::string& why);

private:
    void schedule_cull();
    void cull();

    std::shared_ptr<api_context> m_ctx;
    mcp::session_table m_sessions;
    // Sessions whose kernel is starting: the calls waiting for it.
    std::map<std::string, std::vector<kernel_handler>> m_starting;
    // Per session, the cells of running tools/call requests, by request id.
    std::map<std::string, std::map<std::string, std::weak_ptr<execution_runner>>> m_running;
    boost::asio::steady_timer m_cull_timer;
};

} // namespace cellbox::gateway
