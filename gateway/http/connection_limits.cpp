#include "http/connection_limits.hpp"

#include "telemetry/log.hpp"

#include <sys/resource.h>

namespace cellbox::gateway
{
namespace
{

// A flood is refused thousands of times a second: one log line per interval says how many.
constexpr std::chrono::seconds refusal_log_interval{10};

} // namespace

connection_slot::connection_slot(std::shared_ptr<connection_limits> owner, std::string client)
    : m_owner(std::move(owner)), m_client(std::move(client))
{
}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept
{
    if (this != &other)
    {
        release();
        m_owner = std::move(other.m_owner);
        m_client = std::move(other.m_client);
    }
    return *this;
}

connection_slot::~connection_slot()
{
    release();
}

void connection_slot::release()
{
    if (m_owner)
    {
        m_owner->release(m_client);
        m_owner.reset();
    }
}

std::shared_ptr<connection_limits> connection_limits::create(std::size_t total,
                                                             std::size_t per_client)
{
    return std::shared_ptr<connection_limits>(new connection_limits(total, per_client));
}

connection_limits::connection_limits(std::size_t total, std::size_t per_client)
    : m_max_total(total), m_max_per_client(per_client)
{
}

std::string connection_limits::client_of(const boost::asio::ip::address& address)
{
    if (address.is_v4())
    {
        return address.to_string();
    }
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped())
    {
        return v6.to_v4().to_string();
    }
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

std::optional<connection_slot> connection_limits::admit(const boost::asio::ip::address& address)
{
    std::string client = client_of(address);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto it = m_per_client.find(client);
        const std::size_t of_client = it == m_per_client.end() ? 0 : it->second;
        const char* over = nullptr;
        if (m_max_total > 0 && m_total >= m_max_total)
        {
            over = "max_connections";
        }
        else if (m_max_per_client > 0 && of_client >= m_max_per_client)
        {
            over = "max_connections_per_ip";
        }
        if (over == nullptr)
        {
            ++m_total;
            ++m_per_client[client];
            return connection_slot(shared_from_this(), std::move(client));
        }
        refused(client, over, of_client);
    }
    return std::nullopt;
}

// Under m_mutex.
void connection_limits::refused(const std::string& client, const char* limit, std::size_t of_client)
{
    ++m_refused_unlogged;
    const auto now = std::chrono::steady_clock::now();
    if (m_last_log && now - *m_last_log < refusal_log_interval)
    {
        return;
    }
    m_last_log = now;
    log::warn("connections refused: over a connection limit", {{"limit", limit},
                                                               {"client", client},
                                                               {"refused", m_refused_unlogged},
                                                               {"connections", m_total},
                                                               {"of_client", of_client}});
    m_refused_unlogged = 0;
}

void connection_limits::release(const std::string& client)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    --m_total;
    const auto it = m_per_client.find(client);
    if (it != m_per_client.end() && --it->second == 0)
    {
        m_per_client.erase(it);
    }
}

std::size_t connection_limits::total() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_total;
}

std::size_t connection_limits::of(const std::string& client) const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    const auto it = m_per_client.find(client);
    return it == m_per_client.end() ? 0 : it->second;
}

std::size_t connections_within_descriptor_limit(std::size_t wanted)
{
    rlimit limit{};
    if (wanted == 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    {
        return wanted;
    }
    const std::size_t half = static_cast<std::size_t>(limit.rlim_cur / 2);
    if (wanted <= half)
    {
        return wanted;
    }
    log::warn("max_connections lowered to half the descriptor limit (the other half is the "
              "kernels')",
              {{"configured", wanted}, {"lowered_to", half}, {"descriptor_limit", limit.rlim_cur}});
    return half;
}

} // namespace cellbox::gateway
