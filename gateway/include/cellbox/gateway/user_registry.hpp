#pragma once
// Each user's persistent home: a work directory (mounted at /work in every kernel of the user,
// so files survive kernel and gateway restarts) and a sandbox uid of its own (so the files
// stay the user's, and no two users share an identity). Kept in ROOT/users.json. The uids
// come from the gateway's uid_block, disjoint from other gateways' on the host.
#include "cellbox/gateway/uid_block.hpp"

#include <cstdint>
#include <map>
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
    // when the block its users' uids are in is held by another gateway.
    user_registry(std::string root, std::uint32_t first_uid);

    // Creates the directory and allocates the uid on first use; the name must already be
    // valid (valid_user_name or "admin").
    home home_of(const std::string& user);

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
};

} // namespace cellbox::gateway
