#pragma once

#include "cellbox/contract/sandbox_invocation.hpp"

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

// What cellbox-sandbox is told for one kernel (contract::sandbox_invocation::to_argv gives its
// command line): `program` (cellbox-sandbox), the options for `launch`, then the kernelspec's
// `kernel_argv` with {connection_file} filled in. `allow_degraded`: --allow-degraded.
contract::sandbox_invocation sandbox_command(const std::string& program, bool allow_degraded,
                                             const sandbox_launch& launch,
                                             const nlohmann::json& kernel_argv);

} // namespace cellbox::gateway
