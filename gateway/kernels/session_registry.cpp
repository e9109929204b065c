#include "kernels/session_registry.hpp"

#include <algorithm>

namespace cellbox::gateway
{
namespace
{

bool visible(const session_registry::session& s, const identity& who)
{
    return who.admin || s.owner == who.user;
}

} // namespace

session_registry::session& session_registry::add(session s)
{
    const std::string id = s.id;
    return m_sessions[id] = std::move(s);
}

session_registry::session* session_registry::find(const std::string& id, const identity& who)
{
    const auto it = m_sessions.find(id);
    return it != m_sessions.end() && visible(it->second, who) ? &it->second : nullptr;
}

session_registry::session* session_registry::find_by_path(const std::string& path,
                                                          const identity& who)
{
    for (auto& [id, s] : m_sessions)
    {
        if (s.path == path && s.owner == who.user)
        {
            return &s;
        }
    }
    return nullptr;
}

std::vector<session_registry::session*> session_registry::list(const identity& who)
{
    std::vector<session*> out;
    for (auto& [id, s] : m_sessions)
    {
        if (visible(s, who))
        {
            out.push_back(&s);
        }
    }
    return out;
}

void session_registry::remove(const std::string& id)
{
    m_sessions.erase(id);
}

void session_registry::remove_kernel(const std::string& kernel_id)
{
    for (auto it = m_sessions.begin(); it != m_sessions.end();)
    {
        it = it->second.kernel_id == kernel_id ? m_sessions.erase(it) : std::next(it);
    }
}

std::size_t session_registry::count_on_kernel(const std::string& kernel_id) const
{
    return static_cast<std::size_t>(std::count_if(m_sessions.begin(), m_sessions.end(),
                                                  [&](const auto& entry)
                                                  { return entry.second.kernel_id == kernel_id; }));
}

std::size_t session_registry::count_of(const std::string& user) const
{
    return static_cast<std::size_t>(std::count_if(m_sessions.begin(), m_sessions.end(),
                                                  [&](const auto& entry)
                                                  { return entry.second.owner == user; }));
}

} // namespace cellbox::gateway
