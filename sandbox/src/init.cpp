// pid 1 of the sandbox: runs init_steps (launcher.cpp), which end with the payload started,
// then reaps, forwards the launcher's signals to the payload and serves late binding until the
// payload exits. Never returns.
#include "cellbox/sandbox/handover.hpp"
#include "payload.hpp"
#include "steps.hpp"

#include <cstdlib>
#include <fstream>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

// The init is released twice: without root, "m" once its id maps exist (it may build the
// filesystem); always "l" once it is inside the session's cgroups (the payload may start),
// followed by the seccomp filter unless it was compiled ahead (config.filter). The launcher
// compiles the filter and makes the cgroups while the init builds the filesystem (joining a
// v1 memory cgroup can also wait for an RCU grace period, which then overlaps with it). As
// root nothing waits: a socket wakeup would queue the init behind the busy launcher on its CPU.
std::size_t await_release(init_state& s, char expected)
{
    const ssize_t n = recv(s.channel, s.release.data(), s.release.size(), 0);
    if (n < 1 || s.release[0] != expected)
    {
        _exit(125); // the launcher went away, or failed, before releasing us
    }
    return static_cast<std::size_t>(n);
}

// The payload's wait status goes to the launcher; then the init exits, and the kernel kills
// whatever else is left in the namespace.
[[noreturn]] void reap(init_state& s)
{
    close(s.channel);
    if (s.program_fd >= 0)
    {
        close(s.program_fd);
    }
    const sigset_t waited = supervised_signals();
    const unique_fd signals(signalfd(-1, &waited, SFD_CLOEXEC));
    if (!signals)
    {
        throw system_failure("signalfd");
    }
    int init_link = s.init_link;
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
            kill(s.payload, static_cast<int>(info.ssi_signo));
            continue;
        }
        int status = 0;
        pid_t reaped = 0;
        while ((reaped = waitpid(-1, &status, WNOHANG)) > 0)
        {
            if (reaped == s.payload)
            {
                [[maybe_unused]] const ssize_t n = write(s.status_pipe, &status, sizeof status);
                _exit(0);
            }
        }
    }
}

} // namespace

// Error records travel from the sandbox to the launcher over a SOCK_SEQPACKET pair, each an
// internal_error verdict (so that a failed call's errno survives); the launcher sees
// end-of-file once the payload's execve closed the last copy.
void report_setup_error(int channel, const std::string& message,
                        std::optional<contract::system_error> error)
{
    verdict failure;
    failure.kind = "internal_error";
    failure.message = message;
    failure.system_error = std::move(error);
    const std::string record = contract::encode(failure);
    [[maybe_unused]] const ssize_t ignored =
        send(channel, record.data(), record.size(), MSG_NOSIGNAL);
}

void become_init(init_state&)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Out of the launcher's process group: a frontend's killpg() (jupyter_client interrupts
    // that way) reaches the launcher, which forwards it once, instead of reaching us too.
    setsid();
}

void await_id_maps(init_state& s)
{
    if (!s.plan.as_root)
    {
        await_release(s, 'm');
    }
}

void await_limits(init_state& s)
{
    const std::size_t released = await_release(s, 'l');
    if (released > 1)
    {
        s.plan.filter = seccomp_filter::from_bytes(s.release.data() + 1, released - 1);
    }
}

void shield_from_oom(init_state& s)
{
    if (s.plan.as_root)
    {
        // The OOM killer must pick the payload, never the init that reports on it.
        std::ofstream("/proc/self/oom_score_adj") << "-1000";
    }
}

void stop_being_dumpable(init_state&)
{
    // The payload may run as the init's uid: it must not ptrace the init nor open its /proc
    // files.
    prctl(PR_SET_DUMPABLE, 0);
}

void run_init(init_state& s, const init_step* steps, std::size_t count)
{
    try
    {
        run_steps(steps, count, s);
        reap(s);
    }
    catch (const std::exception& e)
    {
        report_setup_error(s.channel, e.what(), contract::system_error_of(e));
        _exit(125);
    }
}

} // namespace cellbox::sandbox
