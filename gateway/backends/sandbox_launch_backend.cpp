#include "backends/sandbox_launch_backend.hpp"

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

std::vector<std::string> sandbox_command(const std::string& program,
                                         const std::vector<std::string>& extra_args,
                                         const sandbox_launch& launch,
                                         const nlohmann::json& kernel_argv)
{
    std::vector<std::string> argv = {program,
                                     "--ipc-dir",
                                     ipc_dir_of(launch.directory),
                                     "--uid",
                                     std::to_string(launch.uid),
                                     "--memory",
                                     std::to_string(launch.memory_bytes),
                                     "--verdict-file",
                                     verdict_file_of(launch.directory)};
    if (!launch.workdir.empty())
    {
        // Bound now: the user's limit is known, and the kernel can enforce it a little below.
        argv.insert(argv.begin() + 1, {"--workdir", launch.workdir, "--setenv",
                                       "CELLBOX_MEMORY_LIMIT=" +
                                           std::to_string(soft_memory_limit(launch.memory_bytes))});
    }
    for (const auto& [name, value] : launch.env)
    {
        argv.push_back("--setenv");
        argv.push_back(name + "=" + value);
    }
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    argv.emplace_back("--");
    const std::string connection_file = connection_file_of(launch.directory);
    for (const auto& arg : kernel_argv)
    {
        argv.push_back(replace_all(arg.get<std::string>(), "{connection_file}", connection_file));
    }
    return argv;
}

} // namespace cellbox::gateway
