#include "cellbox/kernel/wake_timer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace cellbox::kernel
{
namespace
{

void set_timer(int fd, const timespec& when)
{
    const itimerspec spec{{0, 0}, when};
    if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "timerfd_settime");
    }
}

} // namespace

wake_timer::wake_timer()
    : m_timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)),
      m_stop(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))
{
    if (!m_timer || !m_stop)
    {
        throw std::system_error(errno, std::generic_category(), "timerfd/eventfd");
    }
}

void wake_timer::arm_at(clock::time_point when)
{
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
    // An all-zero it_value would disarm: the earliest time is 1 ns.
    ns = std::max<decltype(ns)>(ns, 1);
    const timespec at{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    set_timer(m_timer.get(), at);
}

void wake_timer::disarm()
{
    set_timer(m_timer.get(), timespec{0, 0});
}

void wake_timer::stop()
{
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t ignored = write(m_stop.get(), &one, sizeof one);
}

bool wake_timer::wait()
{
    pollfd fds[2] = {{m_timer.get(), POLLIN, 0}, {m_stop.get(), POLLIN, 0}};
    while (true)
    {
        if (poll(fds, 2, -1) < 0)
        {
            if (errno == ENOMEM)
            {
                // A cell near its memory limit: the sleeper must outlive it, so wait and retry.
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            else if (errno != EINTR)
            {
                throw std::system_error(errno, std::generic_category(), "poll on a timerfd");
            }
            continue;
        }
        if (fds[1].revents != 0)
        {
            return false;
        }
        std::uint64_t expirations = 0;
        // EAGAIN when re-armed since poll returned: a stale wake, which wait() allows.
        [[maybe_unused]] const ssize_t ignored =
            read(m_timer.get(), &expirations, sizeof expirations);
        return true;
    }
}

} // namespace cellbox::kernel
