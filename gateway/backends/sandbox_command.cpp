#include "backends/sandbox_command.hpp"

#include "protocol/connection_info.hpp"

#include <algorithm>

namespace cellbox::gateway
{
namespace
{

std::string replace_all(std::string text, const std::string& from, const std::string& to)
{
    for (std::size_t pos = 0; (pos = text.find(from, pos)) != std::string::npos; pos += to.size())
    {
        text.replace(pos, from.size(), to);
    }
    return text;
}

} // namespace

// What the kernel itself enforces (MemoryError, state kept), a little below the cgroup's hard
// limit so that most overruns never reach the OOM killer.
std::uint64_t soft_memory_limit(std::uint64_t hard)
{
    const std::uint64_t margin = std::max<std::uint64_t>(hard / 8, 32ull << 20);
    return hard > 2 * margin ? hard - margin : hard / 2;
}

contract::sandbox_invocation sandbox_command(const std::string& program, bool allow_degraded,
                                             const sandbox_launch& launch,
                                             const nlohmann::json& kernel_argv)
{
    contract::sandbox_invocation sandbox;
    sandbox.program = program;
    sandbox.ipc_dir = ipc_dir_of(launch.directory);
    sandbox.uid = launch.uid;
    sandbox.limits.memory_bytes = launch.memory_bytes;
    sandbox.verdict_file = verdict_file_of(launch.directory);
    sandbox.allow_degraded = allow_degraded;
    if (!launch.workdir.empty())
    {
        // Bound now: the user's limit is known, and the kernel can enforce it a little below.
        sandbox.workdir = launch.workdir;
        sandbox.environment.emplace_back("CELLBOX_MEMORY_LIMIT",
                                         std::to_string(soft_memory_limit(launch.memory_bytes)));
    }
    sandbox.environment.insert(sandbox.environment.end(), launch.env.begin(), launch.env.end());
    const std::string connection_file = connection_file_of(launch.directory);
    for (const auto& arg : kernel_argv)
    {
        sandbox.command.push_back(
            replace_all(arg.get<std::string>(), "{connection_file}", connection_file));
    }
    return sandbox;
}

} // namespace cellbox::gateway
