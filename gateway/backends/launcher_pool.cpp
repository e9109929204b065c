#include "backends/launcher_pool.hpp"

#include "backends/child_output.hpp"
#include "backends/child_process.hpp"
#include "backends/process_shutdown.hpp"
#include "cellbox/bounded_json.hpp"
#include "cellbox/contract/late_binding.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/socket.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace cellbox::gateway
{
namespace
{

// Replacements wait a little after a take: at once, they would compete for the CPU with the
// session just handed out, whose first cell a user is waiting for.
constexpr std::chrono::milliseconds refill_delay{100};
constexpr std::chrono::milliseconds longest_failure_delay{60000};
constexpr int max_bind_failures = 3; // in a row
// Launches starting at once when the pool grows; a fixed pool's first fill is not limited.
constexpr std::size_t parallel_launches = 2;

} // namespace

launcher_pool::launcher_pool(boost::asio::io_context& io, zmq::context_t& zmq, std::string name,
                             pool_sizing sizing, std::string runtime_dir, stream_options streams,
                             command_fn command)
    : m_io(io), m_name(std::move(name)), m_sizer(sizing), m_target(m_sizer.sizing().min),
      m_runtime_dir(std::move(runtime_dir)), m_command(std::move(command)),
      m_pool(io, zmq, m_name, std::move(streams)), m_refill_timer(io), m_resize_timer(io)
{
    m_pool.on_ready = [this] { refill(); }; // a starting slot is free
    metric::pool_target(m_name, m_target);
}

launcher_pool::~launcher_pool()
{
    stop();
}

void launcher_pool::start()
{
    log::info("launch pool starting", {{"kernelspec", m_name},
                                       {"pool_size", m_sizer.sizing().min},
                                       {"pool_max", m_sizer.sizing().max}});
    refill();
    if (m_sizer.adaptive())
    {
        resize_every_tick();
    }
}

std::size_t launcher_pool::update_target()
{
    const std::size_t target =
        m_sizer.target(std::chrono::steady_clock::now(), m_pool.size(), available_memory_bytes());
    if (target != m_target)
    {
        log::info("pool target", {{"kernelspec", m_name}, {"from", m_target}, {"to", target}});
        m_target = target;
        metric::pool_target(m_name, target);
    }
    return target;
}

void launcher_pool::refill()
{
    const std::size_t target = update_target();
    const auto starting = [this] { return m_pool.size() - m_pool.ready_count(); };
    while (!m_stopping && !m_disabled && m_pool.size() < target &&
           (m_pool.size() < m_sizer.sizing().min || starting() < parallel_launches))
    {
        pooled_session s = pooled_sessions::prepare(m_runtime_dir);
        unique_fd ours;
        try
        {
            int fds[2];
            if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
            {
                throw std::system_error(errno, std::generic_category(), "socketpair");
            }
            ours.reset(fds[0]);
            const unique_fd theirs(fds[1]);
            contract::sandbox_invocation sandbox = m_command(s);
            sandbox.late_binding_fd = 3; // spawn_logged's pass_fd
            logged_child child = spawn_logged(m_io, sandbox.to_argv(), "a pooled kernel's launcher",
                                              {"kernel", m_name, ""}, theirs.get());
            s.pid = child.pid;
            s.output = std::move(child.output);
        }
        catch (const std::exception& e)
        {
            log::error("cannot prespawn a kernel", {{"kernelspec", m_name}, {"error", e.what()}});
            std::error_code ignored;
            std::filesystem::remove_all(s.directory, ignored);
            refill_after(std::max(m_failure_delay, std::chrono::milliseconds(1000)));
            return;
        }
        m_links.emplace(s.pid, std::move(ours));
        m_pool.add(std::move(s), std::chrono::steady_clock::now());
    }
}

void launcher_pool::shrink_to_target()
{
    while (m_pool.size() > update_target())
    {
        const auto pid = m_pool.youngest_ready();
        if (!pid)
        {
            return; // only starting ones: let go when they answer, at a later tick
        }
        auto s = m_pool.release(*pid);
        m_retiring[*pid] = s->directory;
        m_links.erase(*pid); // end-of-file: the launcher ends its sandbox and exits
    }
}

void launcher_pool::resize_every_tick()
{
    m_resize_timer.expires_after(m_sizer.resize_interval());
    m_resize_timer.async_wait(
        [this](const boost::system::error_code& error)
        {
            if (error || m_stopping)
            {
                return;
            }
            if (!m_disabled)
            {
                shrink_to_target();
                refill();
            }
            resize_every_tick();
        });
}

void launcher_pool::refill_after(std::chrono::milliseconds delay)
{
    if (m_refill_pending || m_stopping)
    {
        return;
    }
    m_refill_pending = true;
    m_refill_timer.expires_after(delay);
    m_refill_timer.async_wait(
        [this](const boost::system::error_code& error)
        {
            if (error)
            {
                return; // cancelled: the pool is stopping
            }
            m_refill_pending = false;
            refill();
        });
}

std::optional<launcher_pool::taken> launcher_pool::take()
{
    if (m_disabled)
    {
        return std::nullopt;
    }
    m_sizer.started(std::chrono::steady_clock::now());
    auto claimed = m_pool.take();
    if (!claimed)
    {
        return std::nullopt;
    }
    m_failure_delay = std::chrono::milliseconds(0);
    const pid_t pid = claimed->s.pid;
    taken t{std::move(*claimed), std::move(m_links[pid])};
    m_links.erase(pid);
    refill_after(refill_delay);
    return t;
}

void launcher_pool::go(int link, const contract::late_binding_request& binding, go_handler done)
{
    done = [this, inner = std::move(done)](bool ok, std::string error)
    {
        bind_finished(ok, error);
        inner(ok, std::move(error));
    };
    const std::string request = contract::encode(binding);
    const ssize_t sent = send(link, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    const int watched =
        sent == static_cast<ssize_t>(request.size()) ? fcntl(link, F_DUPFD_CLOEXEC, 0) : -1;
    if (watched < 0)
    {
        const std::string why =
            std::string("cannot reach the kernel's launcher: ") + std::strerror(errno);
        boost::asio::post(m_io, [done, why] { done(false, why); });
        return;
    }
    // The launcher answers with one record; a descriptor of our own to wait on, so the link
    // itself stays with the kernel.
    auto reply = std::make_shared<boost::asio::posix::stream_descriptor>(m_io, watched);
    reply->async_wait(
        boost::asio::posix::stream_descriptor::wait_read,
        [reply, done](const boost::system::error_code& error)
        {
            char buffer[4096];
            const ssize_t n =
                error ? -1 : recv(reply->native_handle(), buffer, sizeof buffer, MSG_DONTWAIT);
            if (n <= 0)
            {
                done(false, "the kernel's launcher ended before it answered");
                return;
            }
            const auto answer = contract::decode_late_binding_answer(
                std::string_view(buffer, static_cast<std::size_t>(n)));
            if (!answer)
            {
                done(false, "the kernel's launcher sent a malformed answer: " + answer.error());
                return;
            }
            done(answer->ok, answer->error);
        });
}

void launcher_pool::bind_finished(bool ok, const std::string& error)
{
    if (ok)
    {
        m_bind_failures = 0;
        return;
    }
    // Binding needs a memory cgroup and idmapped mounts on the work directory's filesystem:
    // where a machine lacks them every take would fail, kill a kernel and launch another.
    if (++m_bind_failures >= max_bind_failures && !m_disabled)
    {
        m_disabled = true;
        log::error("prespawned kernels cannot be bound to their users here; launching on "
                   "demand from now on",
                   {{"kernelspec", m_name}, {"error", error}, {"failures", m_bind_failures}});
        for (const pid_t pid : m_pool.pids())
        {
            m_links.erase(pid); // end-of-file: the launcher ends its sandbox and exits
        }
    }
}

bool launcher_pool::on_child_exit(pid_t pid)
{
    if (const auto retired = m_retiring.find(pid); retired != m_retiring.end())
    {
        std::error_code ignored;
        std::filesystem::remove_all(retired->second, ignored);
        m_retiring.erase(retired);
        return true;
    }
    const bool answered = m_pool.is_ready(pid);
    if (!m_pool.remove(pid))
    {
        return false;
    }
    m_links.erase(pid);
    if (m_stopping || m_disabled)
    {
        return true;
    }
    if (!answered)
    {
        m_failure_delay = std::min(std::max(m_failure_delay * 2, std::chrono::milliseconds(1000)),
                                   longest_failure_delay);
    }
    log::warn("pooled kernel ended before use",
              {{"kernelspec", m_name},
               {"pid", pid},
               {"answered", answered},
               {"replaced_in_ms", answered ? 0 : m_failure_delay.count()}});
    if (answered)
    {
        refill();
    }
    else
    {
        refill_after(m_failure_delay);
    }
    return true;
}

void launcher_pool::stop()
{
    if (m_stopping)
    {
        return;
    }
    m_stopping = true;
    m_refill_timer.cancel();
    m_resize_timer.cancel();
    std::vector<pid_t> pids = m_pool.pids();
    for (const pid_t pid : pids)
    {
        ::kill(pid, SIGTERM); // the launcher stops its sandbox and removes its cgroups
    }
    for (const auto& [pid, directory] : m_retiring)
    {
        pids.push_back(pid); // already told (their links closed): waited for like the others
    }
    for (const pid_t pid :
         kill_when_late(pids, child_reaped, std::chrono::steady_clock::now() + shutdown_grace,
                        "a pooled launcher"))
    {
        waitpid(pid, nullptr, 0);
    }
    m_links.clear();
    m_pool.remove_all();
    for (const auto& [pid, directory] : std::exchange(m_retiring, {}))
    {
        std::error_code ignored;
        std::filesystem::remove_all(directory, ignored);
    }
}

} // namespace cellbox::gateway
