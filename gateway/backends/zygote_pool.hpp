#pragma once
// Instant sessions for one kernelspec: a zygote (`cellbox-kernel --zygote`, a warm interpreter
// that forks sandboxed kernel sessions) and a pool of sessions already forked and answering,
// handed to users with `go` (their /work and memory limit bound at that moment). See README,
// "Instant sessions".
//
// Lives on the server's io_context thread, like kernel_manager.
#include "backends/pool_sizer.hpp"
#include "backends/pooled_sessions.hpp"
#include "cellbox/contract/zygote.hpp"
#include "protocol/connection_info.hpp"
#include "streams/kernel_io.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

class child_output;

struct pool_options
{
    std::string kernel_program; // cellbox-kernel
    std::string warm_modules = "numpy,pandas,matplotlib";
    std::size_t size = 4;                    // ready sessions kept at least
    std::size_t max = 0;                     // kept at most after bursts (0 or size: a fixed pool)
    std::chrono::milliseconds window{60000}; // the starts that size the pool: this recent
    std::size_t parallel = 0;                // sessions starting at once (0: one per core)
    std::string runtime_dir;                 // sessions' private directories, the control socket
    std::uint64_t memory_bytes;      // cgroup limit of a pooled session (the server's default)
    std::uint64_t soft_memory_bytes; // the kernels' own limit (MemoryError), a little lower
    stream_options streams;          // of the pool's connections, handed over with the kernels
    // The uid of each new session: the gateway's, disjoint from other gateways' and from
    // other zygotes' (unset: the zygote picks from its policy's first_uid).
    std::function<std::uint32_t()> next_uid;
};

class zygote_pool
{
public:
    // A session forked by the zygote; its pid is its supervisor's.
    using session = pooled_session;
    using spawn_handler = std::function<void(std::optional<session>, std::string error)>;
    using go_handler = std::function<void(bool ok, std::string error)>;

    zygote_pool(boost::asio::io_context& io, zmq::context_t& zmq, std::string name,
                pool_options options);
    ~zygote_pool();

    zygote_pool(const zygote_pool&) = delete;
    zygote_pool& operator=(const zygote_pool&) = delete;

    // Launches the zygote; the pool fills once it is warm.
    void start();
    // A ready session with the pool's connection to it (subscribed, kernel_info answered:
    // the kernel's client from now on, see kernel_io::adopt), or nothing (the pool is empty or
    // the zygote still warming up).
    std::optional<taken_session> take();
    // After a miss: the next pooled session to answer, if one is starting that no other start
    // waits for (it is closer to ready than a cold fork, which would also compete with it for
    // the CPU). `done` gets it, or nothing if it died or the zygote went away (then fork cold).
    // False: none is coming, fork cold now.
    using wait_handler = std::function<void(std::optional<taken_session>)>;
    bool wait_for_starting(wait_handler done);
    // Forks a session straight away (the cold path), bound to `workdir` owned by `owner_uid`.
    void spawn(const std::string& workdir, std::uint32_t owner_uid, std::uint64_t memory_bytes,
               spawn_handler done);
    // A cold spawn's kernel answered (or gave up): refills wait for cold starts, which a user
    // is waiting for, rather than compete with them.
    void cold_start_finished(pid_t pid);
    // Binds a taken session to its user: /work and the memory limit.
    void go(pid_t pid, const contract::late_binding_request& binding, go_handler done);
    // Kills a session and everything in it (an exit event follows).
    void kill(pid_t pid);

    bool ready() const { return m_connection.has_value(); }
    // Sessions ready to hand out now, and how many the pool keeps.
    std::size_t ready_sessions() const { return m_pool.ready_count(); }
    // How many it keeps now (grown after a burst), at least, and at most.
    std::size_t target_size() const { return m_target; }
    std::size_t min_size() const { return m_options.size; }
    std::size_t max_size() const { return m_sizer.sizing().max; }
    // A session handed out ended (exit event, or the zygote died): its pid.
    std::function<void(pid_t)> on_session_exit;
    // SIGCHLD: true if `pid` was the zygote (it is restarted).
    bool on_child_exit(pid_t pid);
    // Server shutdown: every session and the zygote stop, nothing is left behind.
    void stop();

private:
    using answer_handler = std::function<void(const contract::zygote_answer&)>;

    void launch_zygote();
    void accept();
    void read();
    void handle(const contract::zygote_message& message);
    void request(contract::zygote_op op, answer_handler answer);
    void write_next(); // m_output's first line, then the others, in order
    // A spawn request for session `s`: its directory's files, the next session uid if the
    // gateway hands them out, and its output (give_output).
    contract::zygote_spawn spawn_request(session& s);
    void refill();
    void refill_soon();
    // Forks, in order: not when a refill waits for its moment (refill_soon) or a cold start.
    void refill_when_free();
    // Every tick: the target recomputed, the pool refilled or shrunk to it.
    void resize_every_tick();
    void shrink_to_target();
    std::size_t update_target();
    std::size_t starting() const { return m_spawning + m_pool.size() - m_pool.ready_count(); }
    // Sessions that answered go to the starts waiting for them, oldest first.
    void serve_waiters();
    // Starts waiting for more sessions than are starting (one died): they fork cold.
    void release_excess_waiters();
    void wait_to_refill(std::chrono::milliseconds delay,
                        std::chrono::steady_clock::time_point give_up);
    void zygote_lost(const std::string& why);
    void give_output(session& s, contract::zygote_spawn& request);
    void session_started(session& s);
    void session_ended(pid_t pid);
    void abandon(session& s);

    boost::asio::io_context& m_io;
    zmq::context_t& m_zmq;
    std::string m_name;
    pool_options m_options;
    std::string m_socket_path;
    pid_t m_zygote = -1;
    bool m_stopping = false;
    std::optional<boost::asio::local::stream_protocol::acceptor> m_acceptor;
    std::optional<boost::asio::local::stream_protocol::socket> m_connection;
    boost::asio::streambuf m_input;
    std::deque<std::string> m_output;
    std::uint64_t m_next_request = 1;
    std::map<std::uint64_t, answer_handler> m_answers;
    pooled_sessions m_pool; // forked, not handed out yet
    pool_sizer m_sizer;
    std::size_t m_target;
    // Sessions let go as the pool shrank, until their exit: their directories.
    std::map<pid_t, std::string> m_retiring;
    std::deque<wait_handler> m_waiters; // starts waiting for a starting session
    boost::asio::steady_timer m_resize_timer;
    std::vector<pid_t> m_handed_out; // given to kernels: their exits go to on_session_exit
    std::size_t m_spawning = 0;      // pool spawns not answered yet
    boost::asio::steady_timer m_restart_timer;
    boost::asio::steady_timer m_refill_timer;
    bool m_refill_pending = false;
    std::set<pid_t> m_cold_starting; // cold spawns whose kernel has not answered yet
    std::chrono::steady_clock::time_point m_last_take;
    std::chrono::seconds m_restart_delay{1};
    // Forked sessions' outputs, by pid: the gateway holds a write end of each until the
    // session's exit (child_output::fifo).
    std::map<pid_t, std::shared_ptr<child_output>> m_outputs;
};

} // namespace cellbox::gateway
