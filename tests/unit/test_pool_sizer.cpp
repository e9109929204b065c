// How many sessions a pool keeps: the starts of the last window, between its size and its
// maximum, within the memory the machine has left.
#include "backends/pool_sizer.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <unistd.h>

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

TEST_CASE("the target is recomputed a quarter window apart, from 100 ms to 1 s", "[pool_sizer]")
{
    CHECK(pool_sizer(sizing(1, 4)).resize_interval() == 1s); // a 10 s window
    pool_sizing short_window = sizing(1, 4);
    short_window.window = 200ms;
    CHECK(pool_sizer(short_window).resize_interval() == 100ms);
    short_window.window = 600ms;
    CHECK(pool_sizer(short_window).resize_interval() == 150ms);
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

namespace
{

// A directory with the files available_memory_bytes reads, as a container would show them.
struct fake_host
{
    std::filesystem::path root =
        std::filesystem::temp_directory_path() / ("pool-sizer-" + std::to_string(getpid()));
    fake_host()
    {
        std::filesystem::create_directories(root / "proc");
        std::filesystem::create_directories(root / "cgroup" / "memory");
        write("proc/meminfo", "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n");
    }
    ~fake_host() { std::filesystem::remove_all(root); }
    void write(const std::string& name, const std::string& text) const
    {
        std::ofstream(root / name) << text;
    }
    std::optional<std::uint64_t> available() const
    {
        return cellbox::gateway::available_memory_bytes((root / "proc").string(),
                                                        (root / "cgroup").string());
    }
};

} // namespace

TEST_CASE("available memory: the machine's, or less in a memory-limited container", "[pool_sizer]")
{
    fake_host host;
    // No cgroup files (or an unlimited cgroup): MemAvailable.
    CHECK(host.available() == std::optional<std::uint64_t>(20000000ULL * 1024));
    SECTION("cgroup v2: memory.max minus memory.current, inactive files reclaimable")
    {
        host.write("cgroup/memory.max", "4294967296\n");
        host.write("cgroup/memory.current", "3221225472\n");
        host.write("cgroup/memory.stat", "anon 1\nfile 2\ninactive_file 536870912\n");
        // 4 GiB - (3 GiB used - 0.5 GiB of inactive files)
        CHECK(host.available() == std::optional<std::uint64_t>(gib + gib / 2));
        host.write("cgroup/memory.max", "max\n");
        CHECK(host.available() == std::optional<std::uint64_t>(20000000ULL * 1024));
    }
    SECTION("cgroup v1: limit_in_bytes minus usage_in_bytes; its 'unlimited' is ignored")
    {
        host.write("cgroup/memory/memory.limit_in_bytes", "2147483648\n");
        host.write("cgroup/memory/memory.usage_in_bytes", "2684354560\n"); // over: no room
        host.write("cgroup/memory/memory.stat", "cache 1\ntotal_inactive_file 0\n");
        CHECK(host.available() == std::optional<std::uint64_t>(0));
        host.write("cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
        CHECK(host.available() == std::optional<std::uint64_t>(20000000ULL * 1024));
    }
    SECTION("the smaller of the two wins")
    {
        host.write("cgroup/memory.max", "1099511627776\n"); // 1 TiB: more than the machine
        host.write("cgroup/memory.current", "0\n");
        CHECK(host.available() == std::optional<std::uint64_t>(20000000ULL * 1024));
    }
}
