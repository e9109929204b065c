#include "cellbox/kernel/kernel_server.hpp"

#include "cellbox/kernel/request_validation.hpp"
#include "direct_iopub_server.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <utility>
#include <xeus/xeus_context.hpp>
#include <xeus/xmessage.hpp>

namespace cellbox::kernel
{
namespace
{

std::string msg_type_of(const nl::json& header)
{
    return header.value("msg_type", "");
}

std::string msg_id_of(const nl::json& header)
{
    return header.value("msg_id", "");
}

// How long the process lives after sending shutdown_reply, so that ZeroMQ's I/O thread
// puts the reply on the wire before _exit().
constexpr auto shutdown_flush_delay = std::chrono::milliseconds(50);

} // namespace

std::unique_ptr<xeus::xserver> kernel_server::build(xeus::xcontext& context,
                                                    const xeus::xconfiguration& config,
                                                    nl::json::error_handler_t error_handler)
{
    return std::make_unique<kernel_server>(std::make_unique<direct_iopub_server>(
        context.get_wrapped_context<zmq::context_t>(), config, error_handler));
}

kernel_server::kernel_server(std::unique_ptr<xeus::xserver> inner, coalescer_limits limits)
    : m_inner(std::move(inner)), m_coalescer(limits)
{
    m_inner->register_shell_listener([this](xeus::xmessage m) { on_shell_message(std::move(m)); });
    m_inner->register_control_listener([this](xeus::xmessage m)
                                       { on_control_message(std::move(m)); });
    m_inner->register_stdin_listener([this](xeus::xmessage m)
                                     { notify_stdin_listener(std::move(m)); });
    m_inner->register_internal_listener([this](nl::json m)
                                        { return notify_internal_listener(std::move(m)); });
    m_flusher = std::thread([this] { flush_loop(); });
}

kernel_server::~kernel_server()
{
    m_flush_timer.stop();
    m_flusher.join();
}

void kernel_server::before_cell(std::function<void()> handler)
{
    m_before_cell = std::move(handler);
}

void kernel_server::on_interrupt_request(std::function<void()> handler)
{
    m_interrupt_handler = std::move(handler);
}

xeus::xcontrol_messenger& kernel_server::get_control_messenger_impl()
{
    return m_inner->get_control_messenger();
}

// ---- incoming ----------------------------------------------------------------------------

void kernel_server::on_shell_message(xeus::xmessage message)
{
    if (msg_type_of(message.header()) != "execute_request")
    {
        notify_shell_listener(std::move(message));
        return;
    }
    nl::json content = message.content();
    std::optional<std::string> problem = execute_request_problem(content);
    cell_options options;
    if (!problem)
    {
        try
        {
            options = parse_cell_options(message.metadata());
        }
        catch (const invalid_value& e)
        {
            problem = e.what();
        }
    }
    if (problem)
    {
        const nl::json error = {{"status", "error"},
                                {"ename", "InvalidRequest"},
                                {"evalue", *problem},
                                {"traceback", nl::json::array({"InvalidRequest: " + *problem})}};
        publish_status(message.header(), "busy");
        reply_directly(message, error, nl::json::object());
        publish_status(message.header(), "idle");
        return;
    }
    m_cell_options = options;
    m_stop_on_error = content.value("stop_on_error", true);
    // The core's own abort answers every queued message with a bare error; we abort the way
    // ipykernel does instead (see abort_queued_executions).
    content["stop_on_error"] = false;
    if (m_before_cell)
    {
        m_before_cell();
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_executing_parent = message.header();
    }
    xeus::xmessage rewritten(message.identities(), message.header(), message.parent_header(),
                             message.metadata(), std::move(content), std::move(message).buffers());
    notify_shell_listener(std::move(rewritten));
}

void kernel_server::on_control_message(xeus::xmessage message)
{
    if (msg_type_of(message.header()) == "interrupt_request" && m_interrupt_handler)
    {
        m_interrupt_handler();
    }
    notify_control_listener(std::move(message));
}

// ---- outgoing ----------------------------------------------------------------------------

void kernel_server::shift_execution_count(nl::json& content) const
{
    const int offset = m_count_offset;
    if (auto count = content.find("execution_count");
        offset != 0 && count != content.end() && count->is_number_integer())
    {
        *count = count->get<int>() + offset;
    }
}

void kernel_server::send_shell_impl(xeus::xmessage message)
{
    if (msg_type_of(message.header()) != "execute_reply")
    {
        m_inner->send_shell(std::move(message));
        return;
    }
    {
        // All output of the cell goes out before its reply.
        std::lock_guard<std::mutex> lock(m_mutex);
        flush_streams_locked();
        m_executing_parent = nullptr;
    }
    nl::json content = message.content();
    nl::json metadata = message.metadata();
    shift_execution_count(content);
    if (auto usage = content.find(usage_content_key); usage != content.end())
    {
        metadata["cellbox"] = *usage;
        content.erase(usage);
    }
    if (content.value("status", "") == "error" && m_stop_on_error)
    {
        m_abort_after_idle_of = msg_id_of(message.parent_header());
        // Take the queued requests now, before the client can see this reply and send more:
        // only what was already queued is aborted (ipykernel's rule). They are answered after
        // this cell's idle status, in abort_queued_executions.
        m_inner->abort_queue(
            [this](xeus::xmessage queued) { m_queued_at_failure.push_back(std::move(queued)); }, 0);
    }
    m_inner->send_shell(xeus::xmessage(message.identities(), message.header(),
                                       message.parent_header(), std::move(metadata),
                                       std::move(content), std::move(message).buffers()));
}

void kernel_server::send_control_impl(xeus::xmessage message)
{
    const std::string type = msg_type_of(message.header());
    if (type != "shutdown_reply" && type != "interrupt_reply")
    {
        m_inner->send_control(std::move(message));
        return;
    }
    // xeus 2.4.1 leaves out the status these replies must carry.
    nl::json content = message.content();
    content["status"] = "ok";
    m_inner->send_control(xeus::xmessage(message.identities(), message.header(),
                                         message.parent_header(), message.metadata(),
                                         std::move(content), std::move(message).buffers()));
    if (type == "shutdown_reply")
    {
        // The shell loop would only notice the stop after the running cell: end now.
        std::this_thread::sleep_for(shutdown_flush_delay);
        std::fflush(nullptr);
        _exit(0);
    }
}

void kernel_server::send_stdin_impl(xeus::xmessage message)
{
    nl::json content = message.content();
    if (msg_type_of(message.header()) == "input_request")
    {
        // xeus names the flag `pwd`; the protocol (and frontends that mask input) say `password`.
        content["password"] = content.value("pwd", false);
        std::lock_guard<std::mutex> lock(m_mutex);
        flush_streams_locked(); // the prompt comes after the output that precedes it
    }
    // Blocks until the frontend answers: never under the lock.
    m_inner->send_stdin(xeus::xmessage(message.identities(), message.header(),
                                       message.parent_header(), message.metadata(),
                                       std::move(content), std::move(message).buffers()));
}

void kernel_server::publish_impl(xeus::xpub_message message, xeus::channel c)
{
    if (c == xeus::channel::CONTROL)
    {
        m_inner->publish(std::move(message), c); // not coalesced: the control thread's statuses
        return;
    }
    const std::string type = msg_type_of(message.header());
    const bool idle = type == "status" && message.content().value("execution_state", "") == "idle";
    const std::string parent_id = msg_id_of(message.parent_header());
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        remember_identity(message);
        if (type == "stream")
        {
            if (message.parent_header() != m_stream_parent)
            {
                flush_streams_locked();
                m_stream_parent = message.parent_header();
            }
            const nl::json& content = message.content();
            buffer_stream_locked(content.value("name", "stdout"), content.value("text", ""));
            return;
        }
        flush_streams_locked();
        if (type == "execute_input" && m_count_offset != 0)
        {
            nl::json content = message.content();
            shift_execution_count(content);
            message = xeus::xpub_message(message.topic(), message.header(), message.parent_header(),
                                         message.metadata(), std::move(content),
                                         std::move(message).buffers());
        }
        m_inner->publish(std::move(message), c);
    }
    if (idle && !m_abort_after_idle_of.empty() && parent_id == m_abort_after_idle_of)
    {
        m_abort_after_idle_of.clear();
        abort_queued_executions();
    }
}

bool kernel_server::publish_captured(const std::string& stream_name, std::string text)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_executing_parent.is_null())
    {
        return false;
    }
    if (m_stream_parent != m_executing_parent)
    {
        flush_streams_locked();
        m_stream_parent = m_executing_parent;
    }
    buffer_stream_locked(stream_name, text);
    return true;
}

void kernel_server::buffer_stream_locked(const std::string& name, const std::string& text)
{
    const auto now = output_coalescer::clock::now();
    const bool was_empty = m_coalescer.empty();
    m_coalescer.append(name, text, now);
    if (m_coalescer.due(now))
    {
        flush_streams_locked();
    }
    else if (was_empty)
    {
        // The deadline stays until the buffer is taken: set once, by a system call
        // instead of a wake-up of the flush thread.
        m_flush_timer.arm_at(*m_coalescer.deadline());
    }
}

void kernel_server::flush_streams_locked()
{
    if (m_coalescer.empty())
    {
        return;
    }
    // Flushed before its deadline (the cell's reply, a full buffer): the flush thread need
    // not wake at all.
    m_flush_timer.disarm();
    for (auto& chunk : m_coalescer.take())
    {
        nl::json content = {{"name", std::move(chunk.name)}, {"text", std::move(chunk.text)}};
        m_inner->publish(xeus::xpub_message(m_topic_prefix + "stream",
                                            xeus::make_header("stream", m_user_name, m_session_id),
                                            m_stream_parent, nl::json::object(), std::move(content),
                                            xeus::buffer_sequence()),
                         xeus::channel::SHELL);
    }
}

void kernel_server::flush_loop()
{
    while (m_flush_timer.wait())
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        const auto deadline = m_coalescer.deadline();
        if (deadline && output_coalescer::clock::now() >= *deadline)
        {
            flush_streams_locked();
        }
        // Otherwise a stale wake: flushed meanwhile, or new output whose deadline is armed.
    }
}

void kernel_server::remember_identity(const xeus::xpub_message& message)
{
    if (!m_session_id.empty())
    {
        return;
    }
    const std::string& topic = message.topic();
    m_topic_prefix = topic.substr(0, topic.rfind('.') + 1);
    m_user_name = message.header().value("username", "");
    m_session_id = message.header().value("session", "");
}

void kernel_server::publish_status(const nl::json& parent, const char* state)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    flush_streams_locked();
    m_inner->publish(xeus::xpub_message(m_topic_prefix + "status",
                                        xeus::make_header("status", m_user_name, m_session_id),
                                        parent, nl::json::object(),
                                        nl::json{{"execution_state", state}},
                                        xeus::buffer_sequence()),
                     xeus::channel::SHELL);
}

void kernel_server::reply_directly(const xeus::xmessage& request, nl::json content,
                                   nl::json metadata)
{
    std::string type = msg_type_of(request.header());
    type.replace(type.rfind("_request"), std::string::npos, "_reply");
    m_inner->send_shell(xeus::xmessage(
        request.identities(), xeus::make_header(type, m_user_name, m_session_id), request.header(),
        std::move(metadata), std::move(content), xeus::buffer_sequence()));
}

void kernel_server::abort_queued_executions()
{
    // Like ipykernel: execute requests that were already queued when a cell failed are
    // answered `aborted` without running; other requests are handled normally.
    for (auto& request : std::exchange(m_queued_at_failure, {}))
    {
        if (msg_type_of(request.header()) != "execute_request")
        {
            notify_shell_listener(std::move(request));
            continue;
        }
        const nl::json aborted = {{"status", "aborted"}};
        publish_status(request.header(), "busy");
        reply_directly(request, aborted, aborted);
        publish_status(request.header(), "idle");
    }
}

void kernel_server::start_impl(xeus::xpub_message message)
{
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        remember_identity(message);
    }
    m_inner->start(std::move(message));
}

void kernel_server::abort_queue_impl(const listener& l, long polling_interval)
{
    m_inner->abort_queue(l, polling_interval);
}

void kernel_server::stop_impl()
{
    // Deliberately not forwarded: the process ends after the shutdown reply is sent
    // (send_control_impl), instead of racing the reply with exit() on the main thread.
}

void kernel_server::update_config_impl(xeus::xconfiguration& config) const
{
    // xeus reads the bound endpoints back to learn randomly chosen ports, through a 32-byte
    // buffer that is too small for most ipc:// paths (it throws EINVAL). A connection file
    // names every port, so there is nothing to learn.
    const bool all_ports_known = !config.m_control_port.empty() && !config.m_shell_port.empty() &&
                                 !config.m_stdin_port.empty() && !config.m_iopub_port.empty() &&
                                 !config.m_hb_port.empty();
    if (!all_ports_known)
    {
        m_inner->update_config(config);
    }
}

} // namespace cellbox::kernel
