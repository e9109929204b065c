#include "backends/pool_sizer.hpp"

#include "cellbox/kernel_file_numbers.hpp"

#include <algorithm>
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

std::chrono::milliseconds pool_sizer::resize_interval() const
{
    return std::clamp(m_sizing.window / 4, std::chrono::milliseconds(100),
                      std::chrono::milliseconds(1000));
}

void pool_sizer::forget_before(clock::time_point now)
{
    while (!m_starts.empty() && now - m_starts.front() >= m_sizing.window)
    {
        m_starts.pop_front();
    }
}

namespace
{

// What the cgroup at `directory` may still take: its limit minus its usage (inactive page
// cache counted as free, as the kernel reclaims it before it kills). None if unlimited.
std::optional<std::uint64_t> cgroup_room(const std::string& limit_file,
                                         const std::string& usage_file,
                                         const std::string& stat_file,
                                         const std::string& inactive_key)
{
    const auto limit = read_file_number(limit_file);
    const auto usage = read_file_number(usage_file);
    // v1 reports "no limit" as a huge page-rounded number.
    if (!limit || !usage || *limit >= (std::uint64_t{1} << 62))
    {
        return std::nullopt;
    }
    const std::uint64_t reclaimable = read_file_key(stat_file, inactive_key).value_or(0);
    const std::uint64_t used = *usage > reclaimable ? *usage - reclaimable : 0;
    return *limit > used ? *limit - used : 0;
}

} // namespace

std::optional<std::uint64_t> available_memory_bytes(const std::string& proc,
                                                    const std::string& cgroup_root)
{
    std::optional<std::uint64_t> available;
    if (const auto kib = read_file_key(proc + "/meminfo", "MemAvailable:"))
    {
        available = *kib * 1024;
    }
    const std::string v1 = cgroup_root + "/memory/";
    const auto room =
        read_file_number(cgroup_root + "/memory.current")
            ? cgroup_room(cgroup_root + "/memory.max", cgroup_root + "/memory.current",
                          cgroup_root + "/memory.stat", "inactive_file")
            : cgroup_room(v1 + "memory.limit_in_bytes", v1 + "memory.usage_in_bytes",
                          v1 + "memory.stat", "total_inactive_file");
    if (room && (!available || *room < *available))
    {
        available = room;
    }
    return available;
}

} // namespace cellbox::gateway
