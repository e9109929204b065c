#include "streams/client_inbox.hpp"

#include "protocol/message_fields.hpp"

namespace cellbox::gateway
{

client_inbox::client_inbox(std::size_t limit) : m_limit(limit) {}

client_inbox::offer_result client_inbox::offer(const shared_message& message, clock::time_point now)
{
    const std::size_t bytes = message_bytes(*message);
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_open)
    {
        return {};
    }
    if (m_limit > 0 && m_pending_bytes + bytes > m_limit && not_reading(bytes, now))
    {
        m_open = false;
        m_overflowed = true;
        return {false, true};
    }
    const bool wake = m_messages.empty();
    m_pending_bytes += bytes;
    m_messages.push_back({message, now}); // a pointer, not a copy
    m_backlog->set(m_pending_bytes, m_backlog->oldest().value_or(now));
    return {true, wake};
}

bool client_inbox::not_reading(std::size_t bytes, clock::time_point now) const
{
    // A message that could never fit, or a client whose oldest unwritten message has waited
    // stall_grace: it is not keeping up. A client that writes out, but fell behind a burst
    // (the gateway itself was slowed, then read a kernel's queued output at once), catches
    // up; meanwhile the stream memory budget bounds what waits for it.
    const auto oldest = m_backlog->oldest();
    return bytes > m_limit || (oldest && now - *oldest >= stall_grace);
}

std::deque<client_inbox::entry> client_inbox::take()
{
    std::deque<entry> messages;
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_overflowed) // else close() hands them back for the replay
    {
        messages.swap(m_messages);
    }
    return messages;
}

bool client_inbox::overflowed() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_overflowed;
}

void client_inbox::written(std::size_t bytes, std::optional<clock::time_point> oldest)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_pending_bytes -= bytes;
    update_backlog(oldest);
}

std::vector<shared_message> client_inbox::close()
{
    std::vector<shared_message> undelivered;
    std::lock_guard<std::mutex> lock(m_mutex);
    m_open = false;
    for (auto& e : m_messages)
    {
        undelivered.push_back(std::move(e.message));
    }
    m_messages.clear();
    return undelivered;
}

std::size_t client_inbox::discard(std::size_t held, std::optional<clock::time_point> oldest)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const std::size_t waiting = m_pending_bytes;
    m_open = false;
    m_messages.clear();
    m_pending_bytes = held;
    update_backlog(oldest);
    return waiting;
}

void client_inbox::update_backlog(std::optional<clock::time_point> client_oldest)
{
    std::optional<clock::time_point> oldest = client_oldest;
    if (!oldest && !m_messages.empty())
    {
        oldest = m_messages.front().taken;
    }
    m_backlog->set(m_pending_bytes, oldest);
}

} // namespace cellbox::gateway
