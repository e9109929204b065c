#pragma once
// The few threads that carry every kernel's ZeroMQ traffic. A thread per kernel (up to 1024)
// made context switching the gateway's largest cost under load, and each of them rebuilt its
// poll list on every wakeup; here one epoll set per thread holds the sockets' ZMQ_FDs and
// changes only when a socket is added or removed. A client (one kernel's kernel_io) stays on
// one thread for its whole life, so what it posts is applied in order and its sockets are
// only ever used by that thread (ZeroMQ sockets are not thread-safe).
#include "cellbox/unique_fd.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

class io_thread
{
public:
    using clock = std::chrono::steady_clock;
    using client_id = std::uint64_t;
    using token = std::uint64_t; // one watched socket

    struct client_hooks
    {
        // The time given to schedule() has come.
        std::function<void()> on_timer;
        // The client's work threw (ZeroMQ refused a socket: out of descriptors); it has left.
        std::function<void(const std::string& reason)> on_failure;
    };

    // `own_thread` false: no thread of its own; whoever owns the caller's event loop drives it
    // (io_thread_driver), so that the kernels' messages reach the thread that writes to the
    // clients without a hand-off between threads.
    explicit io_thread(bool own_thread = true);
    ~io_thread(); // every client has left
    io_thread(const io_thread&) = delete;
    io_thread& operator=(const io_thread&) = delete;

    // Any thread. Runs `work` here after everything posted before it; dropped once `client`
    // has left (or before it joined).
    void post(client_id client, std::function<void()> work);
    // Any thread. Runs `work` here after everything posted before it, whoever has left.
    void post_always(std::function<void()> work);
    // Any thread. `client` joins with `hooks` and runs `first` here, after everything posted
    // before; if `first` throws, the client fails.
    void start(client_id client, client_hooks hooks, std::function<void()> first);
    bool on_this_thread() const { return std::this_thread::get_id() == m_owner.load(); }

    // For a driver (no thread of its own). The thread that calls poll() from now on.
    void claim_current_thread() { m_owner = std::this_thread::get_id(); }
    // Readable when poll() has work: a socket's message, posted work.
    int wait_fd() const { return m_epoll.get(); }
    // One pass without waiting: due timers, ready sockets, posted work. Returns true when
    // more is ready already (call again soon, after letting others run).
    bool poll();
    // When poll() must run next for a timer, if one is set.
    std::optional<clock::time_point> next_timer() const;

    // Clients served (for choosing the least busy thread); changed by the pool.
    std::atomic<std::size_t> load{0};

    // The rest only on this thread.
    // Unwatches the client's sockets and drops its later work; it never comes back.
    void leave(client_id client);
    // `on_input` runs when the socket has a message (it takes one; it runs again while more
    // wait). Lower `rank` runs first among sockets ready at once.
    token watch(client_id client, zmq::socket_t& socket, int rank, std::function<void()> on_input);
    void unwatch(token watched);
    // After sending on a watched socket: the send may have consumed the readiness signal.
    void recheck(token watched);
    void schedule(client_id client, std::optional<clock::time_point> when);

private:
    struct watched_socket
    {
        token id;
        client_id client;
        zmq::socket_ref socket;
        int fd;
        int rank;
        std::function<void()> on_input;
        bool hot = false; // in m_hot
    };
    struct client
    {
        client_hooks hooks;
        std::set<token> sockets;
        std::optional<clock::time_point> deadline;
    };
    struct job
    {
        client_id client; // 0: always runs
        std::function<void()> work;
    };

    void enqueue(job j);
    void run();
    // One pass: serves due timers, then waits for readiness (if `wait`: until the next timer),
    // then serves it. True when more is ready already.
    bool pass(bool wait);
    void run_jobs();
    void run_timers();
    void serve_ready();
    int timeout_ms() const;
    void mark_hot(token watched);
    // Runs `work` for `id`; if it throws, the client fails and leaves.
    void guarded(client_id id, const std::function<void()>& work);

    unique_fd m_epoll;
    unique_fd m_wake; // eventfd: jobs are waiting
    std::mutex m_mutex;
    std::deque<job> m_jobs;

    // Owned by the thread.
    bool m_stopping = false;
    token m_next_token = 1; // 0 is the wake eventfd
    std::unordered_map<client_id, client> m_clients;
    std::unordered_map<token, std::shared_ptr<watched_socket>> m_sockets;
    std::vector<token> m_hot; // may have a message waiting
    std::set<std::pair<clock::time_point, client_id>> m_timers;
    std::atomic<std::thread::id> m_owner;
    std::thread m_thread; // none when a driver runs it
};

// The process's I/O threads, made on first use: `count` of them (0: one per core), or one
// driven by the caller's event loop.
class io_threads
{
public:
    // The first call decides: `count` threads of their own, unless driven() came first.
    static io_threads& shared(std::size_t count);
    // One io_thread without a thread, for the caller's event loop to drive (io_thread_driver);
    // call before any kernel_io exists. Later shared() calls return it whatever their count.
    static io_threads& driven();
    io_threads(std::size_t count, bool own_threads);

    // The least busy thread, for a new client; give it back with release().
    io_thread& acquire();
    void release(io_thread& thread);
    std::size_t size() const { return m_threads.size(); }
    io_thread& first() { return *m_threads.front(); }

private:
    static io_threads& instance(std::size_t count, bool own_threads);

    std::mutex m_mutex;
    std::vector<std::unique_ptr<io_thread>> m_threads;
};

} // namespace cellbox::gateway
