#pragma once
// Each user's persistent home: a work directory (mounted at /work in every kernel of the user,
// so files survive kernel and gateway restarts) and a sandbox uid of its own (so the files
// stay the user's, and no two users share an identity). Kept in ROOT/users.json.
#include <cstdint>
#include <map>
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

    // Users get uids first_uid, first_uid + 1, ... in the order they first appear.
    user_registry(std::string root, std::uint32_t first_uid);

    // Creates the directory and allocates the uid on first use; the name must already be
    // valid (valid_user_name or "admin").
    home home_of(const std::string& user);

private:
    void save() const;

    std::string m_root;
    std::uint32_t m_first_uid;
    std::map<std::string, std::uint32_t> m_uids;
};

} // namespace cellbox::gateway
