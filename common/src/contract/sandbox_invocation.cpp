// cellbox-sandbox's command line, both ways: each option's name is written once, below, and
// used by to_argv (the gateway) and by define_sandbox_options (the sandbox's main).
#include "cellbox/contract/sandbox_invocation.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/contract/sandbox_cli.hpp"
#include "json_fields.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <regex>

namespace cellbox::contract
{
namespace
{

namespace option
{
constexpr const char* check = "--check";
constexpr const char* policy = "--policy";
constexpr const char* memory = "--memory";
constexpr const char* pids = "--pids";
constexpr const char* cpus = "--cpus";
constexpr const char* cpu_time = "--cpu-time";
constexpr const char* wall_time = "--wall-time";
constexpr const char* workdir = "--workdir";
constexpr const char* ipc_dir = "--ipc-dir";
constexpr const char* uid = "--uid";
constexpr const char* verdict_fd = "--verdict-fd";
constexpr const char* verdict_file = "--verdict-file";
constexpr const char* allow_degraded = "--allow-degraded";
constexpr const char* late_binding_fd = "--late-binding-fd";
constexpr const char* setenv = "--setenv";
} // namespace option

// The shortest text that reads back as the same double.
std::string number_text(double value)
{
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

// NAME=VALUE, NAME a shell variable name.
std::pair<std::string, std::string> assignment_of(const std::string& text)
{
    static const std::regex name(R"([A-Za-z_][A-Za-z0-9_]*)");
    const auto equals = text.find('=');
    if (equals == std::string::npos || !std::regex_match(text.substr(0, equals), name))
    {
        throw std::invalid_argument(std::string(option::setenv) + " expects NAME=VALUE, got '" +
                                    text + "'");
    }
    return {text.substr(0, equals), text.substr(equals + 1)};
}

} // namespace

std::vector<std::string> sandbox_invocation::to_argv() const
{
    std::vector<std::string> argv = {program};
    const auto give = [&argv](const char* name, std::string value)
    {
        argv.emplace_back(name);
        argv.push_back(std::move(value));
    };
    if (check)
    {
        argv.emplace_back(option::check);
    }
    if (!policy_file.empty())
    {
        give(option::policy, policy_file);
    }
    if (limits.memory_bytes)
    {
        give(option::memory, std::to_string(*limits.memory_bytes));
    }
    if (limits.pids)
    {
        give(option::pids, std::to_string(*limits.pids));
    }
    if (limits.cpus)
    {
        give(option::cpus, number_text(*limits.cpus));
    }
    if (limits.cpu_time_s)
    {
        give(option::cpu_time, number_text(*limits.cpu_time_s));
    }
    if (limits.wall_time_s)
    {
        give(option::wall_time, number_text(*limits.wall_time_s));
    }
    if (!workdir.empty())
    {
        give(option::workdir, workdir);
    }
    if (!ipc_dir.empty())
    {
        give(option::ipc_dir, ipc_dir);
    }
    if (uid)
    {
        give(option::uid, std::to_string(*uid));
    }
    if (verdict_fd >= 0)
    {
        give(option::verdict_fd, std::to_string(verdict_fd));
    }
    if (!verdict_file.empty())
    {
        give(option::verdict_file, verdict_file);
    }
    if (allow_degraded)
    {
        argv.emplace_back(option::allow_degraded);
    }
    if (late_binding_fd >= 0)
    {
        give(option::late_binding_fd, std::to_string(late_binding_fd));
    }
    for (const auto& [name, value] : environment)
    {
        give(option::setenv, name + "=" + value);
    }
    if (!command.empty())
    {
        argv.emplace_back("--");
        argv.insert(argv.end(), command.begin(), command.end());
    }
    return argv;
}

bool sandbox_invocation::operator==(const sandbox_invocation& other) const
{
    return program == other.program && check == other.check && policy_file == other.policy_file &&
           limits == other.limits && workdir == other.workdir && ipc_dir == other.ipc_dir &&
           uid == other.uid && verdict_fd == other.verdict_fd &&
           verdict_file == other.verdict_file && allow_degraded == other.allow_degraded &&
           late_binding_fd == other.late_binding_fd && environment == other.environment &&
           command == other.command;
}

void define_sandbox_options(CLI::App& app, sandbox_invocation& invocation)
{
    app.add_flag(option::check, invocation.check, "Print which protections this machine can give");
    app.add_option(option::policy, invocation.policy_file,
                   "Policy file (default: the built-in default.toml)")
        ->check(CLI::ExistingFile);
    app.add_option_function<std::string>(
        option::memory,
        [&invocation](const std::string& text)
        { invocation.limits.memory_bytes = cellbox::parse_byte_size(text); },
        "Memory limit (bytes or K/M/G)");
    app.add_option(option::pids, invocation.limits.pids, "Maximum number of tasks")
        ->check(CLI::PositiveNumber);
    app.add_option(option::cpus, invocation.limits.cpus, "CPU quota in cores, e.g. 0.5")
        ->check(CLI::PositiveNumber);
    app.add_option(option::cpu_time, invocation.limits.cpu_time_s,
                   "CPU seconds before the program is killed")
        ->check(CLI::PositiveNumber);
    app.add_option(option::wall_time, invocation.limits.wall_time_s,
                   "Wall-clock seconds before the program is killed")
        ->check(CLI::PositiveNumber);
    app.add_option(option::workdir, invocation.workdir,
                   "Host directory mounted read-write at /work")
        ->check(CLI::ExistingDirectory);
    app.add_option(option::ipc_dir, invocation.ipc_dir,
                   "Host directory mounted read-write at the same path (ZeroMQ ipc sockets)")
        ->check(CLI::ExistingDirectory);
    app.add_option(option::uid, invocation.uid,
                   "Unprivileged uid/gid of the program (launcher as root)");
    auto* fd_option =
        app.add_option(option::verdict_fd, invocation.verdict_fd, "Write the verdict JSON here");
    app.add_option(option::verdict_file, invocation.verdict_file,
                   "Write the verdict JSON to this file")
        ->excludes(fd_option);
    app.add_flag(option::allow_degraded, invocation.allow_degraded,
                 "Run even when a protection the policy requires is unavailable");
    app.add_option(option::late_binding_fd, invocation.late_binding_fd,
                   "An inherited SOCK_SEQPACKET socket on which the session is bound to its user "
                   "later (a prespawned pool): JSON requests {\"workdir\", \"owner_uid\", "
                   "\"memory\"}, one reply each; its end-of-file ends the session")
        ->check(CLI::NonNegativeNumber);
    app.add_option_function<std::vector<std::string>>(
           option::setenv,
           [&invocation](const std::vector<std::string>& assignments)
           {
               for (const auto& text : assignments)
               {
                   invocation.environment.push_back(assignment_of(text));
               }
           },
           "NAME=VALUE added to the program's environment (repeatable; overrides the policy's)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    app.add_option("command", invocation.command, "PROGRAM ARGS... (after --)");
}

decoded<sandbox_invocation> parse_sandbox_invocation(const std::vector<std::string>& argv)
{
    return detail::decode(
        [&]
        {
            if (argv.empty())
            {
                throw std::invalid_argument("a command line starts with the program");
            }
            sandbox_invocation invocation;
            invocation.program = argv.front();
            CLI::App app;
            define_sandbox_options(app, invocation);
            // CLI11 takes the arguments last first, without the program.
            app.parse(std::vector<std::string>(argv.rbegin(), argv.rend() - 1));
            return invocation;
        });
}

} // namespace cellbox::contract
