// run_sandboxed: the steps of a session in their order, as nsjail's containProc lists its own.
// Each step is a function in the file of its isolation step (steps.hpp lists them by file); a
// step that fails names itself in the verdict ("cgroups step: ..."; from inside the sandbox,
// "sandbox setup failed: filesystem step: ...").
#include "cellbox/sandbox/launcher.hpp"

#include "steps.hpp"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <iterator>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

// The sandbox's pid 1, in its new pid namespace (and, without root, user namespace), in order.
// It waits for the launcher twice (the "await" steps, see init.cpp).
constexpr init_step init_steps[] = {
    {"session", become_init},                       // init.cpp: dies with the launcher
    {"await id maps", await_id_maps},               // init.cpp: without root
    {"namespaces", unshare_namespaces},             // namespaces.cpp: mount, net, ipc, uts
    {"filesystem", enter_filesystem},               // mount_tree.cpp: new root, pivot_root
    {"await limits", await_limits},                 // init.cpp: in the cgroups; the filter
    {"cgroup namespace", unshare_cgroup_namespace}, // namespaces.cpp
    {"hostname", set_hostname},                     // namespaces.cpp
    {"oom score", shield_from_oom},                 // init.cpp: as root
    {"not dumpable", stop_being_dumpable},          // init.cpp
    {"signal handlers", catch_forwarded_signals},   // signals.cpp
    {payload_step, start_payload},                  // payload.cpp: confine_process, execve
};

// The launcher, in order. Before the clone it checks and opens everything the sandbox needs;
// after it, it works (id maps, filter, cgroups) while the init builds its filesystem.
constexpr launch_step parent_steps[] = {
    {"plan", plan_session},                       // launcher.cpp: ids, a filter compiled ahead
    {"protections", require_protections},         // protections.cpp: refuse, or run degraded
    {"limits", plan_limits},                      // cgroup.cpp: cgroups, or rlimits in their place
    {"program", open_program},                    // payload.cpp: O_PATH, before the new root
    {"directories", prepare_directories},         // mount_tree.cpp: workdir, ipc dir
    {"channels", open_channels},                  // launcher.cpp: to and from the init
    {"signals", block_signals},                   // signals.cpp: forwarded to the payload
    {"clone", clone_init},                        // launcher.cpp: the init runs init_steps
    {"id maps", write_id_maps},                   // namespaces.cpp: without root
    {"release to mount", release_to_mount},       // launcher.cpp: without root
    {"seccomp", compile_filter},                  // seccomp_filter.cpp: unless compiled ahead
    {"cgroups", join_cgroups},                    // cgroup.cpp: the init joins them
    {"release into limits", release_into_limits}, // launcher.cpp: the payload may start
};

} // namespace

std::string step_error(const char* name, const std::exception& e)
{
    return std::string(name) + " step: " + e.what();
}

void plan_session(launch_state& s)
{
    const session_config& config = s.config;
    if (config.argv.empty() && !s.hooks.payload)
    {
        throw std::invalid_argument("no program to run");
    }
    sandbox_plan& plan = s.plan;
    plan.config = &config;
    plan.as_root = geteuid() == 0;
    plan.uid = plan.as_root ? config.uid.value_or(config.rules.first_uid) : geteuid();
    plan.gid = plan.as_root ? plan.uid : getegid();
    if (config.filter)
    {
        plan.filter = *config.filter;
    }
}

void open_channels(launch_state& s)
{
    int channel_fds[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel_fds) != 0)
    {
        throw system_failure("socketpair");
    }
    s.channel.reset(channel_fds[0]);
    s.child_channel.reset(channel_fds[1]);
    int status_fds[2];
    if (pipe2(status_fds, O_CLOEXEC) != 0)
    {
        throw system_failure("pipe2");
    }
    s.status_read.reset(status_fds[0]);
    s.status_write.reset(status_fds[1]);
    // Late binding needs the init: it is the only process inside allowed to mount.
    if (s.hooks.owner_link >= 0)
    {
        int link_fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link_fds) != 0)
        {
            throw system_failure("socketpair");
        }
        s.init_link.reset(link_fds[0]);
        s.init_link_child.reset(link_fds[1]);
    }
}

void clone_init(launch_state& s)
{
    // Only the pid namespace must come with the clone (the init is its pid 1); the init
    // unshares the others itself (namespaces.cpp).
    int flags = CLONE_NEWPID;
    if (!s.plan.as_root)
    {
        flags |= CLONE_NEWUSER;
    }
    pid_t& init = s.record.init;
    init = static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
    if (init < 0)
    {
        throw system_failure("clone into new namespaces");
    }
    if (init == 0)
    {
        s.channel.reset();
        s.status_read.reset();
        s.init_link.reset();
        init_state child{s.plan,
                         s.hooks,
                         s.child_channel.get(),
                         s.status_write.get(),
                         s.program_fd.get(),
                         s.init_link_child.get()};
        run_init(child, init_steps, std::size(init_steps));
    }
    s.child_channel.reset();
    s.status_write.reset();
    s.init_link_child.reset();
    s.workdir_tree.reset();
    s.init_fd.reset(static_cast<int>(syscall(SYS_pidfd_open, init, 0)));
}

void release_to_mount(launch_state& s)
{
    if (!s.plan.as_root && write(s.channel.get(), "m", 1) != 1)
    {
        throw system_failure("release the sandbox");
    }
}

void release_into_limits(launch_state& s)
{
    // With the filter, unless the init has it already (compiled ahead, in its plan).
    const std::string release =
        std::string("l") + (s.config.filter ? "" : s.plan.filter.to_bytes());
    if (send(s.channel.get(), release.data(), release.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(release.size()))
    {
        throw system_failure("release the sandbox into its limits");
    }
}

verdict run_sandboxed(const session_config& config, const session_hooks& hooks)
{
    launch_record record;
    record.result.kind.clear(); // undecided until the end
    try
    {
        launch_state state(config, hooks, record);
        run_steps(parent_steps, state);
        supervise(state);
        conclude(state);
    }
    catch (const std::exception& e)
    {
        record.result.kind = "internal_error";
        record.result.message = e.what();
        record.result.system_error = contract::system_error_of(e);
        if (record.init > 0)
        {
            kill(record.init, SIGKILL); // a sandbox we failed to set up: its namespace dies
            waitpid(record.init, nullptr, 0);
        }
    }
    if (record.cgroup)
    {
        record.cgroup->destroy(); // every task killed, directories removed
    }
    record.result.wall_ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - record.started)
                                       .count());
    return record.result;
}

} // namespace cellbox::sandbox
