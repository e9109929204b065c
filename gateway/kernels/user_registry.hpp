#pragma once
// Each user's persistent home: a work directory (mounted at /work in every kernel of the user,
// so files survive kernel and gateway restarts) and a sandbox uid of its own (so the files
// stay the user's, and no two users share an identity). Kept in ROOT/users.json. The uids
// come from the gateway's uid_block, disjoint from other gateways' on the host. With quotas,
// the work directory is the root of the user's own filesystem (work_quota.hpp).
#include "auth/identity.hpp"
#include "backends/uid_block.hpp"
#include "backends/work_quota.hpp"

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cellbox::gateway
{

class user_registry
{
public:
    struct home
    {
        std::string workdir;
        std::uint32_t uid;
    };

    // Users get uids from first_uid (or from the first uid of the free block the gateway
    // claims, see uid_block) in the order they first appear. Throws uid_block::unavailable
    // when the block its users' uids are in is held by another gateway, and when quotas are
    // asked for and cannot be had (see work_volumes).
    user_registry(std::string root, std::uint32_t first_uid, work_quota_options quota);

    // Creates the directory (with quotas: mounts the user's filesystem on it) and allocates
    // the uid on first use; the name must already be valid (valid_user_name or "admin").
    home home_of(const std::string& user);
    // The quota a user's token asks for (limits.disk; none: the server's), from the user's
    // next home_of on. It can only lower the server's.
    void limit_disk(const std::string& user, std::optional<std::uint64_t> bytes);
    // /api/status's "work": {"quota": bool, "users": {NAME: {"bytes_used", "bytes_limit",
    // "inodes_used", "inodes_limit"}}} for every user whose /work is mounted (the admin), or
    // for `who` alone (a user).
    nlohmann::json usage_model(const identity& who) const;

    // The uid of a new pooled or prespawned session (not yet anyone's), from the gateway's
    // block.
    std::uint32_t next_session_uid() { return m_block->next_session_uid(); }

private:
    void load();
    void save() const;

    std::string m_root;
    std::uint32_t m_first_uid;
    std::map<std::string, std::uint32_t> m_uids;
    std::optional<uid_block> m_block; // claimed once users.json is read
    std::map<std::string, std::optional<std::uint64_t>> m_disk_limits;
    work_volumes m_volumes; // last: unmounted before anything else goes
};

} // namespace cellbox::gateway
