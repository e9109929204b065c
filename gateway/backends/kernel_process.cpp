#include "backends/kernel_process.hpp"

#include <atomic>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

void kernel_process::reap_on_shutdown_impl()
{
    if (pid() <= 0)
    {
        return;
    }
    // The launcher is the gateway's child: up to 2 s to clean up its sandbox.
    for (int i = 0; i < 40 && waitpid(pid(), nullptr, WNOHANG) == 0; ++i)
    {
        usleep(50000);
    }
    ::kill(pid(), SIGKILL);
    waitpid(pid(), nullptr, 0);
}

} // namespace cellbox::gateway
