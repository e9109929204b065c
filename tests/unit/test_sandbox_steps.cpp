#include "cellbox/contract/system_error.hpp"
#include "steps.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace
{

struct trace
{
    std::vector<std::string> ran;
};

void first(trace& t)
{
    t.ran.push_back("first");
}

void failing(trace& t)
{
    t.ran.push_back("failing");
    throw std::invalid_argument("no program to run");
}

void failing_call(trace& t)
{
    t.ran.push_back("failing_call");
    errno = EPERM;
    throw cellbox::sandbox::system_failure("mount_setattr /work");
}

void last(trace& t)
{
    t.ran.push_back("last");
}

} // namespace

TEST_CASE("sandbox steps run in order and a failure names its step")
{
    using cellbox::sandbox::run_steps;
    using cellbox::sandbox::step;

    constexpr step<trace> all_pass[] = {{"first", first}, {"last", last}};
    trace passed;
    run_steps(all_pass, passed);
    CHECK(passed.ran == std::vector<std::string>{"first", "last"});

    constexpr step<trace> one_fails[] = {{"first", first}, {"plan", failing}, {"last", last}};
    trace failed;
    try
    {
        run_steps(one_fails, failed);
        FAIL("the failing step did not end the run");
    }
    catch (const std::runtime_error& e)
    {
        // The step's name in front, the original message kept whole after it.
        CHECK(std::string(e.what()) == "plan step: no program to run");
    }
    CHECK(failed.ran == std::vector<std::string>{"first", "failing"}); // nothing after it
}

TEST_CASE("a step's failed system call keeps its errno under the step's name")
{
    using cellbox::sandbox::run_steps;
    using cellbox::sandbox::step;

    constexpr step<trace> steps[] = {{"first", first}, {"mounts", failing_call}, {"last", last}};
    trace failed;
    try
    {
        run_steps(steps, failed);
        FAIL("the failing step did not end the run");
    }
    catch (const std::system_error& e)
    {
        CHECK(e.code().value() == EPERM);
        const auto reported = cellbox::contract::system_error_of(e);
        REQUIRE(reported);
        CHECK(reported->call == "mounts step: mount_setattr /work");
        CHECK(reported->number == EPERM);
        CHECK(std::string(e.what()) ==
              "mounts step: mount_setattr /work: " + std::generic_category().message(EPERM));
    }
    CHECK(failed.ran == std::vector<std::string>{"first", "failing_call"});
}
