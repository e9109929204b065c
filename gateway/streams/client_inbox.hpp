#pragma once
// Messages from a kernel's I/O thread on their way to one client (a WebSocket now; a streamed
// HTTP execution or an MCP session next), bounded in bytes. The I/O thread never waits for a
// client: a client that stops reading fills its inbox and is dropped, and what it had not
// read goes to its session's replay buffer instead of being lost.
#include "protocol/kernel_message.hpp"
#include "streams/stream_budget.hpp"

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace cellbox::gateway
{

class client_inbox
{
public:
    using clock = std::chrono::steady_clock;
    struct entry
    {
        shared_message message;
        clock::time_point taken;
    };
    struct offer_result
    {
        bool taken = false;
        // The client must look: the first message since it last took them, or the overflow
        // (the client is to be dropped).
        bool wake = false;
    };

    // How long the oldest message past the limit may wait before the client counts as not
    // reading.
    static constexpr std::chrono::seconds stall_grace{1};

    // `limit`: bytes taken but not yet written out by the client (0: no limit) past which it
    // is dropped, once its oldest message has also waited stall_grace.
    explicit client_inbox(std::size_t limit);

    // On the kernel's I/O thread. Refused once closed (or overflowed): the caller keeps the
    // message for the session's replay.
    offer_result offer(const shared_message& message, clock::time_point now = clock::now());

    // The rest on the client's own executor.
    // What waits, oldest first; nothing once overflowed (the client is to be dropped, and
    // close() hands the messages back for the replay).
    std::deque<entry> take();
    bool overflowed() const;
    // `bytes` of what take() gave have been written out (or thrown away); `oldest`: when the
    // oldest message the client still holds was taken (none: it holds none).
    void written(std::size_t bytes, std::optional<clock::time_point> oldest);
    // Stops taking; returns what was taken but not yet taken out, oldest first, for the
    // session's next connection.
    std::vector<shared_message> close();
    // Stops taking and forgets what waits (memory is what is short); the client still holds
    // `held` bytes, the oldest taken at `oldest`. Returns the bytes that were waiting.
    std::size_t discard(std::size_t held, std::optional<clock::time_point> oldest);

    // What waits here and in the client, and since when, for the stream budget (which
    // looks for the slowest client).
    const std::shared_ptr<stream_budget::waiting>& backlog() const { return m_backlog; }

private:
    // Under the mutex.
    void update_backlog(std::optional<clock::time_point> client_oldest);
    bool not_reading(std::size_t bytes, clock::time_point now) const;

    const std::size_t m_limit;
    mutable std::mutex m_mutex;
    bool m_open = true;
    bool m_overflowed = false;
    std::deque<entry> m_messages;
    // Bytes taken but not yet written out (here and in the client): a client that does not
    // read makes this grow, and is dropped at the limit.
    std::size_t m_pending_bytes = 0;
    std::shared_ptr<stream_budget::waiting> m_backlog = std::make_shared<stream_budget::waiting>();
};

} // namespace cellbox::gateway
