#pragma once
// The sessions a pool has started and not handed out yet, each with the ZeroMQ connection that
// nudges its kernel until it answers (and then becomes the kernel's client, kernel_io::adopt).
// Shared by both kinds of pool: the zygote's forked sessions and prespawned sandbox launches.
//
// Lives on the server's io_context thread.
#include "backends/kernel_process.hpp"
#include "protocol/connection_info.hpp"
#include "streams/kernel_io.hpp"
#include "streams/stream_options.hpp"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

class child_output;

// A pooled session: its private directory (ipc dir, connection file with a fresh HMAC key,
// verdict file) and the pid that stands for it (signals: SIGINT interrupts, SIGTERM stops).
using pooled_session = process_place;

// A session handed out, with the pool's connection to it (subscribed, kernel_info answered).
struct taken_session
{
    pooled_session s;
    std::unique_ptr<kernel_io> client;
};

class pooled_sessions
{
public:
    // `kernelspec` names the pool in metrics.
    pooled_sessions(boost::asio::io_context& io, zmq::context_t& zmq, std::string kernelspec,
                    stream_options streams);

    // A new directory under `runtime_dir` for a session about to start.
    static pooled_session prepare(const std::string& runtime_dir);

    // A session just started (its pid known): probed until its kernel answers, then ready.
    void add(pooled_session s, std::chrono::steady_clock::time_point started);
    // The longest-ready session, no longer pooled; counts a pool hit or miss (unless
    // `counted` is false: a start that already counted its miss and waited for this one).
    std::optional<taken_session> take(bool counted = true);
    // A pooled session ended or is dropped: forgotten, its directory removed. False if it was
    // not in the pool.
    bool remove(pid_t pid);
    void remove_all();
    // A ready session taken out of the pool to be stopped (the pool shrinks): no longer handed
    // out nor counted; its directory is left to the caller until the session has exited.
    std::optional<pooled_session> release(pid_t pid);
    // The youngest ready session (the first to let go when shrinking), if any.
    std::optional<pid_t> youngest_ready() const;
    // A session's kernel answered: it is ready (the pool may start the next one).
    std::function<void()> on_ready;

    std::size_t size() const { return m_sessions.size(); }
    // How many have answered and wait to be taken.
    std::size_t ready_count() const;
    // Whether the pooled session `pid` has answered.
    bool is_ready(pid_t pid) const;
    std::vector<pid_t> pids() const;

private:
    struct entry
    {
        pooled_session s;
        std::unique_ptr<kernel_io> probe;
        bool ready = false;
        std::chrono::steady_clock::time_point started;
    };

    boost::asio::io_context& m_io;
    zmq::context_t& m_zmq;
    std::string m_kernelspec;
    stream_options m_streams;
    std::map<pid_t, entry> m_sessions;
};

} // namespace cellbox::gateway
