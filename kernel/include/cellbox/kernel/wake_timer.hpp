#pragma once

#include "cellbox/unique_fd.hpp"

#include <chrono>

namespace cellbox::kernel
{

// What a worker thread sleeps on until a point in time that other threads set, move or clear
// without waking it: a timerfd, so that arming costs the arming thread one system call and
// no context switch (a condition variable has to wake the sleeper to hand it a new
// deadline: twice per cell for the cell deadline, once per printing cell for the output
// coalescer). An eventfd ends the sleep for good, at shutdown.
class wake_timer
{
public:
    using clock = std::chrono::steady_clock; // CLOCK_MONOTONIC, as the timerfd

    wake_timer(); // throws std::system_error
    wake_timer(const wake_timer&) = delete;
    wake_timer& operator=(const wake_timer&) = delete;

    // Any thread. A time already past wakes the sleeper at once.
    void arm_at(clock::time_point when);
    void disarm();
    // Any thread: wait() returns false from now on.
    void stop();

    // Sleeps until the armed time passes (true) or stop() (false). A true return can be
    // stale (re-armed or disarmed meanwhile): the caller checks its own state under its lock.
    bool wait();

private:
    unique_fd m_timer;
    unique_fd m_stop;
};

} // namespace cellbox::kernel
