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
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stopping = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void deadline_timer::arm(clock::duration timeout)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_deadline = clock::now() + timeout;
        m_expirations = 0;
    }
    m_wake.notify_all();
}

void deadline_timer::disarm()
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_deadline.reset();
    }
    m_wake.notify_all();
}

std::uint64_t deadline_timer::expirations() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    return m_expirations;
}

void deadline_timer::run()
{
    std::unique_lock<std::mutex> lock(m_mutex);
    while (!m_stopping)
    {
        if (!m_deadline)
        {
            m_wake.wait(lock);
            continue;
        }
        if (clock::now() < *m_deadline)
        {
            m_wake.wait_until(lock, *m_deadline);
            continue;
        }
        m_deadline = clock::now() + m_repeat;
        ++m_expirations;
        // The callback runs under the lock so that a disarm() that returned is final:
        // no expiry can fire for a cell that has already finished.
        m_on_expiry();
    }
}

} // namespace cellbox::kernel
