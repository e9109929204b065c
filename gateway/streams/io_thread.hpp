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

    io_thread();
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
    bool on_this_thread() const { return std::this_thread::get_id() == m_thread.get_id(); }

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
    std::thread m_thread;
};

// The process's I/O threads, made on first use: `count` of them (0: one per core).
class io_threads
{
public:
    static io_threads& shared(std::size_t count);
    explicit io_threads(std::size_t count);

    // The least busy thread, for a new client; give it back with release().
    io_thread& acquire();
    void release(io_thread& thread);
    std::size_t size() const { return m_threads.size(); }

private:
    std::mutex m_mutex;
    std::vector<std::unique_ptr<io_thread>> m_threads;
};

} // namespace cellbox::gateway
