#include "kernels/session_registry.hpp"

#include "cellbox/bounded_json.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace cellbox::gateway
{
namespace
{

bool visible(const session_registry::session& s, const identity& who)
{
    return who.admin || s.owner == who.user;
}

} // namespace

void session_registry::keep_in(std::string file,
                               const std::function<bool(const std::string&)>& exists,
                               std::shared_ptr<state_file_writer> writer)
{
    m_file = std::move(file);
    m_writer = std::move(writer);
    std::ifstream in(m_file);
    const nlohmann::json saved = in ? parse_json_bounded(in) : nlohmann::json::array();
    for (const auto& s : saved.is_array() ? saved : nlohmann::json::array())
    {
        try
        {
            session loaded{s.at("id").get<std::string>(),     s.at("path").get<std::string>(),
                           s.at("name").get<std::string>(),   s.at("type").get<std::string>(),
                           s.at("kernel").get<std::string>(), s.at("owner").get<std::string>()};
            if (exists(loaded.kernel_id))
            {
                m_sessions[loaded.id] = std::move(loaded);
            }
        }
        catch (const nlohmann::json::exception& e)
        {
            log::warn("a saved session is malformed, ignored", {{"error", e.what()}});
        }
    }
    save();
}

void session_registry::save() const
{
    if (m_file.empty())
    {
        return;
    }
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [id, s] : m_sessions)
    {
        out.push_back({{"id", s.id},
                       {"path", s.path},
                       {"name", s.name},
                       {"type", s.type},
                       {"kernel", s.kernel_id},
                       {"owner", s.owner}});
    }
    m_writer->write(m_file, out.dump());
}

session_registry::session& session_registry::add(session s)
{
    const std::string id = s.id;
    session& added = m_sessions[id] = std::move(s);
    save();
    return added;
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
    save();
}

void session_registry::remove_kernel(const std::string& kernel_id)
{
    for (auto it = m_sessions.begin(); it != m_sessions.end();)
    {
        it = it->second.kernel_id == kernel_id ? m_sessions.erase(it) : std::next(it);
    }
    save();
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
