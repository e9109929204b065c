#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
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
    const pid_t pid = fork();
    if (pid < 0)
    {
        throw std::system_error(errno, std::generic_category(), "fork " + what);
    }
    if (pid == 0)
    {
        setsid();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
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
    return pid;
}

} // namespace cellbox::gateway
