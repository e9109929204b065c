#include "streams/kernel_io_session.hpp"

#include "telemetry/log.hpp"

namespace cellbox::gateway
{

kernel_io::session::session(std::string session_id, const stream_options& stream)
    : options(stream), id(std::move(session_id)),
      buffer(stream.replay_max_messages, stream.replay_max_bytes)
{
}

void kernel_io::session::orphan(time_point since, const evict_fn& evict)
{
    expires = since + options.replay_timeout;
    dropped = 0;
    if (options.replay_timeout.count() <= 0 || !options.budget)
    {
        return;
    }
    backlog->set(buffer.bytes(), std::nullopt);
    const std::uint64_t orphaning = ++generation;
    budget_place = options.budget->enroll_replay(
        since, backlog, [evict, id = id, orphaning] { evict(id, orphaning); });
}

std::deque<shared_message> kernel_io::session::reclaim()
{
    expires.reset();
    budget_place.reset();
    return buffer.take();
}

void kernel_io::session::keep(const shared_message& message)
{
    if (options.replay_timeout.count() > 0)
    {
        count_dropped(buffer.push(message));
    }
}

void kernel_io::session::keep_older(std::vector<shared_message> older)
{
    if (options.replay_timeout.count() > 0 && !older.empty())
    {
        count_dropped(buffer.push_front(std::move(older)));
    }
}

void kernel_io::session::count_dropped(std::size_t dropped_now)
{
    backlog->set(buffer.bytes(), std::nullopt);
    if (dropped_now == 0)
    {
        return;
    }
    // One line for the first drop and then one per thousand: a flood must not flood the log too.
    if (dropped == 0 || dropped / 1000 != (dropped + dropped_now) / 1000)
    {
        log::warn("replay buffer full, oldest messages dropped",
                  {{"session", id}, {"dropped_so_far", dropped + dropped_now}});
    }
    dropped += dropped_now;
}

} // namespace cellbox::gateway
