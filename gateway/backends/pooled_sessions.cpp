#include "backends/pooled_sessions.hpp"

#include "telemetry/metrics.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <filesystem>

namespace cellbox::gateway
{

pooled_sessions::pooled_sessions(boost::asio::io_context& io, zmq::context_t& zmq,
                                 std::string kernelspec, stream_options streams)
    : m_io(io), m_zmq(zmq), m_kernelspec(std::move(kernelspec)), m_streams(std::move(streams))
{
}

pooled_session pooled_sessions::prepare(const std::string& runtime_dir)
{
    pooled_session s;
    s.directory = runtime_dir + "/session-" + random_hex(12);
    s.connection = prepare_kernel_directory(s.directory); // its own fresh HMAC key
    return s;
}

void pooled_sessions::add(pooled_session s, std::chrono::steady_clock::time_point started)
{
    const pid_t pid = s.pid;
    kernel_io::callbacks events;
    events.on_ready = [this, pid, started]
    {
        boost::asio::post(
            m_io,
            [this, pid, started]
            {
                if (auto it = m_sessions.find(pid); it != m_sessions.end())
                {
                    it->second.ready = true;
                    metric::pool_fork_to_ready(
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                            .count());
                    metric::pool_size(m_kernelspec, ready_count());
                    if (on_ready)
                    {
                        on_ready();
                    }
                }
            });
    };
    auto probe = std::make_unique<kernel_io>(m_zmq, s.connection, std::move(events), m_streams);
    m_sessions.emplace(pid, entry{std::move(s), std::move(probe), false, started});
}

std::optional<taken_session> pooled_sessions::take(bool counted)
{
    auto best = m_sessions.end();
    for (auto it = m_sessions.begin(); it != m_sessions.end(); ++it)
    {
        if (it->second.ready &&
            (best == m_sessions.end() || it->second.started < best->second.started))
        {
            best = it;
        }
    }
    if (best == m_sessions.end())
    {
        if (counted)
        {
            metric::pool_take(false);
        }
        return std::nullopt;
    }
    taken_session claimed{best->second.s, std::move(best->second.probe)};
    m_sessions.erase(best);
    if (counted)
    {
        metric::pool_take(true);
    }
    metric::pool_size(m_kernelspec, ready_count());
    return claimed;
}

bool pooled_sessions::remove(pid_t pid)
{
    const auto it = m_sessions.find(pid);
    if (it == m_sessions.end())
    {
        return false;
    }
    std::error_code ignored;
    std::filesystem::remove_all(it->second.s.directory, ignored);
    m_sessions.erase(it);
    metric::pool_size(m_kernelspec, ready_count());
    return true;
}

std::optional<pooled_session> pooled_sessions::release(pid_t pid)
{
    const auto it = m_sessions.find(pid);
    if (it == m_sessions.end() || !it->second.ready)
    {
        return std::nullopt;
    }
    pooled_session s = std::move(it->second.s);
    m_sessions.erase(it);
    metric::pool_size(m_kernelspec, ready_count());
    return s;
}

std::optional<pid_t> pooled_sessions::youngest_ready() const
{
    std::optional<pid_t> youngest;
    std::chrono::steady_clock::time_point started{};
    for (const auto& [pid, e] : m_sessions)
    {
        if (e.ready && (!youngest || e.started > started))
        {
            youngest = pid;
            started = e.started;
        }
    }
    return youngest;
}

void pooled_sessions::remove_all()
{
    for (const pid_t pid : pids())
    {
        remove(pid);
    }
    metric::pool_size(m_kernelspec, 0);
}

std::vector<pid_t> pooled_sessions::pids() const
{
    std::vector<pid_t> all;
    for (const auto& [pid, session] : m_sessions)
    {
        all.push_back(pid);
    }
    return all;
}

bool pooled_sessions::is_ready(pid_t pid) const
{
    const auto it = m_sessions.find(pid);
    return it != m_sessions.end() && it->second.ready;
}

std::size_t pooled_sessions::ready_count() const
{
    return static_cast<std::size_t>(std::count_if(m_sessions.begin(), m_sessions.end(),
                                                  [](const auto& p) { return p.second.ready; }));
}

} // namespace cellbox::gateway
