// cellbox-sandbox: runs one program isolated (namespaces, seccomp, cgroups, rlimits) and
// reports a verdict. See README.md, "Sandbox".
#include "cellbox/byte_size.hpp"
#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/launcher.hpp"
#include "default_policy_toml.hpp"     // generated from share/cellbox/policies/default.toml
#include "default_seccomp_program.hpp" // its seccomp program, compiled at build time

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace cs = cellbox::sandbox;

namespace
{

int print_check(const cs::policy& rules)
{
    bool all_required = true;
    for (const auto& status : cs::check_protections())
    {
        const bool required = std::find(rules.required.begin(), rules.required.end(),
                                        status.which) != rules.required.end();
        std::cout << (status.available ? "on   " : "off  ") << cs::name_of(status.which)
                  << (required ? " (required)" : "")
                  << (status.note.empty() ? "" : "  - " + status.note) << "\n";
        all_required = all_required && (status.available || !required);
    }
    std::cout << (all_required ? "The policy can be met on this machine.\n"
                               : "The policy cannot be met: a required protection is off.\n");
    if (geteuid() == 0)
    {
        std::cout << (cs::session_cgroup::migrations_are_fast()
                          ? "Launch speed: cgroup migrations are fast (cgroup2 favordynmods).\n"
                          : "Launch speed: joining a cgroup may wait for an RCU grace period (up "
                            "to ~12 ms); remounting a cgroup2 hierarchy with favordynmods "
                            "removes the wait (see README).\n");
    }
    return all_required ? 0 : 1;
}

bool is_seqpacket_socket(int fd)
{
    int type = 0;
    socklen_t length = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_SEQPACKET;
}

void write_verdict(const cs::verdict& result, int fd, const std::string& file)
{
    const std::string text = cs::to_json(result).dump() + "\n";
    if (!file.empty())
    {
        std::ofstream(file) << text;
    }
    if (fd >= 0)
    {
        [[maybe_unused]] const ssize_t n = write(fd, text.data(), text.size());
    }
}

} // namespace

int main(int argc, char* argv[])
{
    CLI::App app{"cellbox-sandbox: run a program isolated by namespaces, seccomp, cgroups and "
                 "rlimits, and report what happened to it"};
    std::string policy_file, memory, verdict_file;
    std::optional<std::uint64_t> pids;
    std::optional<double> cpus, cpu_time, wall_time;
    int verdict_fd = -1;
    bool check = false;
    cs::session_config config;
    app.add_flag("--check", check, "Print which protections this machine can give");
    app.add_option("--policy", policy_file, "Policy file (default: the built-in default.toml)")
        ->check(CLI::ExistingFile);
    app.add_option("--memory", memory, "Memory limit (bytes or K/M/G)");
    app.add_option("--pids", pids, "Maximum number of tasks")->check(CLI::PositiveNumber);
    app.add_option("--cpus", cpus, "CPU quota in cores, e.g. 0.5")->check(CLI::PositiveNumber);
    app.add_option("--cpu-time", cpu_time, "CPU seconds before the program is killed")
        ->check(CLI::PositiveNumber);
    app.add_option("--wall-time", wall_time, "Wall-clock seconds before the program is killed")
        ->check(CLI::PositiveNumber);
    app.add_option("--workdir", config.workdir, "Host directory mounted read-write at /work")
        ->check(CLI::ExistingDirectory);
    app.add_option("--ipc-dir", config.ipc_dir,
                   "Host directory mounted read-write at the same path (ZeroMQ ipc sockets)")
        ->check(CLI::ExistingDirectory);
    app.add_option("--uid", config.uid, "Unprivileged uid/gid of the program (launcher as root)");
    auto* fd_option = app.add_option("--verdict-fd", verdict_fd, "Write the verdict JSON here");
    app.add_option("--verdict-file", verdict_file, "Write the verdict JSON to this file")
        ->excludes(fd_option);
    app.add_flag("--allow-degraded", config.allow_degraded,
                 "Run even when a protection the policy requires is unavailable");
    int late_binding_fd = -1;
    app.add_option("--late-binding-fd", late_binding_fd,
                   "An inherited SOCK_SEQPACKET socket on which the session is bound to its user "
                   "later (a prespawned pool): JSON requests {\"workdir\", \"owner_uid\", "
                   "\"memory\"}, one reply each; its end-of-file ends the session")
        ->check(CLI::NonNegativeNumber);
    std::vector<std::string> extra_environment;
    app.add_option("--setenv", extra_environment,
                   "NAME=VALUE added to the program's environment (repeatable; overrides the "
                   "policy's)")
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
    app.add_option("command", config.argv, "PROGRAM ARGS... (after --)");
    CLI11_PARSE(app, argc, argv);

    try
    {
        const cs::policy default_rules = cs::parse_policy(default_policy_toml, "default.toml");
        config.rules = policy_file.empty() ? default_rules : cs::load_policy(policy_file);
        if (config.rules.allowed_syscalls == default_rules.allowed_syscalls)
        {
            config.filter = cs::seccomp_filter::from_bytes(
                reinterpret_cast<const char*>(default_seccomp_program),
                sizeof default_seccomp_program);
        }
        if (check)
        {
            return print_check(config.rules);
        }
        if (config.argv.empty())
        {
            std::cerr << "cellbox-sandbox: no program given (cellbox-sandbox [options] -- "
                         "PROGRAM ARGS...)\n";
            return 2;
        }
        for (const auto& assignment : extra_environment)
        {
            static const std::regex name(R"([A-Za-z_][A-Za-z0-9_]*)");
            const auto equals = assignment.find('=');
            if (equals == std::string::npos ||
                !std::regex_match(assignment.substr(0, equals), name))
            {
                std::cerr << "cellbox-sandbox: --setenv expects NAME=VALUE, got '" << assignment
                          << "'\n";
                return 2;
            }
            config.rules.environment[assignment.substr(0, equals)] = assignment.substr(equals + 1);
        }
        auto& limits = config.rules.limits;
        if (!memory.empty())
        {
            limits.memory_bytes = cellbox::parse_byte_size(memory);
        }
        if (pids)
        {
            limits.pids = pids;
        }
        if (cpus)
        {
            limits.cpus = cpus;
        }
        if (cpu_time)
        {
            limits.cpu_time_s = cpu_time;
        }
        if (wall_time)
        {
            limits.wall_time_s = wall_time;
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-sandbox: " << e.what() << "\n";
        return 2;
    }
    cs::session_hooks hooks;
    if (late_binding_fd >= 0)
    {
        if (!is_seqpacket_socket(late_binding_fd))
        {
            std::cerr << "cellbox-sandbox: --late-binding-fd " << late_binding_fd
                      << " is not an open SOCK_SEQPACKET socket\n";
            return 2;
        }
        fcntl(late_binding_fd, F_SETFD, FD_CLOEXEC);
        hooks.owner_link = late_binding_fd;
    }
    const cs::verdict result = cs::run_sandboxed(config, hooks);
    write_verdict(result, verdict_fd, verdict_file);
    if (result.kind == "internal_error")
    {
        std::cerr << "cellbox-sandbox: " << result.message << "\n";
    }
    return result.exit_status();
}
