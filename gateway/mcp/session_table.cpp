#include "mcp/session_table.hpp"

#include <algorithm>

namespace cellbox::gateway::mcp
{

bool supported_version(const std::string& version)
{
    const auto& all = protocol_versions();
    return std::find(all.begin(), all.end(), version) != all.end();
}

std::string negotiate_version(const std::string& requested)
{
    return supported_version(requested) ? requested : protocol_versions().front();
}

session* session_table::create(const std::string& id, const std::string& user,
                               std::string protocol_version, std::string client_name,
                               clock::time_point now)
{
    if (m_max_per_user > 0 && count(user) >= m_max_per_user)
    {
        return nullptr;
    }
    session& s = m_sessions[id];
    s = session{id, user, std::move(protocol_version), std::move(client_name), "", now, 0};
    return &s;
}

session* session_table::find(const std::string& id, const std::string& user)
{
    const auto found = m_sessions.find(id);
    return found != m_sessions.end() && found->second.user == user ? &found->second : nullptr;
}

const session* session_table::find_any(const std::string& id) const
{
    const auto found = m_sessions.find(id);
    return found != m_sessions.end() ? &found->second : nullptr;
}

void session_table::remove(const std::string& id)
{
    m_sessions.erase(id);
}

std::vector<std::string> session_table::idle_since(clock::duration idle,
                                                   clock::time_point now) const
{
    std::vector<std::string> out;
    if (idle <= clock::duration::zero())
    {
        return out;
    }
    for (const auto& [id, s] : m_sessions)
    {
        if (s.busy == 0 && now - s.last_used > idle)
        {
            out.push_back(id);
        }
    }
    return out;
}

std::size_t session_table::count(const std::string& user) const
{
    return static_cast<std::size_t>(std::count_if(m_sessions.begin(), m_sessions.end(),
                                                  [&](const auto& entry)
                                                  { return entry.second.user == user; }));
}

} // namespace cellbox::gateway::mcp
