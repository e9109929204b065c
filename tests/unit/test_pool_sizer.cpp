// How many sessions a pool keeps: the starts of the last window, between its size and its
// maximum, within the memory the machine has left.
#include "backends/pool_sizer.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::pool_sizer;
using cellbox::gateway::pool_sizing;
using namespace std::chrono_literals;

namespace
{

constexpr std::uint64_t gib = 1024ULL * 1024 * 1024;

pool_sizing sizing(std::size_t min, std::size_t max)
{
    pool_sizing s;
    s.min = min;
    s.max = max;
    s.window = 10s;
    s.session_memory_bytes = gib;
    return s;
}

} // namespace

TEST_CASE("a burst raises the target to its size, up to the maximum", "[pool_sizer]")
{
    pool_sizer sizer(sizing(4, 12));
    const auto t0 = pool_sizer::clock::time_point{} + 1h;
    CHECK(sizer.target(t0, 4, 100 * gib) == 4);
    for (int i = 0; i < 7; ++i)
    {
        sizer.started(t0 + std::chrono::milliseconds(i));
    }
    CHECK(sizer.target(t0 + 1s, 4, 100 * gib) == 7);
    for (int i = 0; i < 20; ++i)
    {
        sizer.started(t0 + 2s);
    }
    CHECK(sizer.target(t0 + 2s, 4, 100 * gib) == 12);
}

TEST_CASE("the target falls back to the size once a window passes without starts", "[pool_sizer]")
{
    pool_sizer sizer(sizing(2, 10));
    const auto t0 = pool_sizer::clock::time_point{} + 1h;
    for (int i = 0; i < 6; ++i)
    {
        sizer.started(t0);
    }
    sizer.started(t0 + 5s);
    CHECK(sizer.target(t0 + 9s, 7, 100 * gib) == 7);
    CHECK(sizer.target(t0 + 11s, 7, 100 * gib) == 2); // the six left the window
    CHECK(sizer.target(t0 + 16s, 2, 100 * gib) == 2);
}

TEST_CASE("a fixed pool (maximum = size) ignores starts", "[pool_sizer]")
{
    pool_sizer sizer(sizing(4, 4));
    CHECK_FALSE(sizer.adaptive());
    const auto t0 = pool_sizer::clock::time_point{} + 1h;
    for (int i = 0; i < 30; ++i)
    {
        sizer.started(t0);
    }
    CHECK(sizer.target(t0, 4, 100 * gib) == 4);
    // A maximum below the size is the size.
    CHECK(pool_sizer(sizing(4, 1)).target(t0, 0, 100 * gib) == 4);
}

TEST_CASE("growth stops where free memory would not hold another session's limit", "[pool_sizer]")
{
    pool_sizer sizer(sizing(2, 20));
    const auto t0 = pool_sizer::clock::time_point{} + 1h;
    for (int i = 0; i < 20; ++i)
    {
        sizer.started(t0);
    }
    CHECK(sizer.target(t0, 5, 3 * gib + gib / 2) == 8); // 5 held + room for 3
    CHECK(sizer.target(t0, 5, gib / 2) == 5);           // no room: no more
    CHECK(sizer.target(t0, 0, 0) == 2);                 // the size is kept regardless
    CHECK(sizer.target(t0, 5, std::nullopt) == 20);     // memory unknown: the maximum bounds
}

TEST_CASE("available memory is read from /proc/meminfo", "[pool_sizer]")
{
    const auto available = cellbox::gateway::available_memory_bytes();
    REQUIRE(available.has_value());
    CHECK(*available > 1024 * 1024);
}
