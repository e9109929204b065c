#include "streams/kernel_client.hpp"

#include <atomic>

namespace cellbox::gateway
{

std::uint64_t next_connection_id()
{
    static std::atomic<std::uint64_t> next{1};
    return next++;
}

kernel_client::kernel_client(std::string user, std::string session_id, std::size_t inbox_limit)
    : m_user(std::move(user)), m_connection(next_connection_id()),
      m_session_id(session_id.empty() ? "cellbox-" + std::to_string(m_connection)
                                      : std::move(session_id)),
      m_inbox(std::make_shared<client_inbox>(inbox_limit))
{
}

kernel_io::deliver_fn kernel_client::deliverer(std::function<void()> wake) const
{
    return [box = m_inbox, wake = std::move(wake)](const shared_message& message)
    {
        const auto result = box->offer(message);
        if (result.wake)
        {
            wake();
        }
        return result.taken;
    };
}

} // namespace cellbox::gateway
