// The policy's `scheduling`: SCHED_BATCH unless the policy says "normal"; anything else is a
// policy error naming the key.
#include "cellbox/sandbox/policy.hpp"

#include <catch2/catch.hpp>
#include <string>

using cellbox::sandbox::cpu_scheduling;
using cellbox::sandbox::parse_policy;

TEST_CASE("a policy schedules its sessions as batch unless it says normal")
{
    CHECK(parse_policy("", "p.toml").scheduling == cpu_scheduling::batch);
    CHECK(cellbox::sandbox::load_policy(CELLBOX_DEFAULT_POLICY).scheduling ==
          cpu_scheduling::batch);
    CHECK(parse_policy("scheduling = \"normal\"", "p.toml").scheduling == cpu_scheduling::normal);
    CHECK(parse_policy("scheduling = \"batch\"", "p.toml").scheduling == cpu_scheduling::batch);
    CHECK(std::string(name_of(cpu_scheduling::normal)) == "normal");
    for (const char* wrong : {"scheduling = \"fifo\"", "scheduling = 1", "scheduling = \"\"",
                              "scheduling = [\"batch\"]", "scheduling = \"Batch\""})
    {
        CHECK_THROWS_WITH(parse_policy(wrong, "p.toml"),
                          Catch::Contains("scheduling: must be \"batch\" or \"normal\""));
    }
}
