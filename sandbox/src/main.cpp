// cellbox-sandbox: runs one program isolated (namespaces, seccomp, cgroups, rlimits) and
// reports a verdict. See README.md, "Sandbox".
#include "cellbox/contract/sandbox_cli.hpp"
#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/launcher.hpp"
#include "default_policy_toml.hpp"     // generated from share/cellbox/policies/default.toml
#include "default_seccomp_program.hpp" // its seccomp program, compiled at build time

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <iostream>
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
    if (!file.empty())
    {
        cellbox::contract::write_verdict_file(file, result);
    }
    if (fd >= 0)
    {
        const std::string text = cellbox::contract::encode(result) + "\n";
        [[maybe_unused]] const ssize_t n = write(fd, text.data(), text.size());
    }
}

// What the command line asks for, under the policy it names.
cs::session_config session_of(const cellbox::contract::sandbox_invocation& invocation)
{
    cs::session_config config;
    const cs::policy default_rules = cs::parse_policy(default_policy_toml, "default.toml");
    config.rules =
        invocation.policy_file.empty() ? default_rules : cs::load_policy(invocation.policy_file);
    if (config.rules.allowed_syscalls == default_rules.allowed_syscalls)
    {
        config.filter = cs::seccomp_filter::from_bytes(
            reinterpret_cast<const char*>(default_seccomp_program), sizeof default_seccomp_program);
    }
    config.workdir = invocation.workdir;
    config.ipc_dir = invocation.ipc_dir;
    config.uid = invocation.uid;
    config.argv = invocation.command;
    config.allow_degraded = invocation.allow_degraded;
    for (const auto& [name, value] : invocation.environment)
    {
        config.rules.environment[name] = value;
    }
    cs::override_limits(config.rules.limits, invocation.limits);
    return config;
}

} // namespace

int main(int argc, char* argv[])
{
    CLI::App app{"cellbox-sandbox: run a program isolated by namespaces, seccomp, cgroups and "
                 "rlimits, and report what happened to it"};
    cellbox::contract::sandbox_invocation invocation;
    cellbox::contract::define_sandbox_options(app, invocation);
    cs::session_config config;
    try
    {
        CLI11_PARSE(app, argc, argv);
        invocation.program = argv[0];
        config = session_of(invocation);
        if (invocation.check)
        {
            return print_check(config.rules);
        }
        if (config.argv.empty())
        {
            std::cerr << "cellbox-sandbox: no program given (cellbox-sandbox [options] -- "
                         "PROGRAM ARGS...)\n";
            return 2;
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-sandbox: " << e.what() << "\n";
        return 2;
    }
    cs::session_hooks hooks;
    if (const int late_binding_fd = invocation.late_binding_fd; late_binding_fd >= 0)
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
    write_verdict(result, invocation.verdict_fd, invocation.verdict_file);
    if (result.kind == "internal_error")
    {
        std::cerr << "cellbox-sandbox: " << result.message << "\n";
    }
    return result.exit_status();
}
