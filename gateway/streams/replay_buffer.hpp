#pragma once

#include "protocol/kernel_message.hpp"

#include <cstddef>
#include <deque>
#include <vector>

namespace cellbox::gateway
{

// Messages kept for a client session while none of its WebSockets is connected, replayed in
// order when one reconnects. Bounded in count and bytes: the oldest go first, since a client
// coming back cares most about how its cells ended. The messages are shared with the other
// sessions' buffers and outboxes; the bounds count them in full, as this session sees them
// (the gateway-wide stream_budget counts each once).
class replay_buffer
{
public:
    replay_buffer(std::size_t max_messages, std::size_t max_bytes);

    // Appends `message`; returns how many old messages were dropped to make room.
    std::size_t push(shared_message message);
    // Puts `older` (in order) before everything held; returns how many were dropped.
    std::size_t push_front(std::vector<shared_message> older);
    std::deque<shared_message> take();

    std::size_t size() const { return m_messages.size(); }
    std::size_t bytes() const { return m_bytes; }
    bool empty() const { return m_messages.empty(); }

private:
    std::size_t trim();

    std::size_t m_max_messages;
    std::size_t m_max_bytes;
    std::deque<shared_message> m_messages;
    std::size_t m_bytes = 0;
};

} // namespace cellbox::gateway
