// The last step of a session: the confined payload becomes the program, by execve or, for a
// process forked from a warm interpreter, by calling a function.
#include "payload.hpp"

#include <cerrno>
#include <cstdio>
#include <exception>
#include <fcntl.h>
#include <string>
#include <sys/socket.h>
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
        report_setup_failure(channel, e);
        _exit(127);
    }
}

void report_setup_failure(int channel, const std::exception& e)
{
    verdict failure;
    failure.kind = "internal_error";
    failure.message = e.what();
    failure.system_error = contract::system_error_of(e);
    const std::string record = contract::encode(failure);
    [[maybe_unused]] const ssize_t ignored =
        send(channel, record.data(), record.size(), MSG_NOSIGNAL);
}

void take_setup_failure(std::string_view record, verdict& result)
{
    const auto failure = contract::decode_verdict(record);
    result.kind = "internal_error";
    result.message = "sandbox setup failed: " + (failure ? failure->message : std::string(record));
    result.system_error = failure ? failure->system_error : std::nullopt;
}

} // namespace cellbox::sandbox
