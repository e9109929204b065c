#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace cellbox::kernel
{

// What one cell cost, reported in execute_reply metadata as `cellbox`.
struct cell_usage
{
    std::int64_t wall_ms = 0;
    std::int64_t cpu_ms = 0;         // user + system, this process and its reaped children
    std::int64_t peak_rss_bytes = 0; // high-water mark of resident memory during the cell
};

// Measures one cell at a time. The peak is per cell because start() resets the kernel's
// resident-set high-water mark through /proc/self/clear_refs (Linux 4.0+); where that is not
// possible the peak is the process's lifetime peak.
class resource_meter
{
public:
    void start();
    cell_usage finish() const;

private:
    std::chrono::steady_clock::time_point m_wall_start{};
    std::int64_t m_cpu_start_us = 0;
};

// Reads a "Name:   1234 kB" line of /proc/<pid>/status, in bytes.
std::optional<std::int64_t> parse_proc_status_bytes(std::string_view status, std::string_view key);

} // namespace cellbox::kernel
