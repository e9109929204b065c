// The kernel lifecycle state machine: which moves are allowed, that refused ones leave the state
// as it was, and that Jupyter's execution_state (the last status the kernel reported) shows in
// the model only while the kernel is ready, so a late status cannot change the lifecycle.
#include "kernels/kernel_lifecycle.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::kernel_lifecycle;
using cellbox::gateway::lifecycle_state;
using s = lifecycle_state;

namespace
{

kernel_lifecycle in_state(std::initializer_list<lifecycle_state> path)
{
    kernel_lifecycle life;
    for (const auto next : path)
    {
        REQUIRE(life.move_to(next));
    }
    return life;
}

} // namespace

TEST_CASE("a kernel starts in starting and becomes ready", "[kernel_lifecycle]")
{
    kernel_lifecycle life;
    CHECK(life.is(s::starting));
    CHECK(life.move_to(s::ready));
    CHECK(life.is(s::ready));
}

TEST_CASE("a restart goes through restarting and starting back to ready", "[kernel_lifecycle]")
{
    auto life = in_state({s::ready, s::restarting});
    CHECK(life.move_to(s::restarting)); // a second request while the first one waits
    CHECK(life.move_to(s::starting));   // the old process exited, the next one is launched
    CHECK(life.move_to(s::ready));
    CHECK(life.is(s::ready));
}

TEST_CASE("a kernel that died is restarted or stays dead", "[kernel_lifecycle]")
{
    auto died = in_state({s::ready, s::restarting});
    CHECK(died.move_to(s::ready)); // the next process answered
    auto dead = in_state({s::ready, s::dead});
    CHECK_FALSE(dead.move_to(s::ready)); // no process to answer
    CHECK_FALSE(dead.move_to(s::starting));
    CHECK(dead.is(s::dead));
    CHECK(dead.move_to(s::restarting)); // a user's restart brings it back
}

TEST_CASE("deleting is final", "[kernel_lifecycle]")
{
    for (auto life : {in_state({}), in_state({s::ready}), in_state({s::ready, s::restarting}),
                      in_state({s::ready, s::dead})})
    {
        REQUIRE(life.move_to(s::deleting));
        for (const auto to : {s::starting, s::ready, s::restarting, s::dead, s::deleting})
        {
            CHECK_FALSE(life.move_to(to));
            CHECK(life.is(s::deleting));
        }
    }
}

TEST_CASE("refused moves leave the state as it was", "[kernel_lifecycle]")
{
    kernel_lifecycle life;
    CHECK_FALSE(life.move_to(s::starting));
    CHECK(life.is(s::starting));
    auto ready = in_state({s::ready});
    CHECK_FALSE(ready.move_to(s::ready));
    CHECK_FALSE(ready.move_to(s::starting)); // only through restarting
    CHECK(ready.is(s::ready));
}

TEST_CASE("the model shows the reported status only while the kernel is ready",
          "[kernel_lifecycle]")
{
    kernel_lifecycle life;
    CHECK(life.model_state("busy") == "starting");
    REQUIRE(life.move_to(s::ready));
    CHECK(life.model_state("busy") == "busy");
    CHECK(life.model_state("idle") == "idle");
    REQUIRE(life.move_to(s::restarting));
    // The old process's last statuses arrive after the restart began: they change nothing.
    CHECK(life.model_state("busy") == "restarting");
    CHECK(life.model_state("idle") == "restarting");
    CHECK(life.is(s::restarting));
    REQUIRE(life.move_to(s::dead));
    CHECK(life.model_state("idle") == "dead");
}

TEST_CASE("states have names for logs", "[kernel_lifecycle]")
{
    CHECK(std::string(to_string(s::deleting)) == "deleting");
    CHECK(std::string(to_string(s::ready)) == "ready");
}

TEST_CASE("hibernation: saved from ready, resumed through starting", "[kernel_lifecycle]")
{
    auto life = in_state({s::ready, s::hibernating, s::hibernated});
    CHECK(life.model_state("idle") == "hibernated"); // not the last status of its process
    CHECK_FALSE(life.move_to(s::ready));             // only through a new process
    CHECK_FALSE(life.move_to(s::dead));
    CHECK(life.move_to(s::starting)); // a request resumes it
    CHECK(life.move_to(s::ready));
    // Saving failed: back to ready; the process died while saving: restarting.
    CHECK(in_state({s::ready, s::hibernating}).move_to(s::ready));
    CHECK(in_state({s::ready, s::hibernating}).move_to(s::restarting));
    // A restart of a hibernated kernel is a fresh one; a shutdown deletes it.
    CHECK(in_state({s::ready, s::hibernating, s::hibernated}).move_to(s::restarting));
    CHECK(in_state({s::ready, s::hibernating, s::hibernated}).move_to(s::deleting));
    // Only an idle running kernel hibernates.
    CHECK_FALSE(in_state({}).move_to(s::hibernating));
    CHECK_FALSE(in_state({s::ready, s::dead}).move_to(s::hibernating));
    CHECK_FALSE(in_state({s::ready, s::restarting}).move_to(s::hibernating));
}
