// The launcher once the init is released: it watches the session (timers, the owner's late
// binding, setup errors from inside, signals to forward) until the init is gone, then
// classifies the end into a verdict with the session's usage.
#include "cellbox/sandbox/handover.hpp"
#include "steps.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

using clock = std::chrono::steady_clock;

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

// One late-binding request from the owner, answered; false once the owner is gone.
bool serve_owner(launch_state& s, int owner_link)
{
    std::string request;
    if (!receive_record(owner_link, request))
    {
        return false;
    }
    send_record(owner_link,
                answer_late_binding(request, s.plan, s.record.cgroup.get(), s.init_link.get()));
    return true;
}

} // namespace

void supervise(launch_state& s)
{
    launch_record& r = s.record;
    const resource_limits& limits = s.config.rules.limits;
    const std::optional<clock::time_point> wall_deadline =
        limits.wall_time_s
            ? std::optional(r.started + std::chrono::duration_cast<clock::duration>(
                                            std::chrono::duration<double>(*limits.wall_time_s)))
            : std::nullopt;
    const auto kill_for = [&](const char* kind)
    {
        if (r.result.kind.empty())
        {
            r.result.kind = kind; // decided before the kill, so never misread as a signal
            r.result.signal = SIGKILL;
        }
        kill(r.init, SIGKILL); // pid 1 gone: the kernel kills the whole namespace
    };
    bool channel_open = true;
    int owner_link = s.hooks.owner_link;
    while (true)
    {
        pollfd fds[4] = {{s.init_fd.get(), POLLIN, 0},
                         {s.signals.get(), POLLIN, 0},
                         {channel_open ? s.channel.get() : -1, POLLIN, 0},
                         {owner_link, POLLIN, 0}};
        // Idle sessions must not wake: a thousand of them polling ten times a second cost
        // a third of a core. Only a CPU-time limit kept in a cgroup needs sampling.
        int timeout_ms = limits.cpu_time_s && r.cgroup ? 100 : -1;
        if (wall_deadline)
        {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*wall_deadline - clock::now())
                    .count();
            const long long cap = timeout_ms < 0 ? 60'000 : timeout_ms;
            timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, cap));
        }
        poll(fds, 4, timeout_ms);
        if (owner_link >= 0 && fds[3].revents != 0 && !serve_owner(s, owner_link))
        {
            // The owner (the zygote, the gateway) is gone: nobody can use or stop this
            // session any more.
            owner_link = -1;
            r.result.message = "the session's owner went away";
            kill(r.init, SIGKILL);
        }
        if (fds[2].revents != 0)
        {
            char message[4096];
            const ssize_t n = recv(s.channel.get(), message, sizeof message, 0);
            if (n > 0)
            {
                // A verdict of the init's or the payload's (report_setup_error).
                const std::string_view record(message, static_cast<std::size_t>(n));
                const auto failure = contract::decode_verdict(record);
                r.result.kind = "internal_error";
                r.result.message =
                    "sandbox setup failed: " + (failure ? failure->message : std::string(record));
                r.result.system_error = failure ? failure->system_error : std::nullopt;
                kill(r.init, SIGKILL);
            }
            channel_open = false;
        }
        if (fds[1].revents != 0)
        {
            signalfd_siginfo info{};
            while (read(s.signals.get(), &info, sizeof info) == sizeof info)
            {
                kill(r.init, static_cast<int>(info.ssi_signo));
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
        if (limits.cpu_time_s && r.cgroup &&
            r.cgroup->cpu_usage_ns() >= static_cast<std::uint64_t>(*limits.cpu_time_s * 1e9))
        {
            kill_for("timeout_cpu");
        }
    }
}

void conclude(launch_state& s)
{
    launch_record& r = s.record;
    int init_status = 0;
    waitpid(r.init, &init_status, 0);
    r.init = -1;
    std::optional<int> payload_status;
    int reported = 0;
    if (read(s.status_read.get(), &reported, sizeof reported) == sizeof reported)
    {
        payload_status = reported;
    }
    verdict& result = r.result;
    if (result.kind.empty())
    {
        classify(result, payload_status, r.cgroup.get(), r.oom_kills_before);
        if (result.kind == "seccomp")
        {
            if (auto call = r.audit.find_kill(s.plan.uid))
            {
                result.syscall = *call;
                result.message = "killed by the seccomp filter for calling " + *call;
            }
        }
    }
    if (result.kind == "internal_error")
    {
        return;
    }
    if (r.cgroup)
    {
        result.peak_memory_bytes = r.cgroup->peak_memory_bytes();
        result.cpu_ms = r.cgroup->cpu_usage_ns() / 1000000;
        result.pids_limit_hit = r.cgroup->pids_limit_hits() > 0;
    }
    else
    {
        rusage usage{};
        getrusage(RUSAGE_CHILDREN, &usage);
        result.peak_memory_bytes = static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
        result.cpu_ms =
            static_cast<std::uint64_t>((usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000 +
                                       (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000);
    }
}

} // namespace cellbox::sandbox
