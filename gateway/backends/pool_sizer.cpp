#include "backends/pool_sizer.hpp"

#include <algorithm>
#include <fstream>
#include <string>

namespace cellbox::gateway
{

pool_sizer::pool_sizer(pool_sizing sizing) : m_sizing(sizing)
{
    m_sizing.max = std::max(m_sizing.max, m_sizing.min);
}

void pool_sizer::started(clock::time_point now)
{
    if (!adaptive())
    {
        return;
    }
    forget_before(now);
    // Only the last `max` starts can matter: a long busy spell costs no more memory than that.
    if (m_starts.size() >= m_sizing.max)
    {
        m_starts.pop_front();
    }
    m_starts.push_back(now);
}

std::size_t pool_sizer::target(clock::time_point now, std::size_t held,
                               std::optional<std::uint64_t> available_bytes)
{
    forget_before(now);
    std::size_t wanted = std::clamp(m_starts.size(), m_sizing.min, m_sizing.max);
    if (wanted > held && available_bytes && m_sizing.session_memory_bytes > 0)
    {
        // Sessions beyond those held only while each could still get its whole limit: the pool
        // must not be what pushes running kernels into the OOM killer. The minimum is kept
        // regardless, as before the pool could grow.
        const std::uint64_t room = *available_bytes / m_sizing.session_memory_bytes;
        const std::size_t bound =
            held + static_cast<std::size_t>(std::min<std::uint64_t>(room, m_sizing.max));
        wanted = std::max(m_sizing.min, std::min(wanted, bound));
    }
    return wanted;
}

void pool_sizer::forget_before(clock::time_point now)
{
    while (!m_starts.empty() && now - m_starts.front() >= m_sizing.window)
    {
        m_starts.pop_front();
    }
}

std::optional<std::uint64_t> available_memory_bytes()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    std::uint64_t value = 0;
    std::string unit;
    while (meminfo >> key >> value)
    {
        std::getline(meminfo, unit);
        if (key == "MemAvailable:")
        {
            return value * 1024; // kB
        }
    }
    return std::nullopt;
}

} // namespace cellbox::gateway
