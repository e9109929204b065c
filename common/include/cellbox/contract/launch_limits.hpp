#pragma once
// The limits one launch asks for, over its policy's (each one given replaces the policy's):
// given to cellbox-sandbox on its command line (sandbox_invocation) or to the zygote in a spawn
// request (zygote_spawn).
#include <cstdint>
#include <optional>

namespace cellbox::contract
{

struct launch_limits
{
    std::optional<std::uint64_t> memory_bytes; // the memory cgroup's limit
    std::optional<std::uint64_t> pids;         // tasks
    std::optional<double> cpus;                // CPU quota in cores (0.5 = half a core)
    std::optional<double> cpu_time_s;          // CPU seconds before the session is killed
    std::optional<double> wall_time_s;         // wall-clock seconds before it is killed

    bool operator==(const launch_limits& other) const
    {
        return memory_bytes == other.memory_bytes && pids == other.pids && cpus == other.cpus &&
               cpu_time_s == other.cpu_time_s && wall_time_s == other.wall_time_s;
    }
    bool operator!=(const launch_limits& other) const { return !(*this == other); }
};

} // namespace cellbox::contract
