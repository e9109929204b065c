// The last step of a session: the confined payload becomes the program, by execve or, for a
// process forked from a warm interpreter, by calling a function. The launcher opens the program
// (open_program), the init starts the payload process (start_payload).
#include "payload.hpp"

#include "steps.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <sched.h>
#include <string>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace cellbox::sandbox
{
namespace
{

[[noreturn]] void execute(const sandbox_plan& plan, int program_fd)
{
    std::vector<char*> argv;
    for (const auto& arg : plan.config->argv)
    {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    syscall(SYS_execveat, program_fd, "", argv.data(), environ, AT_EMPTY_PATH);
    throw std::system_error(errno, std::generic_category(), "execute " + plan.config->argv.front());
}

[[noreturn]] void call(const session_hooks& hooks)
{
    // What execve would do for an executed program: confine_process marked every inherited
    // descriptor close-on-exec; without an exec they must be closed now. Closing the error
    // channel also tells the launcher that the program has started.
    if (syscall(SYS_close_range, 3, ~0U, 0) != 0)
    {
        _exit(125);
    }
    int status = 126;
    try
    {
        status = hooks.payload();
    }
    catch (const std::exception& e)
    {
        std::fprintf(stderr, "cellbox: the session's program failed: %s\n", e.what());
    }
    std::fflush(nullptr);
    _exit(status);
}

} // namespace

void run_payload(const sandbox_plan& plan, const session_hooks& hooks, int channel, int program_fd)
{
    try
    {
        confine_process(plan);
        if (hooks.payload)
        {
            call(hooks);
        }
        execute(plan, program_fd);
    }
    catch (const std::exception& e)
    {
        report_setup_error(channel, step_error(payload_step, e), contract::system_error_of(e));
        _exit(127);
    }
}

void open_program(launch_state& s)
{
    if (s.hooks.payload)
    {
        return; // a function of this process, called by the payload
    }
    const std::string program = resolve_program(s.config.argv.front());
    s.program_fd.reset(open(program.c_str(), O_PATH | O_CLOEXEC));
    if (!s.program_fd)
    {
        throw system_failure("open program " + program);
    }
}

void start_payload(init_state& s)
{
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
    const bool share_cwd = s.init_link >= 0 && !s.hooks.payload;
    s.payload = share_cwd ? static_cast<pid_t>(syscall(SYS_clone, CLONE_FS | SIGCHLD, nullptr,
                                                       nullptr, nullptr, 0))
                          : fork();
    if (s.payload < 0)
    {
        throw system_failure("fork the payload");
    }
    if (s.payload == 0)
    {
        run_payload(s.plan, s.hooks, s.channel, s.program_fd);
    }
}

} // namespace cellbox::sandbox
