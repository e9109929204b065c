#pragma once
// The sizes of a session's tmpfs mounts (/tmp, /dev/shm, and /work when there is no work
// directory). Their pages are charged to the session's memory cgroup: a /tmp as large as the
// memory limit lets a cell fill it until the OOM killer ends the kernel, instead of getting
// ENOSPC. So each is sized from the session's memory limit, capped by the policy's sizes:
// /tmp at most a quarter of the limit, /dev/shm an eighth, which leaves the kernel itself at
// least 5/8 of its memory (3/8 when /work is a tmpfs too).
#include "cellbox/sandbox/policy.hpp"

#include <cstdint>
#include <optional>

namespace cellbox::sandbox
{

struct tmpfs_sizes
{
    std::uint64_t tmp_bytes = 0; // /tmp (and a tmpfs /work)
    std::uint64_t shm_bytes = 0; // /dev/shm
};

// Never 0 (a tmpfs of size 0 would be unlimited): at least one MiB each, unless the policy
// caps lower. Without a memory limit, the policy's sizes.
tmpfs_sizes tmpfs_sizes_for(const resource_limits& limits,
                            std::optional<std::uint64_t> memory_bytes);

// Inside the session's mount namespace (its init, the one process there allowed to): gives the
// mounted /tmp and /dev/shm their new sizes (fspick + fsconfig reconfigure: the superblock's
// size alone changes, not the mounts' nosuid/nodev/noexec). Throws std::system_error naming
// the mount; shrinking below what a tmpfs holds fails with EINVAL.
void resize_session_tmpfs(const tmpfs_sizes& sizes);

} // namespace cellbox::sandbox
