// Admission: the server's and the users' kernel limits, and what one kernel of a user may use.
#include "kernels/admission.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::admission_error;
using cellbox::gateway::admission_limits;
using cellbox::gateway::allowance_of;
using cellbox::gateway::identity;

TEST_CASE("the server's maximum counts every kernel", "[admission]")
{
    identity admin{"admin", true, {}};
    CHECK_FALSE(admission_error(admin, 1, 1, {2, 1}).has_value());
    const auto error = admission_error(admin, 2, 2, {2, 1});
    REQUIRE(error.has_value());
    CHECK(error->find("maximum of 2") != std::string::npos);
    CHECK_FALSE(admission_error(admin, 5000, 5000, {0, 0}).has_value()); // 0: no maximum
}

TEST_CASE("a user's kernels: the server's quota, lowered by the token's", "[admission]")
{
    identity erin{"erin", false, {}};
    CHECK_FALSE(admission_error(erin, 10, 2, {100, 3}).has_value());
    CHECK(admission_error(erin, 10, 3, {100, 3}).has_value());
    erin.limits.kernels = 1;
    CHECK(admission_error(erin, 10, 1, {100, 3}).has_value());
    CHECK(admission_error(erin, 10, 1, {100, 0}).has_value()); // the token's, with no server quota
    identity admin{"admin", true, {}};
    CHECK_FALSE(admission_error(admin, 10, 9, {100, 3}).has_value()); // the admin is exempt
}

TEST_CASE("a token's limits lower a kernel's memory and cell limits", "[admission]")
{
    identity erin{"erin", false, {}};
    auto same = allowance_of(erin, 1 << 30, 30, 0);
    CHECK(same.memory_bytes == 1u << 30);
    CHECK(same.cell_timeout_s == 30);
    CHECK(same.cell_timeout_cap_s == 0);
    erin.limits.memory_bytes = 300u << 20;
    erin.limits.cell_timeout_s = 1;
    auto lowered = allowance_of(erin, 1 << 30, 30, 0);
    CHECK(lowered.memory_bytes == 300u << 20);
    CHECK(lowered.cell_timeout_s == 1);
    CHECK(lowered.cell_timeout_cap_s == 1);
    CHECK(allowance_of(identity{"x", false, {}}, 1 << 30, 0, 60).cell_timeout_s == 60);
}
