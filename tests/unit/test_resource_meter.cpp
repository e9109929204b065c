#include "cellbox/kernel/resource_meter.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <ctime>
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
    // Spin until the thread has used 60 ms of CPU, however busy the machine is: a wall-clock
    // spin gets less CPU than that when other processes share the cores.
    const auto cpu_now = []
    {
        timespec t{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
    };
    const auto busy_until = cpu_now() + std::chrono::milliseconds(60);
    volatile unsigned spin = 0;
    while (cpu_now() < busy_until)
    {
        spin = spin + 1;
    }
    const cell_usage usage = meter.finish();
    CHECK(usage.cpu_ms >= 55);
    CHECK(usage.wall_ms >= usage.cpu_ms - 5); // one thread cannot use more CPU than time passed
    CHECK(usage.peak_rss_bytes >= static_cast<std::int64_t>(size));
    CHECK(block[size - 1] == 1);
}
