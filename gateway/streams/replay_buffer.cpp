#include "streams/replay_buffer.hpp"

#include "protocol/message_fields.hpp"

namespace cellbox::gateway
{

replay_buffer::replay_buffer(std::size_t max_messages, std::size_t max_bytes)
    : m_max_messages(max_messages), m_max_bytes(max_bytes)
{
}

std::size_t replay_buffer::push(shared_message message)
{
    m_bytes += message_bytes(*message);
    m_messages.push_back(std::move(message));
    return trim();
}

std::size_t replay_buffer::push_front(std::vector<shared_message> older)
{
    for (auto it = older.rbegin(); it != older.rend(); ++it)
    {
        m_bytes += message_bytes(**it);
        m_messages.push_front(std::move(*it));
    }
    return trim();
}

std::deque<shared_message> replay_buffer::take()
{
    m_bytes = 0;
    return std::exchange(m_messages, {});
}

std::size_t replay_buffer::trim()
{
    std::size_t dropped = 0;
    while (!m_messages.empty() && (m_messages.size() > m_max_messages || m_bytes > m_max_bytes))
    {
        m_bytes -= message_bytes(*m_messages.front());
        m_messages.pop_front();
        ++dropped;
    }
    return dropped;
}

} // namespace cellbox::gateway
