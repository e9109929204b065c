// The zygote pool's refill and sizing: how many sessions it keeps (pool_sizer), when it forks
// them and how many at once, when it lets them go, and the starts that wait for a session
// already starting rather than fork a cold one. The rest of zygote_pool is in zygote_pool.cpp.
#include "backends/zygote_pool.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>

namespace cellbox::gateway
{
// As many forks as the target is short of, but only `parallel` sessions starting at once:
// each one's start (its sandbox, its kernel's first answer) takes a core, and more at once
// would only slow the cold starts users wait for. The rest follow as these answer (on_ready).
void zygote_pool::refill()
{
    // Starts waiting for a session are owed one each, beyond the target.
    const std::size_t wanted = update_target() + m_waiters.size();
    while (m_connection && !m_stopping && m_pool.size() + m_spawning < wanted &&
           starting() < m_options.parallel)
    {
        session s = pooled_sessions::prepare(m_options.runtime_dir);
        ++m_spawning;
        const auto forked = std::chrono::steady_clock::now();
        contract::zygote_spawn spawn = spawn_request(s);
        spawn.limits.memory_bytes = m_options.memory_bytes;
        request(std::move(spawn),
                [this, s, forked](const contract::zygote_answer& answer) mutable
                {
                    --m_spawning;
                    if (!answer.ok || !answer.pid)
                    {
                        log::error("zygote could not fork a pooled session",
                                   {{"kernelspec", m_name}, {"error", answer.error}});
                        abandon(s);
                        release_excess_waiters();
                        // Refilled at the next take() or tick, not in a tight loop.
                        return;
                    }
                    s.pid = *answer.pid;
                    session_started(s);
                    m_pool.add(std::move(s), forked);
                });
    }
}

// Replacements are forked a little later than the take: at once, they would compete with
// handing over the session just taken (the single-threaded zygote answers `go` only after a
// fork) and, after a miss, with the cold start a user waits for, which would be queued behind
// them. So: 100 ms after the take, and not while a cold start is still coming up, nor while
// takes keep coming and the pool still has ready sessions to give them (a burst served from
// a grown pool: its forks would slow every start after them) - at most 2 s.
void zygote_pool::refill_soon()
{
    if (m_refill_pending)
    {
        return;
    }
    m_refill_pending = true;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    wait_to_refill(std::chrono::milliseconds(100), give_up);
}

void zygote_pool::wait_to_refill(std::chrono::milliseconds delay,
                                 std::chrono::steady_clock::time_point give_up)
{
    m_refill_timer.expires_after(delay);
    m_refill_timer.async_wait(
        [this, give_up](const boost::system::error_code& error)
        {
            if (error)
            {
                return; // cancelled: the pool is stopping
            }
            const auto now = std::chrono::steady_clock::now();
            const bool burst =
                now - m_last_take < std::chrono::milliseconds(100) && m_pool.ready_count() > 0;
            if ((!m_cold_starting.empty() || burst) && now < give_up)
            {
                wait_to_refill(std::chrono::milliseconds(10), give_up);
                return;
            }
            m_refill_pending = false;
            refill();
        });
}

void zygote_pool::refill_when_free()
{
    if (m_refill_pending || !m_cold_starting.empty())
    {
        refill_soon(); // after the cold starts (at most 2 s), as refill_soon explains
        return;
    }
    refill();
}

void zygote_pool::resize_every_tick()
{
    m_resize_timer.expires_after(m_sizer.resize_interval());
    m_resize_timer.async_wait(
        [this](const boost::system::error_code& error)
        {
            if (error || m_stopping)
            {
                return;
            }
            if (m_connection)
            {
                shrink_to_target();
                refill_when_free();
            }
            resize_every_tick();
        });
}

std::size_t zygote_pool::update_target()
{
    const std::size_t target = m_sizer.target(std::chrono::steady_clock::now(),
                                              m_pool.size() + m_spawning, available_memory_bytes());
    if (target != m_target)
    {
        log::info("pool target", {{"kernelspec", m_name}, {"from", m_target}, {"to", target}});
        m_target = target;
        metric::pool_target(m_name, target);
    }
    return target;
}

// Ready sessions beyond the target are stopped, youngest first (the oldest are handed out
// first: they are the ones whose start is paid for longest).
void zygote_pool::shrink_to_target()
{
    // Sessions starting for a waiting start are not surplus.
    const std::size_t target = update_target() + m_waiters.size();
    while (m_pool.size() + m_spawning > target)
    {
        const auto pid = m_pool.youngest_ready();
        if (!pid)
        {
            return; // only starting ones: let go when they answer, at a later tick
        }
        auto s = m_pool.release(*pid);
        m_retiring[*pid] = s->directory;
        kill(*pid);
    }
}

bool zygote_pool::wait_for_starting(wait_handler done)
{
    if (!m_connection || m_stopping || starting() <= m_waiters.size())
    {
        return false;
    }
    m_waiters.push_back(std::move(done));
    return true;
}

void zygote_pool::serve_waiters()
{
    while (!m_waiters.empty())
    {
        auto claimed = m_pool.take(false); // its miss was counted when it began to wait
        if (!claimed)
        {
            return;
        }
        m_handed_out.push_back(claimed->s.pid);
        auto done = std::move(m_waiters.front());
        m_waiters.pop_front();
        done(std::move(claimed));
    }
}

void zygote_pool::release_excess_waiters()
{
    while (m_waiters.size() > starting())
    {
        auto done = std::move(m_waiters.back());
        m_waiters.pop_back();
        done(std::nullopt);
    }
}

void zygote_pool::cold_start_finished(pid_t pid)
{
    m_cold_starting.erase(pid);
}

std::optional<taken_session> zygote_pool::take()
{
    m_last_take = std::chrono::steady_clock::now();
    m_sizer.started(m_last_take);
    auto claimed = m_pool.take();
    if (claimed)
    {
        m_handed_out.push_back(claimed->s.pid);
    }
    refill_soon(); // a replacement, or (after a miss) the session the cold start will need
    return claimed;
}

} // namespace cellbox::gateway
