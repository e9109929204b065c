#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::gateway
{

pid_t spawn_in_own_session(std::vector<std::string> argv, const std::string& what, int pass_fd)
{
    // Built before the fork: the child only calls async-signal-safe functions.
    std::vector<char*> raw;
    for (auto& arg : argv)
    {
        raw.push_back(arg.data());
    }
    raw.push_back(nullptr);
    // Every signal blocked across the fork: until it has reset them, the child runs the
    // gateway's handlers, and Asio's write to a self-pipe it shares with the gateway — a
    // SIGTERM sent to a launcher that had not reached execve yet (a DELETE right after a
    // restart) would shut the gateway down.
    sigset_t all, before;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &before);
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
    unsigned first_closed = 3;
    if (pass_fd >= 0)
    {
        // dup2 onto another number clears close-on-exec; on the same number it must go.
        if ((pass_fd == 3 ? fcntl(3, F_SETFD, 0) : dup2(pass_fd, 3)) < 0)
        {
            _exit(127);
        }
        first_closed = 4;
    }
    syscall(SYS_close_range, first_closed, ~0U, 0U);
    execv(raw[0], raw.data());
    _exit(127);
}

} // namespace cellbox::gateway
