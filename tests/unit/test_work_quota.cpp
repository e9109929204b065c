// The geometry of users' /work filesystems: what the kernel will enforce follows from these
// numbers. And the helper programs that make them (mkfs.ext4, resize2fs).
#include "backends/helper_program.hpp"
#include "backends/work_quota.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::gateway;

namespace
{
constexpr std::uint64_t mib = 1ULL << 20;
constexpr std::uint64_t gib = 1ULL << 30;
} // namespace

TEST_CASE("a user's image holds the quota plus ext4's own metadata")
{
    const work_quota_options options; // 1 GiB, 100 000 inodes
    const work_image_plan plan = plan_work_image(gib, options);
    CHECK(plan.quota_bytes == gib);
    CHECK(plan.inodes == 100000);
    CHECK(plan.image_bytes >= plan.quota_bytes + plan.journal_bytes + plan.inodes * 256);
    CHECK(plan.image_bytes < plan.quota_bytes + plan.quota_bytes / 8); // not much more
    CHECK(plan.image_bytes % mib == 0);
    CHECK(plan.journal_bytes >= 4 * mib);
}

TEST_CASE("a token can lower the quota, inodes in proportion, never raise it")
{
    work_quota_options options;
    options.bytes = gib;
    options.inodes = 100000;
    const work_image_plan lower = plan_work_image(256 * mib, options);
    CHECK(lower.quota_bytes == 256 * mib);
    CHECK(lower.inodes == 25000);
    CHECK(plan_work_image(10 * gib, options).quota_bytes == gib);
    CHECK(plan_work_image(10 * gib, options).inodes == 100000);
}

TEST_CASE("quotas have a floor an image can hold")
{
    const work_quota_options options;
    const work_image_plan tiny = plan_work_image(1, options);
    CHECK(tiny.quota_bytes == min_work_quota_bytes);
    CHECK(tiny.inodes >= 64);
    CHECK(plan_work_image(min_work_quota_bytes + 1, options).quota_bytes ==
          min_work_quota_bytes + mib); // whole MiB
}

TEST_CASE("huge quotas do not overflow the inode arithmetic")
{
    work_quota_options options;
    options.bytes = 1ULL << 50; // a PiB
    options.inodes = 1ULL << 40;
    const work_image_plan plan = plan_work_image(1ULL << 49, options);
    CHECK(plan.inodes == 1ULL << 39);
    CHECK(plan.journal_bytes == 128 * mib);
    CHECK(plan.image_bytes > plan.quota_bytes);
}

TEST_CASE("helper programs run with an environment of their own and report failures")
{
    setenv("CELLBOX_SECRET_FOR_TEST", "leaked", 1);
    const program_result env = run_program({"env"});
    unsetenv("CELLBOX_SECRET_FOR_TEST");
    CHECK(env.ok());
    CHECK(env.output.find("leaked") == std::string::npos);
    CHECK(env.output.find("PATH=/usr/sbin") != std::string::npos);
    const program_result failed = run_program({"false"});
    CHECK(failed.exit_code == 1);
    CHECK_THROWS_AS(run_program({"no-such-program-cellbox"}), std::runtime_error);
}
