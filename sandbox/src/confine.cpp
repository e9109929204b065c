// What the payload process does to itself before execve (nsjail's contain step): the order
// matters, see ../shared/reference/sandboxing.md §3.4.
#include "cellbox/sandbox/session.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <sched.h>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

void set_limit(int resource, rlim_t soft, rlim_t hard, const char* name)
{
    const rlimit limit{soft, hard};
    if (setrlimit(resource, &limit) != 0)
    {
        fail(std::string("setrlimit ") + name);
    }
}

int last_capability()
{
    std::ifstream file("/proc/sys/kernel/cap_last_cap");
    int last = CAP_LAST_CAP;
    file >> last;
    return last;
}

void reset_signals()
{
    for (int sig = 1; sig < NSIG; ++sig)
    {
        signal(sig, SIG_DFL); // fails harmlessly for SIGKILL, SIGSTOP and reserved ones
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
}

void apply_rlimits(const sandbox_plan& plan)
{
    const resource_limits& limits = plan.config->rules.limits;
    set_limit(RLIMIT_CORE, 0, 0, "CORE");
    set_limit(RLIMIT_NOFILE, limits.open_files, limits.open_files, "NOFILE");
    set_limit(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes, "FSIZE");
    set_limit(RLIMIT_MEMLOCK, 64 * 1024, 64 * 1024, "MEMLOCK");
    set_limit(RLIMIT_MSGQUEUE, 0, 0, "MSGQUEUE");
    set_limit(RLIMIT_RTPRIO, 0, 0, "RTPRIO");
    if (limits.cpu_time_s)
    {
        // SIGXCPU at the soft limit, SIGKILL one second later; the launcher also watches.
        const auto seconds = static_cast<rlim_t>(*limits.cpu_time_s + 0.999);
        set_limit(RLIMIT_CPU, seconds, seconds + 1, "CPU");
    }
    if (limits.memory_bytes && !plan.memory_in_cgroup)
    {
        set_limit(RLIMIT_AS, *limits.memory_bytes, *limits.memory_bytes, "AS");
    }
    if (limits.pids && !plan.pids_in_cgroup && plan.as_root)
    {
        // Counts per real uid host-wide: only meaningful with a uid of the session's own.
        set_limit(RLIMIT_NPROC, *limits.pids, *limits.pids, "NPROC");
    }
}

void set_scheduling(const sandbox_plan& plan)
{
    if (plan.config->rules.scheduling != cpu_scheduling::batch)
    {
        return;
    }
    // Inherited by every thread and child the payload makes (the zygote's session: its
    // interpreter's threads start later, so they inherit it too).
    const sched_param param{};
    if (sched_setscheduler(0, SCHED_BATCH, &param) != 0)
    {
        fail("sched_setscheduler SCHED_BATCH");
    }
}

void drop_capabilities_and_identity(const sandbox_plan& plan)
{
    // The bounding set can only shrink while CAP_SETPCAP is held: before the uid switch.
    const int last = last_capability();
    for (int cap = 0; cap <= last; ++cap)
    {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
        {
            fail("drop capability " + std::to_string(cap));
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (plan.as_root)
    {
        if (setgroups(0, nullptr) != 0 || setresgid(plan.gid, plan.gid, plan.gid) != 0 ||
            setresuid(plan.uid, plan.uid, plan.uid) != 0)
        {
            fail("switch to uid " + std::to_string(plan.uid));
        }
        if (setuid(0) == 0)
        {
            errno = EPERM;
            fail("uid 0 could be regained");
        }
    }
    // Empty every capability set explicitly (in a user namespace we still hold them all).
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capset, &header, data) != 0)
    {
        fail("capset");
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    {
        fail("no_new_privs");
    }
}

void reset_environment(const sandbox_plan& plan)
{
    clearenv();
    for (const auto& [key, value] : plan.config->rules.environment)
    {
        setenv(key.c_str(), value.c_str(), 1);
    }
}

void close_descriptors_at_exec()
{
    // Every inherited descriptor above stdio closes at execve; the ones still needed until
    // then (the program's O_PATH descriptor, the error channel) keep working until that moment.
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    {
        fail("close_range");
    }
}

} // namespace

void confine_process(const sandbox_plan& plan)
{
    if (setsid() < 0)
    {
        fail("setsid");
    }
    reset_signals();
    std::ofstream("/proc/self/oom_score_adj") << "0"; // the init lowered it for itself
    apply_rlimits(plan);
    set_scheduling(plan);
    drop_capabilities_and_identity(plan);
    if (chdir("/work") != 0)
    {
        fail("chdir /work");
    }
    reset_environment(plan);
    close_descriptors_at_exec();
    if (plan.filter.apply() != 0)
    {
        fail("load the seccomp filter");
    }
}

std::string resolve_program(const std::string& name)
{
    if (name.find('/') != std::string::npos)
    {
        return name;
    }
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':'))
    {
        const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
        if (access(candidate.c_str(), X_OK) == 0)
        {
            return candidate;
        }
    }
    return name;
}

} // namespace cellbox::sandbox
