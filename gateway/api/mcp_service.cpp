#include "api/mcp_service.hpp"

#include "api/execution_runner.hpp"
#include "api/kernel_start.hpp"
#include "telemetry/log.hpp"

#include <algorithm>

namespace cellbox::gateway
{

mcp_service::mcp_service(std::shared_ptr<api_context> ctx)
    : m_ctx(std::move(ctx)),
      m_sessions(static_cast<std::size_t>(std::max(0, m_ctx->options.mcp_max_sessions_per_user))),
      m_cull_timer(m_ctx->io)
{
}

void mcp_service::start()
{
    schedule_cull();
}

void mcp_service::schedule_cull()
{
    const double idle = m_ctx->options.mcp_session_idle_timeout_s;
    if (idle <= 0)
    {
        return;
    }
    // A tenth of the timeout, between 1 s and a minute: a session outlives its timeout by
    // at most that much.
    const double every = std::clamp(idle / 10, 1.0, 60.0);
    m_cull_timer.expires_after(std::chrono::milliseconds(static_cast<long long>(every * 1000)));
    m_cull_timer.async_wait(
        [weak = weak_from_this()](const boost::system::error_code& error)
        {
            if (auto self = weak.lock(); self && !error)
            {
                self->cull();
                self->schedule_cull();
            }
        });
}

void mcp_service::cull()
{
    const auto idle = std::chrono::duration_cast<mcp::session::clock::duration>(
        std::chrono::duration<double>(m_ctx->options.mcp_session_idle_timeout_s));
    for (const auto& id : m_sessions.idle_since(idle))
    {
        end(id, "culled: idle for longer than mcp_session_idle_timeout");
    }
}

void mcp_service::end(std::string session_id, const std::string& why)
{
    // Found by id alone: the caller checked the owner (DELETE) or it is the server (culling).
    std::string kernel_id;
    std::string user;
    if (const mcp::session* s = m_sessions.find_any(session_id))
    {
        kernel_id = s->kernel_id;
        user = s->user;
    }
    m_sessions.remove(session_id);
    m_running.erase(session_id);
    // A kernel still starting for it is shut down when it comes (with_kernel).
    log::info("MCP session ended",
              {{"session", session_id}, {"user", user}, {"kernel", kernel_id}, {"why", why}});
    if (!kernel_id.empty() && m_ctx->kernels.find(kernel_id) != nullptr)
    {
        m_ctx->kernels.shutdown(kernel_id, [] {});
    }
}

void mcp_service::track(const std::string& session_id, const std::string& request,
                        std::weak_ptr<execution_runner> run)
{
    if (m_sessions.find_any(session_id) != nullptr)
    {
        m_running[session_id][request] = std::move(run);
    }
}

void mcp_service::untrack(const std::string& session_id, const std::string& request)
{
    const auto found = m_running.find(session_id);
    if (found != m_running.end())
    {
        found->second.erase(request);
        if (found->second.empty())
        {
            m_running.erase(found);
        }
    }
}

std::shared_ptr<execution_runner> mcp_service::running(const std::string& session_id) const
{
    const auto found = m_running.find(session_id);
    if (found == m_running.end())
    {
        return nullptr;
    }
    for (const auto& [request, weak] : found->second)
    {
        if (auto run = weak.lock(); run && !run->model().done())
        {
            return run;
        }
    }
    return nullptr;
}

void mcp_service::cancel(const std::string& session_id, const std::string& request)
{
    const auto found = m_running.find(session_id);
    if (found == m_running.end())
    {
        return;
    }
    const auto run = found->second.find(request);
    if (run == found->second.end())
    {
        return; // over already, or not a cell: nothing to stop
    }
    if (auto alive = run->second.lock())
    {
        log::info("MCP tool call cancelled by its client",
                  {{"session", session_id}, {"execution", alive->id()}});
        alive->interrupt();
    }
}

void mcp_service::with_kernel(const std::string& session_id, const identity& who,
                              kernel_handler done)
{
    mcp::session* s = m_sessions.find(session_id, who.user);
    if (s == nullptr)
    {
        done({std::nullopt, "the MCP session ended", false});
        return;
    }
    const bool had_one = !s->kernel_id.empty();
    if (had_one && m_ctx->kernels.find(s->kernel_id, who) != nullptr)
    {
        done({s->kernel_id, "", false});
        return;
    }
    auto& waiting = m_starting[session_id];
    waiting.push_back(std::move(done));
    if (waiting.size() > 1)
    {
        return; // a start is under way; this call waits for it too
    }
    if (had_one)
    {
        log::info("MCP session's kernel is gone; starting another",
                  {{"session", session_id}, {"user", who.user}, {"kernel", s->kernel_id}});
    }
    start_kernel_for(
        *m_ctx, who, m_ctx->options.default_kernel, {},
        [weak = weak_from_this(), session_id, who, had_one](start_outcome outcome)
        {
            auto self = weak.lock();
            if (!self)
            {
                return;
            }
            auto waiters = std::move(self->m_starting[session_id]);
            self->m_starting.erase(session_id);
            mcp::session* s = self->m_sessions.find(session_id, who.user);
            if (s == nullptr && outcome.kernel_id)
            {
                // The session ended while its kernel started.
                self->m_ctx->kernels.shutdown(*outcome.kernel_id, [] {});
                outcome.kernel_id.reset();
                outcome.message = "the MCP session ended";
            }
            if (outcome.kernel_id)
            {
                s->kernel_id = *outcome.kernel_id;
                log::info("MCP session's kernel started",
                          {{"session", session_id}, {"user", who.user}, {"kernel", s->kernel_id}});
            }
            else
            {
                log::warn(
                    "MCP session's kernel did not start",
                    {{"session", session_id}, {"user", who.user}, {"error", outcome.message}});
            }
            for (auto& waiter : waiters)
            {
                waiter({outcome.kernel_id, outcome.message, had_one});
            }
        });
}

} // namespace cellbox::gateway
