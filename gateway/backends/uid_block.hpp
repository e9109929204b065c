#pragma once
// The host uids one gateway's sandboxes run as, disjoint from every other gateway's on the
// host: two gateways that handed out the same uids would give their tenants one identity
// (shared per-uid kernel accounting, files each other's). Each root gateway holds a slot for
// its lifetime: an flock on LOCK_DIR/uid-slot-K.lock. Slot K is the block of `span` uids from
// first_user_uid + K * span: users' uids first (kept in users.json, so a work dir stays in the
// slot its users' uids are in), then the uids of sessions (pooled and prespawned kernels).
// A gateway whose users' slot is held by another gateway refuses to start, naming it.
#include "cellbox/unique_fd.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cellbox::gateway
{

class uid_block
{
public:
    static constexpr std::uint32_t span = 200000;
    static constexpr std::uint32_t user_uids = 100000;   // users of one gateway
    static constexpr std::uint32_t session_uids = 60000; // sessions alive at once, cycled
    static constexpr const char* default_lock_dir = "/run/cellbox";

    // Claims the slot(s) holding `user_uids_in_use` (the work dir's users), or else the first
    // free slot, preferring slots no other work dir's users live in. Throws
    // uid_block::unavailable saying what to do.
    static uid_block claim(std::uint32_t first_user_uid,
                           const std::vector<std::uint32_t>& user_uids_in_use,
                           const std::string& work_dir,
                           const std::string& lock_dir = default_lock_dir);
    // Slot 0 without a lock: for a gateway that is not root, whose sandboxes all run as its
    // own uid whatever they are given.
    static uid_block unclaimed(std::uint32_t first_user_uid);

    struct unavailable : std::runtime_error
    {
        using std::runtime_error::runtime_error;
    };

    std::uint32_t first_user_uid() const { return m_first; }
    // Session uids in turn: after session_uids of them the first comes back.
    std::uint32_t next_session_uid();

    uid_block(uid_block&&) = default;
    uid_block& operator=(uid_block&&) = default;

private:
    uid_block(std::uint32_t first, std::vector<unique_fd> locks);

    std::uint32_t m_first;
    std::uint32_t m_next_session = 0;
    std::vector<unique_fd> m_locks; // held while the gateway runs
};

} // namespace cellbox::gateway
