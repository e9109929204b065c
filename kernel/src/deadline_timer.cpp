#include "cellbox/kernel/deadline_timer.hpp"

#include <utility>

namespace cellbox::kernel
{

deadline_timer::deadline_timer(callback on_expiry, std::chrono::milliseconds repeat)
    : m_on_expiry(std::move(on_expiry)), m_repeat(repeat), m_thread([this] { run(); })
{
}

deadline_timer::~deadline_timer()
{
    m_wake.stop();
    m_thread.join();
}

void deadline_timer::arm(clock::duration timeout)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_deadline = clock::now() + timeout;
    m_expirations = 0;
    m_wake.arm_at(*m_deadline);
}

void deadline_timer::disarm()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_deadline)
    {
        m_deadline.reset();
        m_wake.disarm();
    }
}

std::uint64_t deadline_timer::expirations() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_expirations;
}

void deadline_timer::run()
{
    while (m_wake.wait())
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        if (!m_deadline || clock::now() < *m_deadline)
        {
            continue; // a stale wake: disarmed or re-armed later meanwhile
        }
        m_deadline = clock::now() + m_repeat;
        m_wake.arm_at(*m_deadline);
        ++m_expirations;
        // The callback runs under the lock so that a disarm() that returned is final:
        // no expiry can fire for a cell that has already finished.
        m_on_expiry();
    }
}

} // namespace cellbox::kernel
