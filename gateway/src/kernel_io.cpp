#include "cellbox/gateway/kernel_io.hpp"

#include "cellbox/gateway/message_builder.hpp"
#include "cellbox/gateway/wire_codec.hpp"
#include "cellbox/gateway/zmq_frames.hpp"
#include "log.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <sys/eventfd.h>
#include <unistd.h>
#include <vector>
#include <zmq_addon.hpp>

namespace cellbox::gateway
{

struct kernel_io::connection
{
    zmq::socket_t shell, control, stdin_;
    deliver_fn deliver;
};

namespace
{

zmq::socket_t dealer(zmq::context_t& context, const std::string& identity,
                     const std::string& endpoint)
{
    zmq::socket_t socket(context, zmq::socket_type::dealer);
    socket.set(zmq::sockopt::linger, 0);
    socket.set(zmq::sockopt::routing_id, identity);
    socket.connect(endpoint);
    return socket;
}

} // namespace

kernel_io::kernel_io(zmq::context_t& context, connection_info info, callbacks events)
    : m_context(context), m_info(std::move(info)), m_signer(m_info.key),
      m_events(std::move(events)), m_wake(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      m_session(random_hex(16))
{
    m_thread = std::thread([this] { run(); });
}

kernel_io::~kernel_io()
{
    post({command::kind::stop, 0, {}, {}, {}});
    m_thread.join();
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

void kernel_io::attach(std::uint64_t connection, const std::string& session_id, deliver_fn deliver)
{
    post({command::kind::attach, connection, session_id, std::move(deliver), {}});
}

void kernel_io::detach(std::uint64_t connection)
{
    post({command::kind::detach, connection, {}, {}, {}});
}

void kernel_io::send(std::uint64_t connection, kernel_message message)
{
    post({command::kind::send, connection, {}, {}, std::move(message)});
}

void kernel_io::apply(command& c)
{
    switch (c.what)
    {
    case command::kind::attach:
    {
        auto conn = std::make_unique<connection>();
        conn->shell = dealer(m_context, c.session_id, m_info.endpoint(m_info.shell_port));
        conn->control = dealer(m_context, c.session_id, m_info.endpoint(m_info.control_port));
        conn->stdin_ = dealer(m_context, c.session_id, m_info.endpoint(m_info.stdin_port));
        conn->deliver = std::move(c.deliver);
        m_connections[c.connection] = std::move(conn);
        break;
    }
    case command::kind::detach:
        m_connections.erase(c.connection);
        break;
    case command::kind::send:
    {
        const auto it = m_connections.find(c.connection);
        if (it == m_connections.end())
        {
            break;
        }
        connection& conn = *it->second;
        zmq::socket_t& socket = c.message.channel == "control" ? conn.control
                                : c.message.channel == "stdin" ? conn.stdin_
                                                               : conn.shell;
        send_frames(socket, encode_wire(c.message, {}, m_signer));
        if (m_events.on_activity)
        {
            m_events.on_activity();
        }
        break;
    }
    case command::kind::stop:
        break;
    }
}

void kernel_io::report_execute_reply(const kernel_message& reply, const std::string& parent_id)
{
    if (!m_events.on_execute_reply)
    {
        return;
    }
    const auto header = nlohmann::json::parse(reply.header, nullptr, false);
    if (!header.is_object() || header.value("msg_type", "") != "execute_reply")
    {
        return;
    }
    const auto content = nlohmann::json::parse(reply.content, nullptr, false);
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
    zmq::socket_t iopub(m_context, zmq::socket_type::sub);
    iopub.set(zmq::sockopt::linger, 0);
    iopub.set(zmq::sockopt::subscribe, "");
    iopub.connect(m_info.endpoint(m_info.iopub_port));
    zmq::socket_t own_shell =
        dealer(m_context, "cellbox-gateway-" + m_session, m_info.endpoint(m_info.shell_port));
    auto last_nudge = std::chrono::steady_clock::time_point{};

    while (true)
    {
        if (!m_ready &&
            std::chrono::steady_clock::now() - last_nudge > std::chrono::milliseconds(250))
        {
            last_nudge = std::chrono::steady_clock::now();
            send_frames(own_shell, encode_wire(make_request("shell", "kernel_info_request",
                                                            nlohmann::json::object(), m_session),
                                               {}, m_signer));
        }
        std::vector<zmq::pollitem_t> items = {{nullptr, m_wake.get(), ZMQ_POLLIN, 0},
                                              {iopub.handle(), 0, ZMQ_POLLIN, 0},
                                              {own_shell.handle(), 0, ZMQ_POLLIN, 0}};
        std::vector<std::pair<connection*, const char*>> sources;
        for (auto& [id, conn] : m_connections)
        {
            for (auto [socket, channel] :
                 {std::pair{&conn->shell, "shell"}, std::pair{&conn->control, "control"},
                  std::pair{&conn->stdin_, "stdin"}})
            {
                items.push_back({socket->handle(), 0, ZMQ_POLLIN, 0});
                sources.emplace_back(conn.get(), channel);
            }
        }
        zmq::poll(items.data(), items.size(), std::chrono::milliseconds(m_ready ? -1 : 50));

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
            continue; // the connection set may have changed: rebuild the poll list
        }
        if (items[2].revents & ZMQ_POLLIN)
        {
            receive_frames(own_shell); // a kernel_info_reply: the kernel is up
            if (!m_ready)
            {
                m_ready = true;
                if (m_events.on_ready)
                {
                    m_events.on_ready();
                }
            }
        }
        // Replies first: the kernel sent them before the status that follows them on iopub.
        for (std::size_t i = 0; i < sources.size(); ++i)
        {
            if (!(items[3 + i].revents & ZMQ_POLLIN))
            {
                continue;
            }
            auto [conn, channel] = sources[i];
            zmq::socket_t& socket = std::string(channel) == "control" ? conn->control
                                    : std::string(channel) == "stdin" ? conn->stdin_
                                                                      : conn->shell;
            try
            {
                kernel_message reply = decode_wire(receive_frames(socket), channel, m_signer);
                if (m_events.on_reply && std::string(channel) == "shell")
                {
                    const auto parent = nlohmann::json::parse(reply.parent_header, nullptr, false);
                    if (parent.is_object())
                    {
                        report_execute_reply(reply, parent.value("msg_id", ""));
                        m_events.on_reply(parent.value("msg_id", ""));
                    }
                }
                conn->deliver(std::move(reply));
            }
            catch (const protocol_error& e)
            {
                log::warn("dropped a kernel message", {{"channel", channel}, {"error", e.what()}});
            }
        }
        if (items[1].revents & ZMQ_POLLIN)
        {
            try
            {
                kernel_message message = decode_wire(receive_frames(iopub), "iopub", m_signer);
                const auto header = nlohmann::json::parse(message.header, nullptr, false);
                const auto parent = nlohmann::json::parse(message.parent_header, nullptr, false);
                const bool own_nudge =
                    parent.is_object() && parent.value("session", "") == m_session;
                if (header.is_object() && header.value("msg_type", "") == "execute_input" &&
                    m_events.on_execute_started && parent.is_object())
                {
                    m_events.on_execute_started(parent.value("msg_id", ""));
                }
                if (header.is_object() && header.value("msg_type", "") == "status" &&
                    m_events.on_status && !own_nudge)
                {
                    const auto content = nlohmann::json::parse(message.content, nullptr, false);
                    if (content.is_object())
                    {
                        m_events.on_status(content.value("execution_state", ""));
                    }
                }
                if (m_events.on_activity)
                {
                    m_events.on_activity();
                }
                for (auto& [id, conn] : m_connections)
                {
                    conn->deliver(message);
                }
            }
            catch (const protocol_error& e)
            {
                log::warn("dropped a kernel message", {{"channel", "iopub"}, {"error", e.what()}});
            }
        }
    }
}

} // namespace cellbox::gateway
