#include "kernels/user_registry.hpp"

#include "cellbox/bounded_json.hpp"

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cellbox::gateway
{

namespace fs = std::filesystem;

namespace
{

// The work directory, made before anything else needs it (the quota probe writes in it).
std::string prepared_root(std::string root)
{
    fs::create_directories(root + "/users");
    // Only the gateway walks in here; each kernel sees its own directory at /work.
    chmod(root.c_str(), 0711);
    chmod((root + "/users").c_str(), 0711);
    return root;
}

} // namespace

user_registry::user_registry(std::string root, std::uint32_t first_uid, work_quota_options quota)
    : m_root(prepared_root(std::move(root))), m_first_uid(first_uid), m_volumes(m_root, quota)
{
    load();
    // Only root hands uids out; a gateway that is not runs every sandbox as itself.
    if (geteuid() != 0)
    {
        m_block.emplace(uid_block::unclaimed(m_first_uid));
        return;
    }
    std::vector<std::uint32_t> in_use;
    for (const auto& [user, uid] : m_uids)
    {
        in_use.push_back(uid);
    }
    m_block.emplace(uid_block::claim(m_first_uid, in_use, fs::canonical(m_root).string()));
    m_first_uid = m_block->first_user_uid();
}

void user_registry::load()
{
    std::ifstream file(m_root + "/users.json");
    if (!file)
    {
        return;
    }
    const auto saved = parse_json_bounded(file);
    if (!saved.is_object())
    {
        throw std::runtime_error(m_root + "/users.json is not a JSON object; fix or remove it");
    }
    for (const auto& [user, uid] : saved.items())
    {
        if (uid.is_number_unsigned())
        {
            m_uids[user] = uid.get<std::uint32_t>();
        }
    }
}

user_registry::home user_registry::home_of(const std::string& user)
{
    auto found = m_uids.find(user);
    if (found == m_uids.end())
    {
        std::uint32_t next = m_first_uid;
        for (const auto& [name, uid] : m_uids)
        {
            next = std::max(next, uid + 1);
        }
        found = m_uids.emplace(user, next).first;
        save();
    }
    const std::string workdir = m_root + "/users/" + user;
    fs::create_directories(workdir);
    const auto limit = m_disk_limits.find(user);
    m_volumes.mount(user, workdir, limit != m_disk_limits.end() ? limit->second : std::nullopt);
    if (geteuid() == 0)
    {
        // The user's own: a launched kernel runs as this uid, a pooled one sees the directory
        // through an idmapped mount that maps it to the session's uid.
        if (chown(workdir.c_str(), found->second, found->second) != 0 ||
            chmod(workdir.c_str(), 0700) != 0)
        {
            throw std::system_error(errno, std::generic_category(),
                                    "hand " + workdir + " to its user");
        }
    }
    return {workdir, found->second};
}

void user_registry::limit_disk(const std::string& user, std::optional<std::uint64_t> bytes)
{
    m_disk_limits[user] = bytes;
}

nlohmann::json user_registry::usage_model(const identity& who) const
{
    nlohmann::json users = nlohmann::json::object();
    for (const auto& [user, u] : m_volumes.usage())
    {
        if (who.admin || user == who.user)
        {
            users[user] = {{"bytes_used", u.bytes_used},
                           {"bytes_limit", u.bytes_limit},
                           {"inodes_used", u.inodes_used},
                           {"inodes_limit", u.inodes_limit}};
        }
    }
    return {{"quota", m_volumes.enabled()}, {"users", users}};
}

void user_registry::save() const
{
    // Written aside and renamed: a crash never leaves a half-written table (which would hand
    // a user's files to another uid).
    const std::string path = m_root + "/users.json";
    const std::string temporary = path + ".tmp";
    {
        std::ofstream out(temporary, std::ios::trunc);
        out << nlohmann::json(m_uids).dump(2) << "\n";
        if (!out.flush())
        {
            throw std::runtime_error("cannot write " + temporary);
        }
    }
    fs::rename(temporary, path);
}

} // namespace cellbox::gateway
