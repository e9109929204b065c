#pragma once
// Prespawned kernels for kernelspecs without a zygote (ipykernel, or any other program): each
// is a cellbox-sandbox launch made ahead of time, with no /work yet, a uid of its own and the
// server's memory limit. The launcher keeps one end of a socket pair (--late-binding-fd);
// taking a kernel binds it to its user over that link: their directory mounted at /work
// (idmapped, the kernel's working directory follows it) and their memory limit. The kernel
// itself is never told. See README, "Instant sessions".
//
// Sized as the zygote pool is (pool_sizer): launch_pool_size always, up to launch_pool_max
// after bursts of takes, within free memory, back down once pool_window passes without takes.
//
// Lives on the server's io_context thread, like kernel_manager.
#include "backends/pool_sizer.hpp"
#include "backends/pooled_sessions.hpp"
#include "cellbox/contract/late_binding.hpp"
#include "cellbox/contract/sandbox_invocation.hpp"
#include "cellbox/unique_fd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

class launcher_pool
{
public:
    // The launcher's command for a pooled session (its directory is made): everything but
    // the late-binding link, which the pool adds (as fd 3).
    using command_fn = std::function<contract::sandbox_invocation(const pooled_session&)>;
    using go_handler = std::function<void(bool ok, std::string error)>;

    struct taken
    {
        taken_session session;
        unique_fd link; // the launcher's late-binding socket; closing it ends the session
    };

    launcher_pool(boost::asio::io_context& io, zmq::context_t& zmq, std::string name,
                  pool_sizing sizing, std::string runtime_dir, stream_options streams,
                  command_fn command);
    ~launcher_pool();

    launcher_pool(const launcher_pool&) = delete;
    launcher_pool& operator=(const launcher_pool&) = delete;

    // Launches the first sessions.
    void start();
    // A ready session, or nothing (the caller launches one the ordinary way). Replacements
    // start a little later.
    std::optional<taken> take();
    // Binds a taken session to its user over `link`: /work and the memory limit.
    void go(int link, const contract::late_binding_request& binding, go_handler done);
    // Kernels ready to hand out now, and how many the pool keeps: at least, now, at most (0
    // once it gave up).
    std::size_t ready_sessions() const { return m_pool.ready_count(); }
    std::size_t min_size() const { return m_disabled ? 0 : m_sizer.sizing().min; }
    std::size_t target_size() const { return m_disabled ? 0 : m_target; }
    std::size_t max_size() const { return m_disabled ? 0 : m_sizer.sizing().max; }
    // SIGCHLD: true if `pid` was a pooled session (forgotten and replaced).
    bool on_child_exit(pid_t pid);
    // Server shutdown: every pooled session stops; nothing is left behind.
    void stop();

private:
    // Launches until the pool holds its target, at most `parallel_launches` starting at once
    // (the rest follow as they answer: each start takes a core for a while).
    void refill();
    void refill_after(std::chrono::milliseconds delay);
    std::size_t update_target();
    // Ready sessions beyond the target are ended, youngest first.
    void shrink_to_target();
    void resize_every_tick();
    // After each take's binding: a pool whose kernels can never be bound stops.
    void bind_finished(bool ok, const std::string& error);

    boost::asio::io_context& m_io;
    std::string m_name;
    pool_sizer m_sizer;
    std::size_t m_target;
    std::string m_runtime_dir;
    command_fn m_command;
    pooled_sessions m_pool;
    std::map<pid_t, unique_fd> m_links; // of the pooled sessions
    // Sessions let go when the pool shrank, until their launchers exit: their directories.
    std::map<pid_t, std::string> m_retiring;
    boost::asio::steady_timer m_refill_timer;
    boost::asio::steady_timer m_resize_timer;
    bool m_refill_pending = false;
    bool m_stopping = false;
    // Sessions that die before they answer (a broken kernelspec) are replaced ever more slowly.
    std::chrono::milliseconds m_failure_delay{0};
    int m_bind_failures = 0; // in a row
    bool m_disabled = false;
};

} // namespace cellbox::gateway
