#include "streams/kernel_io.hpp"

#include "protocol/message_builder.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/wire_codec.hpp"
#include "protocol/zmq_frames.hpp"
#include "streams/kernel_io_session.hpp"
#include "streams/replay_buffer.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>
#include <zmq_addon.hpp>

namespace cellbox::gateway
{

using steady = std::chrono::steady_clock;

namespace
{

// A kernel that was just forked has not bound its sockets yet when the gateway connects;
// ZeroMQ's default retry after 100 ms would be most of a cold start.
constexpr int reconnect_interval_ms = 5;

zmq::socket_t dealer(zmq::context_t& context, const std::string& identity,
                     const std::string& endpoint)
{
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::reconnect_ivl, reconnect_interval_ms);
    socket.set(zmq::sockopt::routing_id, identity);
    socket.connect(endpoint);
    return socket;
}

std::atomic<std::uint64_t> next_client{1}; // io_thread client ids

} // namespace

kernel_io::kernel_io(zmq::context_t& context, connection_info info, callbacks events,
                     stream_options options, kept_sessions kept)
    : m_context(context), m_info(std::move(info)), m_signer(m_info.key),
      m_events(std::move(events)), m_options(options),
      m_threads(io_threads::shared(options.io_threads)), m_io(m_threads.acquire()),
      m_id(next_client++), m_session(random_hex(16)), m_output_limiter(options.max_output_bytes),
      m_rate_limiter(options.iopub_msg_rate_limit, options.iopub_data_rate_limit,
                     options.rate_limit_window)
{
    auto waiting = std::make_shared<kept_sessions>(std::move(kept));
    // Failing to start (out of descriptors) is failing the kernel, as later on.
    m_io.start(m_id,
               {[this] { tick(); },
                [this](const std::string& reason)
                {
                    if (m_events.on_failure)
                    {
                        m_events.on_failure(reason);
                    }
                }},
               [this, waiting] { start(std::move(*waiting)); });
}

void kernel_io::start(kept_sessions kept)
{
    m_iopub.emplace(m_context, zmq::socket_type::sub);
    m_iopub->set(zmq::sockopt::linger, 0);
    m_iopub->set(zmq::sockopt::reconnect_ivl, reconnect_interval_ms);
    m_iopub->set(zmq::sockopt::subscribe, "");
    m_iopub->connect(m_info.endpoint(m_info.iopub_port));
    m_own_shell.emplace(
        dealer(m_context, "cellbox-gateway-" + m_session, m_info.endpoint(m_info.shell_port)));
    // Ranks: as one kernel's thread read them, the kernel_info answer, then replies (the
    // kernel sent them before the status that follows them on iopub), then iopub.
    m_own_shell_watch = m_io.watch(m_id, *m_own_shell, 0, [this] { on_own_shell(); });
    m_io.watch(m_id, *m_iopub, 2, [this] { on_iopub_input(); });
    open_kept_sessions(std::move(kept));
    tick();
}

void kernel_io::open_kept_sessions(kept_sessions kept)
{
    for (auto& [id, waiting] : kept)
    {
        session& s = open_session(id);
        s.buffer = std::move(waiting.buffer);
        s.orphan(waiting.expires - m_options.replay_timeout, evictor());
    }
}

kernel_io::~kernel_io()
{
    stop();
}

kernel_io::kept_sessions kernel_io::stop()
{
    if (std::exchange(m_stopped, true))
    {
        return {};
    }
    // Work is applied in order: every attach, detach and send posted before this has had its
    // effect on the sessions.
    const auto leave = [this]
    {
        m_io.leave(m_id);
        m_iopub.reset();
        m_own_shell.reset();
    };
    if (m_io.on_this_thread())
    {
        leave();
    }
    else
    {
        std::promise<void> left;
        m_io.post_always(
            [&]
            {
                leave();
                left.set_value();
            });
        left.get_future().wait();
    }
    m_threads.release(m_io);
    kept_sessions kept;
    for (auto& [id, s] : m_sessions)
    {
        if (s->connections.empty() && s->expires && !s->buffer.empty())
        {
            kept.emplace(id, kept_session{std::move(s->buffer), *s->expires});
        }
    }
    m_sessions.clear();
    m_connection_sessions.clear();
    return kept;
}

kernel_io::session& kernel_io::open_session(const std::string& id)
{
    auto& slot = m_sessions[id];
    if (!slot)
    {
        auto s = std::make_unique<session>(id, m_options);
        s->shell = dealer(m_context, id, m_info.endpoint(m_info.shell_port));
        s->control = dealer(m_context, id, m_info.endpoint(m_info.control_port));
        s->stdin_ = dealer(m_context, id, m_info.endpoint(m_info.stdin_port));
        session* raw = s.get();
        s->watches = {m_io.watch(m_id, s->shell, 1, [this, raw] { on_session_input(*raw, 0); }),
                      m_io.watch(m_id, s->control, 1, [this, raw] { on_session_input(*raw, 1); }),
                      m_io.watch(m_id, s->stdin_, 1, [this, raw] { on_session_input(*raw, 2); })};
        slot = std::move(s);
    }
    return *slot;
}

void kernel_io::close_session(std::map<std::string, std::unique_ptr<session>>::iterator it)
{
    for (const auto watched : it->second->watches)
    {
        m_io.unwatch(watched);
    }
    m_sessions.erase(it); // withdraws it from the budget
}

void kernel_io::post(std::function<void()> work)
{
    m_io.post(m_id,
              [this, work = std::move(work)]
              {
                  work();
                  reschedule();
              });
}

void kernel_io::adopt(callbacks events, kept_sessions kept)
{
    auto owner =
        std::make_shared<std::pair<callbacks, kept_sessions>>(std::move(events), std::move(kept));
    post([this, owner] { adopt_now(std::move(owner->first), std::move(owner->second)); });
}

void kernel_io::attach(std::uint64_t connection, const std::string& session_id, deliver_fn deliver)
{
    post([this, connection, session_id, deliver = std::move(deliver)]() mutable
         { attach_now(connection, session_id, std::move(deliver)); });
}

void kernel_io::detach(std::uint64_t connection, std::vector<shared_message> undelivered)
{
    post([this, connection, undelivered = std::move(undelivered)]() mutable
         { detach_now(connection, std::move(undelivered)); });
}

void kernel_io::send(std::uint64_t connection, kernel_message message)
{
    post([this, connection, message = std::move(message)] { send_now(connection, message); });
}

void kernel_io::orphaned(session& s)
{
    if (s.expires)
    {
        return;
    }
    if (m_options.replay_timeout.count() > 0)
    {
        log::info("session disconnected, keeping its messages",
                  {{"session", s.id}, {"for_s", m_options.replay_timeout.count() / 1000.0}});
    }
    s.orphan(steady::now(), evictor());
}

kernel_io::session::evict_fn kernel_io::evictor()
{
    // The budget calls this on any thread: it only posts. A session withdraws from the budget
    // before it, or this kernel_io, goes.
    return [this](const std::string& id, std::uint64_t generation)
    { post([this, id, generation] { evict(id, generation); }); };
}

void kernel_io::evict(const std::string& id, std::uint64_t generation)
{
    const auto it = m_sessions.find(id);
    if (it == m_sessions.end())
    {
        return;
    }
    session& s = *it->second;
    if (!s.connections.empty() || !s.expires || s.generation != generation)
    {
        return; // reconnected (or left again) since it was asked: withdrawn already
    }
    log::warn("stream memory budget exceeded, dropping the replay buffer of the session "
              "disconnected longest",
              {{"session", s.id},
               {"messages", s.buffer.size()},
               {"bytes", s.buffer.bytes()},
               {"held_bytes", m_options.budget->bytes()},
               {"budget_bytes", m_options.budget->limit()}});
    metric::stream_budget_drop("replay");
    close_session(it); // as if it had expired
}

void kernel_io::deliver_to(session& s, const shared_message& message)
{
    bool delivered = false;
    for (auto it = s.connections.begin(); it != s.connections.end();)
    {
        if (it->second(message))
        {
            delivered = true;
            ++it;
        }
        else
        {
            it = s.connections.erase(it); // closing: its detach follows
        }
    }
    if (!delivered)
    {
        orphaned(s);
        s.keep(message);
    }
}

void kernel_io::adopt_now(callbacks events, kept_sessions kept)
{
    m_events = std::move(events);
    open_kept_sessions(std::move(kept));
    if (m_ready && m_events.on_ready)
    {
        m_events.on_ready();
    }
}

void kernel_io::attach_now(std::uint64_t connection, const std::string& session_id,
                           deliver_fn deliver)
{
    session& s = open_session(session_id);
    s.connections[connection] = std::move(deliver);
    m_connection_sessions[connection] = session_id;
    const auto missed = s.reclaim();
    if (!missed.empty())
    {
        log::info("session reconnected, replaying",
                  {{"session", s.id}, {"messages", missed.size()}});
        for (const auto& message : missed)
        {
            deliver_to(s, message);
        }
    }
}

void kernel_io::detach_now(std::uint64_t connection, std::vector<shared_message> undelivered)
{
    const auto link = m_connection_sessions.find(connection);
    if (link == m_connection_sessions.end())
    {
        return;
    }
    const auto it = m_sessions.find(link->second);
    m_connection_sessions.erase(link);
    if (it == m_sessions.end())
    {
        return;
    }
    session& s = *it->second;
    s.connections.erase(connection);
    if (s.connections.empty())
    {
        orphaned(s);
        // Older than anything buffered since the connection started closing.
        s.keep_older(std::move(undelivered));
    }
}

void kernel_io::send_now(std::uint64_t connection, const kernel_message& message)
{
    const auto link = m_connection_sessions.find(connection);
    const auto it =
        link == m_connection_sessions.end() ? m_sessions.end() : m_sessions.find(link->second);
    if (it == m_sessions.end())
    {
        return;
    }
    session& s = *it->second;
    const int channel = message.channel == "control" ? 1 : message.channel == "stdin" ? 2 : 0;
    zmq::socket_t& socket = channel == 1 ? s.control : channel == 2 ? s.stdin_ : s.shell;
    send_frames(socket, encode_wire(message, {}, m_signer));
    m_io.recheck(s.watches[channel]);
    if (m_events.on_activity)
    {
        m_events.on_activity();
    }
}

void kernel_io::expire_sessions()
{
    const auto now = steady::now();
    for (auto it = m_sessions.begin(); it != m_sessions.end();)
    {
        const session& s = *it->second;
        if (s.connections.empty() && s.expires && *s.expires <= now)
        {
            if (!s.buffer.empty())
            {
                log::info("session did not reconnect, buffer discarded",
                          {{"session", s.id}, {"messages", s.buffer.size()}});
            }
            close_session(it++);
        }
        else
        {
            ++it;
        }
    }
}

void kernel_io::tick()
{
    expire_sessions();
    // Until it answers, a kernel is nudged every 250 ms; once it has, and only the iopub
    // subscription is pending, every 2 ms (a handed-over pool session waits on this).
    const auto nudge_every = std::chrono::milliseconds(m_answered ? 2 : 250);
    if (!m_ready && steady::now() - m_last_nudge >= nudge_every)
    {
        m_last_nudge = steady::now();
        send_frames(*m_own_shell, encode_wire(make_request("shell", "kernel_info_request",
                                                           nlohmann::json::object(), m_session),
                                              {}, m_signer));
        m_io.recheck(m_own_shell_watch);
    }
    reschedule();
}

void kernel_io::reschedule()
{
    std::optional<steady::time_point> next;
    if (!m_ready)
    {
        next = m_last_nudge + std::chrono::milliseconds(m_answered ? 2 : 250);
    }
    for (const auto& [id, s] : m_sessions)
    {
        if (s->expires && (!next || *s->expires < *next))
        {
            next = s->expires;
        }
    }
    m_io.schedule(m_id, next);
}

void kernel_io::become_ready()
{
    if (!m_ready && m_answered && m_heard_iopub)
    {
        m_ready = true;
        if (m_events.on_ready)
        {
            m_events.on_ready();
        }
    }
}

void kernel_io::on_iopub(kernel_message message)
{
    const message_info info = describe(message); // the one parse of its header and parent
    const bool own_nudge = info.parent_session == m_session;
    if (info.msg_type == "execute_input" && m_events.on_execute_started && info.has_parent)
    {
        m_events.on_execute_started(info.parent_msg_id);
    }
    if (info.msg_type == "status" && m_events.on_status && !own_nudge &&
        !info.execution_state.empty())
    {
        m_events.on_status(info.execution_state);
    }
    if (m_events.on_activity)
    {
        m_events.on_activity();
    }
    const auto now = steady::now();
    for (auto& capped : m_output_limiter.filter(std::move(message), info))
    {
        // The limiter's own notice describes itself differently from the message it replaced;
        // anything else passed as it came.
        std::optional<message_info> notice_info;
        if (output_limiter::may_replace(info))
        {
            notice_info = describe(capped);
        }
        const message_info& capped_info = notice_info ? *notice_info : info;
        for (auto& filtered : m_rate_limiter.filter(std::move(capped), capped_info, now))
        {
            // One copy for every session and connection that gets it.
            const shared_message out = share_message(m_options.budget.get(), std::move(filtered));
            const bool anyone =
                std::any_of(m_sessions.begin(), m_sessions.end(),
                            [](const auto& s) { return !s.second->connections.empty(); });
            for (auto& [id, s] : m_sessions)
            {
                if (!s->connections.empty())
                {
                    deliver_to(*s, out);
                }
                else if (!anyone || info.parent_session == s->id)
                {
                    s->keep(out);
                }
            }
        }
    }
}

void kernel_io::report_execute_reply(const kernel_message& reply, const std::string& parent_id)
{
    if (!m_events.on_execute_reply)
    {
        return;
    }
    const auto header = string_members(reply.header, {"msg_type"});
    if (!header || (*header)[0] != "execute_reply")
    {
        return;
    }
    if (const auto content = string_members(reply.content, {"status", "ename"}))
    {
        m_events.on_execute_reply(parent_id, (*content)[0], (*content)[1]);
    }
}

void kernel_io::on_own_shell()
{
    receive_frames(*m_own_shell); // a kernel_info_reply: the kernel is up
    m_answered = true;
    become_ready();
    reschedule();
}

void kernel_io::on_session_input(session& s, int channel_index)
{
    static constexpr const char* names[] = {"shell", "control", "stdin"};
    const std::string channel = names[channel_index];
    zmq::socket_t& socket = channel_index == 1   ? s.control
                            : channel_index == 2 ? s.stdin_
                                                 : s.shell;
    try
    {
        kernel_message reply = decode_wire(receive_frames(socket), channel, m_signer);
        if (m_events.on_reply && channel_index == 0)
        {
            if (const auto parent = string_members(reply.parent_header, {"msg_id"}))
            {
                report_execute_reply(reply, (*parent)[0]);
                m_events.on_reply((*parent)[0]);
            }
        }
        deliver_to(s, share_message(m_options.budget.get(), std::move(reply)));
    }
    catch (const protocol_error& e)
    {
        log::warn("dropped a kernel message", {{"channel", channel}, {"error", e.what()}});
    }
    reschedule();
}

void kernel_io::on_iopub_input()
{
    m_heard_iopub = true;
    try
    {
        on_iopub(decode_wire(receive_frames(*m_iopub), "iopub", m_signer));
    }
    catch (const protocol_error& e)
    {
        log::warn("dropped a kernel message", {{"channel", "iopub"}, {"error", e.what()}});
    }
    become_ready();
    reschedule();
}

} // namespace cellbox::gateway
