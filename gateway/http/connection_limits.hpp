#pragma once
// How many connections the gateway holds, in total and per client: the first, cheap line
// against floods of idle or half-sent requests, applied at accept before a byte is parsed.
// Every connection (HTTP, and the WebSocket it may become) holds a connection_slot for as long
// as its socket lives.
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace cellbox::gateway
{

class connection_limits;

// One admitted connection's place; given back when destroyed (move-only).
class connection_slot
{
public:
    connection_slot() = default;
    connection_slot(std::shared_ptr<connection_limits> owner, std::string client);
    connection_slot(connection_slot&& other) noexcept = default;
    connection_slot& operator=(connection_slot&& other) noexcept;
    connection_slot(const connection_slot&) = delete;
    connection_slot& operator=(const connection_slot&) = delete;
    ~connection_slot();

private:
    void release();

    std::shared_ptr<connection_limits> m_owner;
    std::string m_client;
};

class connection_limits : public std::enable_shared_from_this<connection_limits>
{
public:
    // 0: no limit.
    static std::shared_ptr<connection_limits> create(std::size_t total, std::size_t per_client);

    // A slot for a connection from `address`, or nothing when it would go over a limit (the
    // refusal is logged, at most one line per interval with the count since the last one).
    std::optional<connection_slot> admit(const boost::asio::ip::address& address);

    // Who a per-client limit counts: an IPv4 address, or an IPv6 /64 (one host usually has a
    // whole /64, so counting single IPv6 addresses would limit nothing).
    static std::string client_of(const boost::asio::ip::address& address);

    std::size_t total() const;
    std::size_t of(const std::string& client) const;

private:
    friend class connection_slot;
    connection_limits(std::size_t total, std::size_t per_client);
    void release(const std::string& client);
    void refused(const std::string& client, const char* limit, std::size_t of_client);

    const std::size_t m_max_total;
    const std::size_t m_max_per_client;
    mutable std::mutex m_mutex; // slots are given back wherever a session ends
    std::size_t m_total = 0;
    std::map<std::string, std::size_t> m_per_client;
    std::size_t m_refused_unlogged = 0;
    std::optional<std::chrono::steady_clock::time_point> m_last_log;
};

// The most connections worth allowing under this process's descriptor limit: half of it, the
// other half being the kernels' (ZeroMQ sockets, pipes). `wanted` 0 (no limit) stays 0.
std::size_t connections_within_descriptor_limit(std::size_t wanted);

} // namespace cellbox::gateway
