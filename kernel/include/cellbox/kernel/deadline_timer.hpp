#pragma once

#include "cellbox/kernel/wake_timer.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

namespace cellbox::kernel
{

// Calls `on_expiry` from its own thread once an armed deadline passes, then again every
// `repeat` until disarmed: a cell that swallows the first interruption is interrupted again.
// Arming and disarming (around every cell) do not wake the timer's thread (wake_timer).
class deadline_timer
{
public:
    using clock = std::chrono::steady_clock;
    using callback = std::function<void()>;

    explicit deadline_timer(callback on_expiry,
                            std::chrono::milliseconds repeat = std::chrono::milliseconds(1000));
    ~deadline_timer();

    deadline_timer(const deadline_timer&) = delete;
    deadline_timer& operator=(const deadline_timer&) = delete;

    void arm(clock::duration timeout);
    void disarm();

    // How many times the callback ran since the last arm().
    std::uint64_t expirations() const;

private:
    void run();

    callback m_on_expiry;
    std::chrono::milliseconds m_repeat;
    mutable std::mutex m_mutex;
    wake_timer m_wake;
    std::optional<clock::time_point> m_deadline;
    std::uint64_t m_expirations = 0;
    std::thread m_thread;
};

} // namespace cellbox::kernel
