#include "cellbox/sandbox/policy.hpp"
#include "cellbox/sandbox/seccomp_filter.hpp"
#include "default_seccomp_program.hpp" // compiled at build time from the default policy

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

using cellbox::sandbox::seccomp_filter;

TEST_CASE("the build-time seccomp program is what the default policy compiles to now")
{
    const auto rules = cellbox::sandbox::load_policy(CELLBOX_DEFAULT_POLICY);
    const std::string compiled = seccomp_filter::compile(rules.allowed_syscalls).to_bytes();
    const std::string embedded(reinterpret_cast<const char*>(default_seccomp_program),
                               sizeof default_seccomp_program);
    REQUIRE(compiled.size() > 100 * 8); // hundreds of instructions, not an empty program
    CHECK(compiled == embedded);

    // A different allow-list is a different program: the launcher must not reuse this one.
    auto fewer = rules.allowed_syscalls;
    fewer.pop_back();
    CHECK(seccomp_filter::compile(fewer).to_bytes() != embedded);
}

TEST_CASE("a compiled seccomp program survives the trip to the sandbox as bytes")
{
    const auto filter = seccomp_filter::compile({"read", "write", "exit_group"});
    const std::string bytes = filter.to_bytes();
    const auto copy = seccomp_filter::from_bytes(bytes.data(), bytes.size());
    CHECK(copy.instructions() == filter.instructions());
    CHECK(copy.to_bytes() == bytes);
    CHECK_THROWS_AS(seccomp_filter::from_bytes(bytes.data(), bytes.size() - 3), std::runtime_error);
    CHECK_THROWS_AS(seccomp_filter::from_bytes(bytes.data(), 0), std::runtime_error);
}
