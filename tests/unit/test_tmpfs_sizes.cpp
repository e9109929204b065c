// A session's tmpfs mounts are charged to its memory cgroup: their sizes follow its limit.
#include "cellbox/sandbox/tmpfs_sizes.hpp"

#include <catch2/catch.hpp>

using cellbox::sandbox::resource_limits;
using cellbox::sandbox::tmpfs_sizes_for;

namespace
{
constexpr std::uint64_t mib = 1ULL << 20;
constexpr std::uint64_t gib = 1ULL << 30;
} // namespace

TEST_CASE("/tmp takes at most a quarter of the memory limit and /dev/shm an eighth")
{
    resource_limits limits; // policy caps: /tmp 256 MiB, /dev/shm 64 MiB
    const auto small = tmpfs_sizes_for(limits, 256 * mib);
    CHECK(small.tmp_bytes == 64 * mib);
    CHECK(small.shm_bytes == 32 * mib);
    const auto large = tmpfs_sizes_for(limits, 4 * gib);
    CHECK(large.tmp_bytes == 256 * mib); // capped by the policy
    CHECK(large.shm_bytes == 64 * mib);
    const auto unlimited = tmpfs_sizes_for(limits, std::nullopt);
    CHECK(unlimited.tmp_bytes == 256 * mib);
    CHECK(unlimited.shm_bytes == 64 * mib);
}

TEST_CASE("a tmpfs is never sized 0, which would mean unlimited")
{
    resource_limits limits;
    const auto tiny = tmpfs_sizes_for(limits, 1);
    CHECK(tiny.tmp_bytes == mib);
    CHECK(tiny.shm_bytes == mib);
}
