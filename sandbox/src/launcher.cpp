#include "cellbox/sandbox/launcher.hpp"

#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/handover.hpp"
#include "cellbox/unique_fd.hpp"
#include "payload.hpp"
#include "seccomp_audit.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <optional>
#include <poll.h>
#include <sched.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cellbox::sandbox
{
namespace
{

using clock = std::chrono::steady_clock;

constexpr int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

sigset_t supervised_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : forwarded_signals)
    {
        sigaddset(&set, sig);
    }
    sigaddset(&set, SIGCHLD);
    return set;
}

std::system_error system_failure(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

extern "C" void ignore_signal(int) {}

// pid 1 of the sandbox. `init_link` (or -1) carries late-binding requests from the launcher.
// Never returns.
[[noreturn]] void run_init(sandbox_plan& plan, const session_hooks& hooks, int channel,
                           int status_pipe, int program_fd, int init_link)
{
    try
    {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        // Out of the launcher's process group: a frontend's killpg() (jupyter_client interrupts
        // that way) reaches the launcher, which forwards it once, instead of reaching us too.
        setsid();
        // Released twice: without root, "m" once our id maps exist (we may build the
        // filesystem); always "l" once we are inside the session's cgroups (the payload may
        // start), followed by the seccomp filter unless it was compiled ahead (config.filter).
        // The launcher compiles the filter and
        // makes the cgroups while we build the filesystem (joining a v1 memory cgroup can also
        // wait for an RCU grace period, which then overlaps with it). As root nothing waits:
        // a socket wakeup would queue us behind the busy launcher on its CPU.
        std::vector<char> record(64 * 1024);
        const auto await_release = [&](char expected)
        {
            const ssize_t n = recv(channel, record.data(), record.size(), 0);
            if (n < 1 || record[0] != expected)
            {
                _exit(125); // the launcher went away, or failed, before releasing us
            }
            return static_cast<std::size_t>(n);
        };
        if (!plan.as_root)
        {
            await_release('m');
        }
        // Only the pid namespace must come with the clone (we are its pid 1); creating the
        // others here overlaps them with the launcher's work (a network namespace alone takes
        // ~0.3 ms).
        if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
        {
            throw system_failure("unshare mount, network, ipc and uts namespaces");
        }
        build_filesystem(plan);
        const std::size_t released = await_release('l');
        if (released > 1)
        {
            plan.filter = seccomp_filter::from_bytes(record.data() + 1, released - 1);
        }
        if (unshare(CLONE_NEWCGROUP) != 0 && !plan.config->allow_degraded)
        {
            throw system_failure("unshare cgroup namespace");
        }
        const std::string& hostname = plan.config->rules.hostname;
        sethostname(hostname.data(), hostname.size());
        if (plan.as_root)
        {
            // The OOM killer must pick the payload, never the init that reports on it.
            std::ofstream("/proc/self/oom_score_adj") << "-1000";
        }
        prctl(PR_SET_DUMPABLE, 0);
        // Forwarded signals wait for the signalfd below; handlers make sure pid 1 is sent them.
        struct sigaction action = {};
        action.sa_handler = ignore_signal;
        for (int sig : forwarded_signals)
        {
            sigaction(sig, &action, nullptr);
        }
        sigaction(SIGCHLD, &action, nullptr);

        // With late binding, an executed payload shares the init's working directory
        // (CLONE_FS, kept across execve): when the user's /work is mounted later, the init
        // moves the payload onto it, whatever program that is (an ipykernel cannot be asked to
        // chdir). The payload cannot change the shared root: seccomp denies chroot, unshare and
        // setns, it has no capabilities, and the kernel refuses setns and CLONE_NEWUSER to a
        // process whose fs_struct is shared. The init resolves absolute paths only and creates
        // no files after this, so the payload's chdir or umask gains it nothing.
        // Not for an in-process payload (a zygote's session): after a raw clone glibc keeps
        // the parent's thread id for the child's main thread (pthread_kill would miss), and
        // execve is what replaces it; such a payload enters /work itself.
        const bool share_cwd = init_link >= 0 && !hooks.payload;
        const pid_t payload = share_cwd ? static_cast<pid_t>(syscall(SYS_clone, CLONE_FS | SIGCHLD,
                                                                     nullptr, nullptr, nullptr, 0))
                                        : fork();
        if (payload < 0)
        {
            throw system_failure("fork the payload");
        }
        if (payload == 0)
        {
            run_payload(plan, hooks, channel, program_fd);
        }
        close(channel);
        if (program_fd >= 0)
        {
            close(program_fd);
        }
        const sigset_t waited = supervised_signals();
        const unique_fd signals(signalfd(-1, &waited, SFD_CLOEXEC));
        if (!signals)
        {
            throw system_failure("signalfd");
        }
        while (true)
        {
            pollfd fds[2] = {{signals.get(), POLLIN, 0}, {init_link, POLLIN, 0}};
            if (poll(fds, init_link >= 0 ? 2 : 1, -1) < 0)
            {
                continue;
            }
            if (init_link >= 0 && fds[1].revents != 0 && !serve_late_binding(init_link))
            {
                close(init_link);
                init_link = -1;
            }
            if (fds[0].revents == 0)
            {
                continue;
            }
            signalfd_siginfo info{};
            if (read(signals.get(), &info, sizeof info) != sizeof info)
            {
                continue;
            }
            if (info.ssi_signo != SIGCHLD)
            {
                kill(payload, static_cast<int>(info.ssi_signo));
                continue;
            }
            int status = 0;
            pid_t reaped = 0;
            while ((reaped = waitpid(-1, &status, WNOHANG)) > 0)
            {
                if (reaped == payload)
                {
                    [[maybe_unused]] const ssize_t n = write(status_pipe, &status, sizeof status);
                    _exit(0); // the kernel kills whatever else is left in the namespace
                }
            }
        }
    }
    catch (const std::exception& e)
    {
        report_setup_failure(channel, e);
        _exit(125);
    }
}

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream file(path);
    file << text;
    file.flush();
    if (!file)
    {
        throw system_failure("write " + path);
    }
}

std::string session_name()
{
    static std::atomic<unsigned> counter{0};
    return "s" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

// Checks a host directory given on the command line; as root, hands it (and, for the ipc
// directory, the files directly in it, e.g. a connection file) to the sandbox's uid, so the
// unprivileged program can use it. Never follows a symlink.
void prepare_directory(const std::string& path, const char* what, const sandbox_plan& plan,
                       bool with_files)
{
    if (path.empty())
    {
        return;
    }
    unique_fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
    {
        throw system_failure(std::string(what) + " " + path);
    }
    if (!plan.as_root)
    {
        return;
    }
    if (fchown(fd.get(), plan.uid, plan.gid) != 0)
    {
        throw system_failure(std::string("hand ") + what + " " + path + " to the sandbox uid");
    }
    if (!with_files)
    {
        return;
    }
    DIR* dir = fdopendir(dup(fd.get()));
    if (dir == nullptr)
    {
        throw system_failure(std::string("list ") + path);
    }
    struct dir_closer
    {
        void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, dir_closer> closer(dir);
    while (const dirent* entry = readdir(dir))
    {
        if (entry->d_type == DT_REG)
        {
            fchownat(fd.get(), entry->d_name, plan.uid, plan.gid, AT_SYMLINK_NOFOLLOW);
        }
    }
}

// Restores the launcher's signal mask when it returns.
class blocked_signals
{
public:
    blocked_signals()
    {
        const sigset_t set = supervised_signals();
        sigprocmask(SIG_BLOCK, &set, &m_previous);
    }
    ~blocked_signals() { sigprocmask(SIG_SETMASK, &m_previous, nullptr); }

private:
    sigset_t m_previous{};
};

void classify(verdict& result, std::optional<int> payload_status, const session_cgroup* cgroup,
              std::uint64_t oom_kills_before)
{
    const bool oom = cgroup != nullptr && cgroup->oom_kills() > oom_kills_before;
    if (!payload_status)
    {
        // The init died without reporting: only an outside SIGKILL or the OOM killer does that.
        result.kind = oom ? "oom" : "signal";
        result.signal = SIGKILL;
        return;
    }
    const int status = *payload_status;
    if (WIFEXITED(status))
    {
        result.exit_code = WEXITSTATUS(status);
        result.kind = result.exit_code == 0 ? "ok" : "exit";
        return;
    }
    result.signal = WTERMSIG(status);
    if (result.signal == SIGKILL && oom)
    {
        result.kind = "oom";
    }
    else if (result.signal == SIGSYS)
    {
        result.kind = "seccomp";
        result.message = "killed by the seccomp filter (a system call of another architecture "
                         "or ABI)";
    }
    else if (result.signal == SIGXCPU)
    {
        result.kind = "timeout_cpu";
    }
    else
    {
        result.kind = "signal";
    }
}

} // namespace

verdict run_sandboxed(const session_config& config, const session_hooks& hooks)
{
    const auto started = clock::now();
    verdict result;
    seccomp_audit_log audit; // from now on: names the call if the filter kills the payload
    std::unique_ptr<session_cgroup> cgroup;
    std::uint64_t oom_kills_before = 0;
    result.kind.clear(); // undecided until the end
    pid_t init = -1;
    try
    {
        if (config.argv.empty() && !hooks.payload)
        {
            throw std::invalid_argument("no program to run");
        }
        sandbox_plan plan;
        plan.config = &config;
        plan.as_root = geteuid() == 0;
        plan.uid = plan.as_root ? config.uid.value_or(config.rules.first_uid) : geteuid();
        plan.gid = plan.as_root ? plan.uid : getegid();
        if (config.filter)
        {
            plan.filter = *config.filter;
        }

        const resource_limits& limits = config.rules.limits;
        const cgroup_support support = session_cgroup::probe();
        const auto require = [&](protection p, bool available, const std::string& why)
        {
            if (available)
            {
                return;
            }
            const bool required =
                std::find(config.rules.required.begin(), config.rules.required.end(), p) !=
                config.rules.required.end();
            if (required && !config.allow_degraded)
            {
                throw std::runtime_error(std::string("the policy requires ") + name_of(p) +
                                         ", which is not available here (" + why +
                                         "); --allow-degraded runs without it");
            }
            result.degraded.push_back(name_of(p));
        };
        require(protection::memory_cgroup, plan.as_root && support.memory, support.reason);
        require(protection::pids_cgroup, plan.as_root && support.pids, support.reason);
        require(protection::cpu_cgroup, plan.as_root && support.cpu, support.reason);
        require(protection::distinct_uid, plan.as_root, "not running as root");
        const bool use_cgroups = plan.as_root && support.version != 0;
        resource_limits in_cgroup = limits;
        if (use_cgroups)
        {
            if (!support.memory)
            {
                in_cgroup.memory_bytes.reset();
            }
            if (!support.pids)
            {
                in_cgroup.pids.reset();
            }
            if (!support.cpu)
            {
                in_cgroup.cpus.reset();
            }
            plan.memory_in_cgroup = in_cgroup.memory_bytes.has_value();
            plan.pids_in_cgroup = in_cgroup.pids.has_value();
        }

        unique_fd program_fd;
        if (!hooks.payload)
        {
            const std::string program = resolve_program(config.argv.front());
            program_fd.reset(open(program.c_str(), O_PATH | O_CLOEXEC));
            if (!program_fd)
            {
                throw system_failure("open program " + program);
            }
        }
        // The sandbox opens them again in its own mount namespace. Except a workdir with
        // another owner on disk: it becomes an idmapped mount, made here (the idmap's user
        // namespace needs root outside) and moved into place by the init, as at late binding.
        unique_fd workdir_tree;
        if (config.owner && !config.workdir.empty())
        {
            workdir_tree = detach_workdir(config.workdir, plan, config.owner);
            plan.workdir_tree = workdir_tree.get();
        }
        else
        {
            prepare_directory(config.workdir, "--workdir", plan, false);
        }
        prepare_directory(config.ipc_dir, "--ipc-dir", plan, true);

        int channel_fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel_fds) != 0)
        {
            throw system_failure("socketpair");
        }
        unique_fd channel(channel_fds[0]), child_channel(channel_fds[1]);
        int status_fds[2];
        if (pipe2(status_fds, O_CLOEXEC) != 0)
        {
            throw system_failure("pipe2");
        }
        unique_fd status_read(status_fds[0]), status_write(status_fds[1]);
        // Late binding needs the init: it is the only process inside allowed to mount.
        unique_fd init_link, init_link_child;
        if (hooks.owner_link >= 0)
        {
            int link_fds[2];
            if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link_fds) != 0)
            {
                throw system_failure("socketpair");
            }
            init_link.reset(link_fds[0]);
            init_link_child.reset(link_fds[1]);
        }

        blocked_signals blocked; // inherited by init, which reads them from a signalfd
        sigset_t forwarded = supervised_signals();
        sigdelset(&forwarded, SIGCHLD);
        unique_fd signals(signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));

        int flags = CLONE_NEWPID; // the other namespaces: the init unshares them itself
        if (!plan.as_root)
        {
            flags |= CLONE_NEWUSER;
        }
        init =
            static_cast<pid_t>(syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0));
        if (init < 0)
        {
            throw system_failure("clone into new namespaces");
        }
        if (init == 0)
        {
            channel.reset();
            status_read.reset();
            init_link.reset();
            run_init(plan, hooks, child_channel.get(), status_write.get(), program_fd.get(),
                     init_link_child.get());
        }
        child_channel.reset();
        status_write.reset();
        init_link_child.reset();
        workdir_tree.reset();
        unique_fd init_fd(static_cast<int>(syscall(SYS_pidfd_open, init, 0)));

        if (!plan.as_root)
        {
            const std::string proc = "/proc/" + std::to_string(init);
            write_file(proc + "/setgroups", "deny");
            write_file(proc + "/gid_map",
                       std::to_string(plan.gid) + " " + std::to_string(getegid()) + " 1\n");
            write_file(proc + "/uid_map",
                       std::to_string(plan.uid) + " " + std::to_string(geteuid()) + " 1\n");
            if (write(channel.get(), "m", 1) != 1)
            {
                throw system_failure("release the sandbox");
            }
        }
        // Compiled and created while the sandbox builds its filesystem. If this fails, closing
        // the channel makes the waiting init exit.
        if (!config.filter)
        {
            plan.filter = seccomp_filter::compile(config.rules.allowed_syscalls);
        }
        if (use_cgroups)
        {
            cgroup = session_cgroup::create(session_name(), in_cgroup);
            oom_kills_before = cgroup->oom_kills();
            cgroup->add_process(init);
        }
        const std::string release =
            std::string("l") + (config.filter ? "" : plan.filter.to_bytes());
        if (send(channel.get(), release.data(), release.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(release.size()))
        {
            throw system_failure("release the sandbox into its limits");
        }

        const std::optional<clock::time_point> wall_deadline =
            limits.wall_time_s
                ? std::optional(started + std::chrono::duration_cast<clock::duration>(
                                              std::chrono::duration<double>(*limits.wall_time_s)))
                : std::nullopt;
        const auto kill_for = [&](const char* kind)
        {
            if (result.kind.empty())
            {
                result.kind = kind; // decided before the kill, so never misread as a signal
                result.signal = SIGKILL;
            }
            kill(init, SIGKILL); // pid 1 gone: the kernel kills the whole namespace
        };
        bool channel_open = true;
        int owner_link = hooks.owner_link;
        while (true)
        {
            pollfd fds[4] = {{init_fd.get(), POLLIN, 0},
                             {signals.get(), POLLIN, 0},
                             {channel_open ? channel.get() : -1, POLLIN, 0},
                             {owner_link, POLLIN, 0}};
            // Idle sessions must not wake: a thousand of them polling ten times a second cost
            // a third of a core. Only a CPU-time limit kept in a cgroup needs sampling.
            int timeout_ms = limits.cpu_time_s && cgroup ? 100 : -1;
            if (wall_deadline)
            {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                                      *wall_deadline - clock::now())
                                      .count();
                const long long cap = timeout_ms < 0 ? 60'000 : timeout_ms;
                timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, cap));
            }
            poll(fds, 4, timeout_ms);
            if (owner_link >= 0 && fds[3].revents != 0)
            {
                std::string request;
                if (!receive_record(owner_link, request))
                {
                    // The owner (the zygote, the gateway) is gone: nobody can use or stop
                    // this session any more.
                    owner_link = -1;
                    result.message = "the session's owner went away";
                    kill(init, SIGKILL);
                }
                else
                {
                    send_record(owner_link,
                                answer_late_binding(request, plan, cgroup.get(), init_link.get()));
                }
            }
            if (fds[2].revents != 0)
            {
                char message[4096];
                const ssize_t n = recv(channel.get(), message, sizeof message, 0);
                if (n > 0)
                {
                    take_setup_failure(std::string_view(message, static_cast<std::size_t>(n)),
                                       result);
                    kill(init, SIGKILL);
                }
                channel_open = false;
            }
            if (fds[1].revents != 0)
            {
                signalfd_siginfo info{};
                while (read(signals.get(), &info, sizeof info) == sizeof info)
                {
                    kill(init, static_cast<int>(info.ssi_signo));
                }
            }
            if (fds[0].revents != 0)
            {
                break;
            }
            if (wall_deadline && clock::now() >= *wall_deadline)
            {
                kill_for("timeout_wall");
            }
            if (limits.cpu_time_s && cgroup &&
                cgroup->cpu_usage_ns() >= static_cast<std::uint64_t>(*limits.cpu_time_s * 1e9))
            {
                kill_for("timeout_cpu");
            }
        }
        int init_status = 0;
        waitpid(init, &init_status, 0);
        init = -1;
        std::optional<int> payload_status;
        int reported = 0;
        if (read(status_read.get(), &reported, sizeof reported) == sizeof reported)
        {
            payload_status = reported;
        }
        if (result.kind.empty())
        {
            classify(result, payload_status, cgroup.get(), oom_kills_before);
            if (result.kind == "seccomp")
            {
                if (auto call = audit.find_kill(plan.uid))
                {
                    result.syscall = *call;
                    result.message = "killed by the seccomp filter for calling " + *call;
                }
            }
        }
        if (result.kind != "internal_error")
        {
            if (cgroup)
            {
                result.peak_memory_bytes = cgroup->peak_memory_bytes();
                result.cpu_ms = cgroup->cpu_usage_ns() / 1000000;
                result.pids_limit_hit = cgroup->pids_limit_hits() > 0;
            }
            else
            {
                rusage usage{};
                getrusage(RUSAGE_CHILDREN, &usage);
                result.peak_memory_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
                result.cpu_ms = static_cast<std::uint64_t>(
                    (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
                    (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000);
            }
        }
    }
    catch (const std::exception& e)
    {
        result.kind = "internal_error";
        result.message = e.what();
        result.system_error = contract::system_error_of(e);
        if (init > 0)
        {
            kill(init, SIGKILL); // a sandbox we failed to set up: its namespace dies with it
            waitpid(init, nullptr, 0);
        }
    }
    if (cgroup)
    {
        cgroup->destroy(); // every task killed, directories removed
    }
    result.wall_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - started).count());
    return result;
}

} // namespace cellbox::sandbox
