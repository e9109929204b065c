#pragma once
// How many ready sessions a pool keeps: at least its configured size, more after bursts of
// starts, never more than its maximum nor than the machine's free memory can hold at their
// memory limit. See README, "Instant sessions: bursts".
//
// The target is the number of starts seen in the last `window`: a burst that drained the pool
// is met, the next time, by as many ready sessions as it took. (A rate times the refill time
// would undercount a burst: its starts come faster than any refill, and a start rate averaged
// over the window spreads them out.) The target falls back to `min` once a window passes
// without starts, and the pool shrinks to it.
//
// Pure bookkeeping, no clock or file of its own: the caller passes the time and the memory.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>

namespace cellbox::gateway
{

struct pool_sizing
{
    std::size_t min = 4; // always kept (pool_size)
    std::size_t max = 4; // at most (pool_max); equal to min: a fixed pool
    std::chrono::milliseconds window{60000};
    std::uint64_t session_memory_bytes = 0; // a session's limit: what a grown one may take
};

class pool_sizer
{
public:
    using clock = std::chrono::steady_clock;

    explicit pool_sizer(pool_sizing sizing);

    // A kernel start asked this pool for a session (a hit or a miss).
    void started(clock::time_point now);
    // The sessions to keep now, given those the pool holds (ready or starting) and the memory
    // the machine has available (none: unknown, no memory bound).
    std::size_t target(clock::time_point now, std::size_t held,
                       std::optional<std::uint64_t> available_bytes);
    bool adaptive() const { return m_sizing.max > m_sizing.min; }
    const pool_sizing& sizing() const { return m_sizing; }
    // How often an adaptive pool recomputes its target: often enough to shrink soon after the
    // window passes, rarely enough to cost nothing (one read of /proc/meminfo).
    std::chrono::milliseconds resize_interval() const;

private:
    void forget_before(clock::time_point now);

    pool_sizing m_sizing;
    std::deque<clock::time_point> m_starts; // in the window, oldest first
};

// The memory new sessions may still take, in bytes: the machine's MemAvailable, or less where
// the cgroup they are created under (the root of this process's cgroup namespace, a
// container's own cgroup in a container) has a memory limit: that limit minus what the cgroup
// uses, page cache it can drop (inactive files) not counted. None if nothing can be read.
// `proc` and `cgroup_root` are the places to read (other ones in tests).
std::optional<std::uint64_t>
available_memory_bytes(const std::string& proc = "/proc",
                       const std::string& cgroup_root = "/sys/fs/cgroup");

} // namespace cellbox::gateway
