#pragma once
// The MCP sessions of a gateway: who owns each (a session id is found only by its user), the
// protocol revision it agreed on, its kernel once it has one, and when it was last used, for
// culling. Bookkeeping only: api/mcp_api starts and stops the kernels.
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::gateway::mcp
{

// The revisions served, newest first: those the official TypeScript SDK 1.x supports
// (SUPPORTED_PROTOCOL_VERSIONS of @modelcontextprotocol/sdk 1.32) from 2025-03-26 on, when the
// Streamable HTTP transport appeared. An initialize asking for another gets the newest.
inline const std::vector<std::string>& protocol_versions()
{
    static const std::vector<std::string> versions{"2025-11-25", "2025-06-18", "2025-03-26"};
    return versions;
}
bool supported_version(const std::string& version);
// What to answer to an initialize asking for `requested`.
std::string negotiate_version(const std::string& requested);

struct session
{
    using clock = std::chrono::steady_clock;
    std::string id;
    std::string user;
    std::string protocol_version;
    std::string client_name; // clientInfo.name, for the log
    std::string kernel_id;   // "" until the first tool that needs one
    clock::time_point last_used;
    int busy = 0; // tool calls running: a session is not culled under one
};

class session_table
{
public:
    using clock = session::clock;
    explicit session_table(std::size_t max_per_user) : m_max_per_user(max_per_user) {}

    // A new session `id` for `user`; nothing when the user has max_per_user already.
    session* create(const std::string& id, const std::string& user, std::string protocol_version,
                    std::string client_name, clock::time_point now = clock::now());
    // The session `id` if `user` owns it (another user's is not found either).
    session* find(const std::string& id, const std::string& user);
    // The session `id` whoever owns it: for the server's own use (culling), never a client's.
    const session* find_any(const std::string& id) const;
    void remove(const std::string& id);
    // Sessions unused for longer than `idle` and not busy (idle zero: none).
    std::vector<std::string> idle_since(clock::duration idle,
                                        clock::time_point now = clock::now()) const;
    std::size_t count(const std::string& user) const;
    std::size_t size() const { return m_sessions.size(); }
    std::size_t max_per_user() const { return m_max_per_user; }

private:
    std::size_t m_max_per_user;
    std::map<std::string, session> m_sessions;
};

} // namespace cellbox::gateway::mcp
