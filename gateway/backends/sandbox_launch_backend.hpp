#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

// Launching a kernel through cellbox-sandbox: its command line.
namespace cellbox::gateway
{

// What cellbox-sandbox is told for one kernel.
struct sandbox_launch
{
    std::string directory; // the kernel's private directory (ipc, connection, verdict)
    std::string workdir;   // at /work ("": bound later, with the user's memory limit)
    std::uint32_t uid;
    std::uint64_t memory_bytes;
    std::map<std::string, std::string> env; // KERNEL_* variables
};

// What the kernel itself enforces (MemoryError, state kept), a little below the cgroup's hard
// limit so that most overruns never reach the OOM killer.
std::uint64_t soft_memory_limit(std::uint64_t hard);

// cellbox-sandbox's argv for one kernel: `program` (cellbox-sandbox), its options for `launch`,
// `extra_args` (e.g. --allow-degraded), then the kernelspec's `kernel_argv` with
// {connection_file} filled in.
std::vector<std::string> sandbox_command(const std::string& program,
                                         const std::vector<std::string>& extra_args,
                                         const sandbox_launch& launch,
                                         const nlohmann::json& kernel_argv);

} // namespace cellbox::gateway
