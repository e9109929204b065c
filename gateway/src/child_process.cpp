#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::gateway
{

pid_t spawn_in_own_session(std::vector<std::string> argv, const std::string& what)
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
        syscall(SYS_close_range, 3U, ~0U, 0U);
        execv(raw[0], raw.data());
        _exit(127);
    }
    return pid;
}

} // namespace cellbox::gateway
