#pragma once
// One client session of a kernel_io: its sockets, its live connections, and what it keeps for
// its reconnect while it has none (kernel_io.cpp drives it).
#include "streams/kernel_io.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

// Usually one connection; a page reload may overlap the old and the new.
struct kernel_io::session
{
    using time_point = std::chrono::steady_clock::time_point;
    // Asks the session's kernel_io to drop the buffer kept since the orphaning `generation`.
    using evict_fn = std::function<void(const std::string& id, std::uint64_t generation)>;

    session(std::string session_id, const stream_options& options);

    // No connection is live since `since`: messages are kept until since + replay_timeout (if
    // replay is on), under the stream budget, which may call `evict` from any thread (it must
    // only post to the kernel_io's thread).
    void orphan(time_point since, const evict_fn& evict);
    // A connection is live again: what was kept, oldest first; nothing is kept any more.
    std::deque<shared_message> reclaim();
    // For the reconnect; logs when the buffer's bounds drop old messages.
    void keep(const shared_message& message);
    // Messages older than everything kept (a closing connection had taken them).
    void keep_older(std::vector<shared_message> older);

    // While orphaned: the buffer's place in the stream budget. First, so that it goes last:
    // withdrawing lets the budget ask the next holder, once this one's messages are gone.
    stream_budget::enrollment budget_place;
    const stream_options& options; // the kernel_io's, which outlives its sessions
    std::string id;
    zmq::socket_t shell, control, stdin_;
    std::array<io_thread::token, 3> watches{}; // of shell, control, stdin on the I/O thread
    std::map<std::uint64_t, deliver_fn> connections;
    replay_buffer buffer;
    std::optional<time_point> expires; // set while no connection is live
    std::size_t dropped = 0;           // from the buffer, for the log
    // What the buffer holds, for the stream budget, and which orphaning budget_place is for.
    std::shared_ptr<stream_budget::waiting> backlog = std::make_shared<stream_budget::waiting>();
    std::uint64_t generation = 0;

private:
    void count_dropped(std::size_t dropped_now);
};

} // namespace cellbox::gateway
