#include "streams/kernel_io.hpp"

#include "cellbox/bounded_json.hpp"
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
#include <nlohmann/json.hpp>
#include <optional>
#include <sys/eventfd.h>
#include <unistd.h>
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

} // namespace

kernel_io::kernel_io(zmq::context_t& context, connection_info info, callbacks events,
                     stream_options options, kept_sessions kept)
    : m_context(context), m_info(std::move(info)), m_signer(m_info.key),
      m_events(std::move(events)), m_options(options),
      m_wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), m_session(random_hex(16)),
      m_output_limiter(options.max_output_bytes),
      m_rate_limiter(options.iopub_msg_rate_limit, options.iopub_data_rate_limit,
                     options.rate_limit_window)
{
    open_kept_sessions(std::move(kept));
    m_thread = std::thread([this] { run(); });
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
    if (!m_thread.joinable())
    {
        return {};
    }
    // Commands are applied in order: every attach, detach and send posted before this one
    // has had its effect on the sessions.
    post({command::kind::stop, 0, {}, {}, {}, {}, {}});
    m_thread.join();
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
        slot = std::make_unique<session>(id, m_options);
        slot->shell = dealer(m_context, id, m_info.endpoint(m_info.shell_port));
        slot->control = dealer(m_context, id, m_info.endpoint(m_info.control_port));
        slot->stdin_ = dealer(m_context, id, m_info.endpoint(m_info.stdin_port));
    }
    return *slot;
}

void kernel_io::post(command c)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_commands.push_back(std::move(c));
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(m_wake.get(), &one, sizeof one);
}

void kernel_io::adopt(callbacks events, kept_sessions kept)
{
    post({command::kind::adopt,
          0,
          {},
          {},
          {},
          {},
          std::make_shared<std::pair<callbacks, kept_sessions>>(std::move(events),
                                                                std::move(kept))});
}

void kernel_io::attach(std::uint64_t connection, const std::string& session_id, deliver_fn deliver)
{
    post({command::kind::attach, connection, session_id, std::move(deliver), {}, {}, {}});
}

void kernel_io::detach(std::uint64_t connection, std::vector<shared_message> undelivered)
{
    post({command::kind::detach, connection, {}, {}, {}, std::move(undelivered), {}});
}

void kernel_io::send(std::uint64_t connection, kernel_message message)
{
    post({command::kind::send, connection, {}, {}, std::move(message), {}, {}});
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
    {
        command c{command::kind::evict, 0, id, {}, {}, {}, {}};
        c.generation = generation;
        post(std::move(c));
    };
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
    m_sessions.erase(it); // as if it had expired; withdraws it from the budget
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

void kernel_io::apply(command& c)
{
    switch (c.what)
    {
    case command::kind::adopt:
        m_events = std::move(c.owner->first);
        open_kept_sessions(std::move(c.owner->second));
        if (m_ready && m_events.on_ready)
        {
            m_events.on_ready();
        }
        break;
    case command::kind::attach:
    {
        session& s = open_session(c.session_id);
        s.connections[c.connection] = std::move(c.deliver);
        m_connection_sessions[c.connection] = c.session_id;
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
        break;
    }
    case command::kind::detach:
    {
        const auto link = m_connection_sessions.find(c.connection);
        if (link == m_connection_sessions.end())
        {
            break;
        }
        const auto it = m_sessions.find(link->second);
        m_connection_sessions.erase(link);
        if (it == m_sessions.end())
        {
            break;
        }
        session& s = *it->second;
        s.connections.erase(c.connection);
        if (s.connections.empty())
        {
            orphaned(s);
            // Older than anything buffered since the connection started closing.
            s.keep_older(std::move(c.undelivered));
        }
        break;
    }
    case command::kind::send:
    {
        const auto link = m_connection_sessions.find(c.connection);
        const auto it =
            link == m_connection_sessions.end() ? m_sessions.end() : m_sessions.find(link->second);
        if (it == m_sessions.end())
        {
            break;
        }
        session& s = *it->second;
        zmq::socket_t& socket = c.message.channel == "control" ? s.control
                                : c.message.channel == "stdin" ? s.stdin_
                                                               : s.shell;
        send_frames(socket, encode_wire(c.message, {}, m_signer));
        if (m_events.on_activity)
        {
            m_events.on_activity();
        }
        break;
    }
    case command::kind::evict:
        evict(c.session_id, c.generation);
        break;
    case command::kind::stop:
        break;
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
            it = m_sessions.erase(it);
        }
        else
        {
            ++it;
        }
    }
}

int kernel_io::poll_timeout_ms() const
{
    if (!m_ready)
    {
        return 2;
    }
    std::optional<steady::time_point> next;
    for (const auto& [id, s] : m_sessions)
    {
        if (s->expires && (!next || *s->expires < *next))
        {
            next = s->expires;
        }
    }
    if (!next)
    {
        return -1;
    }
    const auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(*next - steady::now()).count();
    return static_cast<int>(std::clamp<long long>(wait + 1, 0, 60000));
}

void kernel_io::on_iopub(kernel_message message)
{
    const message_info info = describe(message);
    const auto parent = parse_json_bounded(message.parent_header);
    const bool own_nudge = info.parent_session == m_session;
    if (info.msg_type == "execute_input" && m_events.on_execute_started && parent.is_object())
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
        // The limiter's own notice describes itself differently from the message it replaced.
        const message_info capped_info = describe(capped);
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
    const auto header = parse_json_bounded(reply.header);
    if (!header.is_object() || header.value("msg_type", "") != "execute_reply")
    {
        return;
    }
    const auto content = parse_json_bounded(reply.content);
    if (content.is_object())
    {
        const auto text = [&](const char* key)
        {
            const auto it = content.find(key);
            return it != content.end() && it->is_string() ? it->get<std::string>() : "";
        };
        m_events.on_execute_reply(parent_id, text("status"), text("ename"));
    }
}

void kernel_io::run()
{
    try
    {
        relay();
    }
    catch (const std::exception& e)
    {
        // Never std::terminate the gateway for one kernel.
        log::error("kernel connection failed", {{"error", e.what()}});
        if (m_events.on_failure)
        {
            m_events.on_failure(e.what());
        }
    }
}

void kernel_io::relay()
{
    zmq::socket_t iopub(m_context, zmq::socket_type::sub);
    iopub.set(zmq::sockopt::linger, 0);
    iopub.set(zmq::sockopt::reconnect_ivl, reconnect_interval_ms);
    iopub.set(zmq::sockopt::subscribe, "");
    iopub.connect(m_info.endpoint(m_info.iopub_port));
    zmq::socket_t own_shell =
        dealer(m_context, "cellbox-gateway-" + m_session, m_info.endpoint(m_info.shell_port));
    auto last_nudge = steady::time_point{};
    // Ready once the kernel answered on shell AND something came through iopub: a SUB socket
    // connects asynchronously, and a kernel that answers fast (a forked session) would
    // otherwise publish a client's first outputs before the subscription exists — lost.
    bool answered = false;
    bool heard_iopub = false;
    auto become_ready = [&]
    {
        if (!m_ready && answered && heard_iopub)
        {
            m_ready = true;
            if (m_events.on_ready)
            {
                m_events.on_ready();
            }
        }
    };

    while (true)
    {
        expire_sessions();
        // Until it answers, a kernel is nudged every 250 ms; once it has, and only the iopub
        // subscription is pending, every 2 ms (a handed-over pool session waits on this).
        const auto nudge_every = std::chrono::milliseconds(answered ? 2 : 250);
        if (!m_ready && steady::now() - last_nudge > nudge_every)
        {
            last_nudge = steady::now();
            send_frames(own_shell, encode_wire(make_request("shell", "kernel_info_request",
                                                            nlohmann::json::object(), m_session),
                                               {}, m_signer));
        }
        std::vector<zmq::pollitem_t> items = {{nullptr, m_wake.get(), ZMQ_POLLIN, 0},
                                              {iopub.handle(), 0, ZMQ_POLLIN, 0},
                                              {own_shell.handle(), 0, ZMQ_POLLIN, 0}};
        std::vector<std::pair<session*, const char*>> sources;
        for (auto& [id, s] : m_sessions)
        {
            for (auto [socket, channel] :
                 {std::pair{&s->shell, "shell"}, std::pair{&s->control, "control"},
                  std::pair{&s->stdin_, "stdin"}})
            {
                items.push_back({socket->handle(), 0, ZMQ_POLLIN, 0});
                sources.emplace_back(s.get(), channel);
            }
        }
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(poll_timeout_ms()));

        if (items[0].revents & ZMQ_POLLIN)
        {
            std::uint64_t count = 0;
            [[maybe_unused]] const ssize_t n = read(m_wake.get(), &count, sizeof count);
            std::deque<command> commands;
            {
                std::lock_guard<std::mutex> lock(m_mutex);
                commands.swap(m_commands);
            }
            for (auto& c : commands)
            {
                if (c.what == command::kind::stop)
                {
                    return;
                }
                apply(c);
            }
            continue; // the session set may have changed: rebuild the poll list
        }
        if (items[2].revents & ZMQ_POLLIN)
        {
            receive_frames(own_shell); // a kernel_info_reply: the kernel is up
            answered = true;
            become_ready();
        }
        // Replies first: the kernel sent them before the status that follows them on iopub.
        for (std::size_t i = 0; i < sources.size(); ++i)
        {
            if (!(items[3 + i].revents & ZMQ_POLLIN))
            {
                continue;
            }
            auto [s, channel] = sources[i];
            zmq::socket_t& socket = std::string(channel) == "control" ? s->control
                                    : std::string(channel) == "stdin" ? s->stdin_
                                                                      : s->shell;
            try
            {
                kernel_message reply = decode_wire(receive_frames(socket), channel, m_signer);
                if (m_events.on_reply && std::string(channel) == "shell")
                {
                    const auto parent = parse_json_bounded(reply.parent_header);
                    if (parent.is_object())
                    {
                        report_execute_reply(reply, string_field(parent, "msg_id"));
                        m_events.on_reply(string_field(parent, "msg_id"));
                    }
                }
                deliver_to(*s, share_message(m_options.budget.get(), std::move(reply)));
            }
            catch (const protocol_error& e)
            {
                log::warn("dropped a kernel message", {{"channel", channel}, {"error", e.what()}});
            }
        }
        if (items[1].revents & ZMQ_POLLIN)
        {
            heard_iopub = true;
            try
            {
                on_iopub(decode_wire(receive_frames(iopub), "iopub", m_signer));
            }
            catch (const protocol_error& e)
            {
                log::warn("dropped a kernel message", {{"channel", "iopub"}, {"error", e.what()}});
            }
            become_ready();
        }
    }
}

} // namespace cellbox::gateway
