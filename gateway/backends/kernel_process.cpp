#include "backends/kernel_process.hpp"

#include "backends/process_shutdown.hpp"

#include <atomic>
#include <signal.h>
#include <sys/wait.h>

namespace cellbox::gateway
{
namespace
{

std::uint64_t next_serial()
{
    static std::atomic<std::uint64_t> serial{0};
    return ++serial;
}

} // namespace

kernel_process::kernel_process(process_place place, std::unique_ptr<kernel_io> client)
    : m_serial(next_serial()), m_place(std::move(place)), m_client(std::move(client))
{
}

void kernel_process::log_as(const std::string& kernel_id)
{
    if (m_place.output)
    {
        m_place.output->set_kernel(kernel_id);
    }
}

void kernel_process::interrupt_impl()
{
    if (pid() > 0)
    {
        ::kill(pid(), SIGINT);
    }
}

void kernel_process::terminate_impl()
{
    if (pid() > 0)
    {
        ::kill(pid(), SIGTERM);
    }
}

void kernel_process::kill_impl()
{
    if (pid() > 0)
    {
        ::kill(pid(), SIGKILL); // the sandbox and everything in it go with the launcher
    }
}

void kernel_process::reap_on_shutdown_impl(std::chrono::steady_clock::time_point deadline)
{
    if (pid() <= 0)
    {
        return;
    }
    // The launcher is the gateway's child: it stops its sandbox and removes its cgroups.
    for (const pid_t late : kill_when_late({pid()}, child_reaped, deadline, "a kernel's launcher"))
    {
        waitpid(late, nullptr, 0);
    }
}

} // namespace cellbox::gateway
