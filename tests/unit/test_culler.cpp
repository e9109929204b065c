// Which kernels the idle culler shuts down, as jupyter_server's MappingKernelManager decides.
#include "kernels/culler.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::cull_policy;
using cellbox::gateway::cull_view;
using cellbox::gateway::should_cull;

namespace
{

cull_view idle_for(double seconds, const std::string& state = "idle")
{
    cull_view k;
    k.idle_s = seconds;
    k.state = state;
    return k;
}

} // namespace

TEST_CASE("an idle kernel is culled once it has been idle long enough", "[culler]")
{
    cull_policy policy;
    policy.idle_timeout_s = 60;
    CHECK_FALSE(should_cull(idle_for(59), policy));
    CHECK(should_cull(idle_for(61), policy));
}

TEST_CASE("dead kernels always go; starting and restarting ones never", "[culler]")
{
    cull_policy policy;
    policy.idle_timeout_s = 60;
    auto dead = idle_for(0, "dead");
    dead.dead = true;
    CHECK(should_cull(dead, policy));
    CHECK_FALSE(should_cull(idle_for(600, "starting"), policy));
    CHECK_FALSE(should_cull(idle_for(600, "restarting"), policy));
    auto stopping = idle_for(600);
    stopping.stopping = true;
    CHECK_FALSE(should_cull(stopping, policy));
}

TEST_CASE("busy and connected kernels are spared unless the policy says", "[culler]")
{
    cull_policy policy;
    policy.idle_timeout_s = 60;
    auto connected = idle_for(600);
    connected.connections = 1;
    CHECK_FALSE(should_cull(connected, policy));
    CHECK_FALSE(should_cull(idle_for(600, "busy"), policy));
    policy.cull_connected = true;
    policy.cull_busy = true;
    CHECK(should_cull(connected, policy));
    CHECK(should_cull(idle_for(600, "busy"), policy));
}
