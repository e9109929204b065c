#include "cellbox/kernel/resource_meter.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

using namespace cellbox::kernel;

TEST_CASE("proc status lines are read in bytes")
{
    const char* status = "Name:\tpython3\nVmPeak:\t  300 kB\nVmHWM:\t   12345 kB\nThreads:\t7\n";
    CHECK(parse_proc_status_bytes(status, "VmHWM") == 12345 * 1024);
    CHECK(parse_proc_status_bytes(status, "VmPeak") == 300 * 1024);
    CHECK(parse_proc_status_bytes(status, "Threads") == 7);
    CHECK_FALSE(parse_proc_status_bytes(status, "VmRSS"));
    CHECK_FALSE(parse_proc_status_bytes(status, "Vm"));
}

TEST_CASE("a cell's wall time, cpu time and peak memory are measured")
{
    resource_meter meter;
    meter.start();
    // Touch 64 MiB so that the resident high-water mark must rise by about that much.
    constexpr std::size_t size = 64 << 20;
    auto block = std::make_unique<char[]>(size);
    std::memset(block.get(), 1, size);
    const auto busy_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(60);
    volatile unsigned spin = 0;
    while (std::chrono::steady_clock::now() < busy_until)
    {
        spin = spin + 1;
    }
    const cell_usage usage = meter.finish();
    CHECK(usage.wall_ms >= 60);
    CHECK(usage.cpu_ms >= 40);
    CHECK(usage.peak_rss_bytes >= static_cast<std::int64_t>(size));
    CHECK(block[size - 1] == 1);
}
