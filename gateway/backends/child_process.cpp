#include "backends/child_process.hpp"

#include "cellbox/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <string_view>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

extern char** environ;

namespace cellbox::gateway
{
namespace
{

// Lower than any descriptor the child keeps (0-3): the child moves its descriptors here first,
// so that placing one on 0-3 never overwrites another still to be placed.
constexpr int out_of_the_way = 10;

bool allowed(std::string_view name)
{
    static constexpr std::string_view exact[] = {"PATH",         "LANG",         "LANGUAGE",
                                                 "TZ",           "ASAN_OPTIONS", "UBSAN_OPTIONS",
                                                 "LSAN_OPTIONS", "TSAN_OPTIONS", "MSAN_OPTIONS"};
    return std::find(std::begin(exact), std::end(exact), name) != std::end(exact) ||
           name.substr(0, 3) == "LC_";
}

} // namespace

std::vector<std::string> child_environment(const char* const* environment)
{
    std::vector<std::string> kept;
    bool has_path = false;
    for (const char* const* entry = environment != nullptr ? environment : environ;
         *entry != nullptr; ++entry)
    {
        const std::string_view text = *entry;
        const std::string_view name = text.substr(0, text.find('='));
        if (name.size() < text.size() && allowed(name))
        {
            kept.emplace_back(text);
            has_path = has_path || name == "PATH";
        }
    }
    if (!has_path)
    {
        kept.emplace_back("PATH=/usr/local/bin:/usr/bin:/bin"); // the launcher looks programs up
    }
    return kept;
}

pid_t spawn_in_own_session(std::vector<std::string> argv, const std::string& what,
                           const child_stdio& stdio)
{
    // Built before the fork: the child only calls async-signal-safe functions.
    std::vector<std::string> environment = child_environment();
    std::vector<char*> raw, raw_environment;
    for (auto& arg : argv)
    {
        raw.push_back(arg.data());
    }
    raw.push_back(nullptr);
    for (auto& variable : environment)
    {
        raw_environment.push_back(variable.data());
    }
    raw_environment.push_back(nullptr);
    const unique_fd null(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!null)
    {
        throw std::system_error(errno, std::generic_category(), "open /dev/null for " + what);
    }
    // Every signal blocked across the fork: until it has reset them, the child runs the
    // gateway's handlers, and Asio's write to a self-pipe it shares with the gateway — a
    // SIGTERM sent to a launcher that had not reached execve yet (a DELETE right after a
    // restart) would shut the gateway down.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0)
    {
        const int fork_error = errno;
        pthread_sigmask(SIG_SETMASK, &before, nullptr);
        if (pid < 0)
        {
            throw std::system_error(fork_error, std::generic_category(), "fork " + what);
        }
        return pid;
    }
    setsid();
    // The gateway's children die with it: after a SIGKILL of the gateway, a sandbox nobody
    // can reach or reap any more must not run on (the next gateway reports its kernel lost).
    // Children are started from the manager's thread, which lives as long as the gateway
    // (the signal comes when the forking thread ends). The parent may be gone already.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
    {
        _exit(127);
    }
    // What execve would do, done first: caught signals go back to their default action
    // (ignored ones stay ignored).
    struct sigaction default_action = {};
    default_action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
    {
        struct sigaction current = {};
        if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler != SIG_IGN &&
            current.sa_handler != SIG_DFL)
        {
            sigaction(sig, &default_action, nullptr);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr); // a signal sent meanwhile acts now, as default
    // stdin is /dev/null, stdout and stderr the child's own output: never the gateway's stdio
    // (its log, its terminal), which code in a cell could write forged lines to, read or
    // truncate. dup2 clears close-on-exec on the copies.
    const int output =
        fcntl(stdio.output >= 0 ? stdio.output : null.get(), F_DUPFD, out_of_the_way);
    const int pass = stdio.pass_fd >= 0 ? fcntl(stdio.pass_fd, F_DUPFD, out_of_the_way) : -1;
    const int input = fcntl(null.get(), F_DUPFD, out_of_the_way);
    if (output < 0 || input < 0 || (stdio.pass_fd >= 0 && pass < 0) || dup2(input, 0) < 0 ||
        dup2(output, 1) < 0 || dup2(output, 2) < 0 || (pass >= 0 && dup2(pass, 3) < 0))
    {
        _exit(127);
    }
    syscall(SYS_close_range, pass >= 0 ? 4U : 3U, ~0U, 0U);
    execve(raw[0], raw.data(), raw_environment.data());
    _exit(127);
}

} // namespace cellbox::gateway
