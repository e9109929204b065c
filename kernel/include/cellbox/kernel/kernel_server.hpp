#pragma once

#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/output_coalescer.hpp"
#include "cellbox/kernel/wake_timer.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include <xeus/xkernel_configuration.hpp>
#include <xeus/xserver.hpp>

namespace xeus
{
class xcontext;
}

namespace cellbox::kernel
{

// Wraps xeus's ZeroMQ server (shell loop on the main thread) and shapes the traffic between it
// and the kernel core, where xeus 2.4.1 needs it:
//  - stream messages are coalesced (xeus-python sends one message per write()), in order with
//    every other iopub message, and captured file-descriptor output joins them;
//  - execute requests are validated before the core sees them (the core sends no reply at all
//    when a handler throws), their cellbox metadata is parsed, and a failed cell with
//    stop_on_error (default true, as in ipykernel) aborts the queued execute requests with
//    `aborted` replies;
//  - execute_reply gets the cell's resource report as metadata.cellbox;
//  - interrupt_request interrupts the running cell (interrupt_mode "message" is a no-op in
//    xeus 2.4.1), and shutdown ends the process right after the reply, even mid-cell.
class kernel_server final : public xeus::xserver
{
public:
    // Key of execute_reply content that carries the resource report to the metadata.
    static constexpr const char* usage_content_key = "__cellbox_usage__";

    // Matches xeus::xkernel::server_builder.
    static std::unique_ptr<xeus::xserver> build(xeus::xcontext& context,
                                                const xeus::xconfiguration& config,
                                                nl::json::error_handler_t error_handler);

    explicit kernel_server(std::unique_ptr<xeus::xserver> inner, coalescer_limits limits = {});
    ~kernel_server() override;

    // Output captured from file descriptors 1 and 2 (any thread). Returns false when no cell
    // is executing: there is no request to attach it to and the caller logs it instead.
    bool publish_captured(const std::string& stream_name, std::string text);
    // Adds the execution count offset to a message's content.execution_count.
    void shift_execution_count(nl::json& content) const;

    // Options of the execute_request being handled (main thread, during execution).
    const cell_options& current_cell_options() const { return m_cell_options; }
    // A restored session's execution count continues where it stopped: xeus counts on its
    // own from 1, so its count in execute_input and execute_reply is shifted by this much.
    void set_execution_count_offset(int offset) { m_count_offset = offset; }

    // Called from the control thread when a frontend sends interrupt_request.
    void on_interrupt_request(std::function<void()> handler);
    // Runs as an execute request arrives, before its cell owns the captured output: the
    // capture hands over what was written before (the kernel's start-up banner, a thread
    // between cells), which must not show up as the cell's output.
    void before_cell(std::function<void()> handler);

private:
    xeus::xcontrol_messenger& get_control_messenger_impl() override;
    void send_shell_impl(xeus::xmessage message) override;
    void send_control_impl(xeus::xmessage message) override;
    void send_stdin_impl(xeus::xmessage message) override;
    void publish_impl(xeus::xpub_message message, xeus::channel c) override;
    void start_impl(xeus::xpub_message message) override;
    void abort_queue_impl(const listener& l, long polling_interval) override;
    void stop_impl() override;
    void update_config_impl(xeus::xconfiguration& config) const override;

    void on_shell_message(xeus::xmessage message);
    void on_control_message(xeus::xmessage message);
    void reply_directly(const xeus::xmessage& request, nl::json content, nl::json metadata);
    void publish_status(const nl::json& parent, const char* state);
    void abort_queued_executions();

    void remember_identity(const xeus::xpub_message& message);
    void buffer_stream_locked(const std::string& name, const std::string& text);
    void flush_streams_locked();
    void flush_loop();

    std::unique_ptr<xeus::xserver> m_inner;

    // Main-thread state of the execute_request being handled.
    cell_options m_cell_options;
    bool m_stop_on_error = true;
    std::atomic<int> m_count_offset{0};
    std::string m_abort_after_idle_of;               // msg_id whose idle status starts an abort
    std::vector<xeus::xmessage> m_queued_at_failure; // requests queued when that cell failed

    // Shared with the capture and flush threads; m_mutex also serialises every publication
    // on the shell-side iopub socket, which is not thread-safe.
    std::mutex m_mutex;
    wake_timer m_flush_timer; // at the buffered output's deadline; writers never wake the thread
    output_coalescer m_coalescer;
    nl::json m_stream_parent;    // parent header of the buffered stream output
    nl::json m_executing_parent; // header of the executing request, null when idle
    std::string m_topic_prefix;  // "kernel_core.<id>."
    std::string m_user_name;
    std::string m_session_id;
    std::thread m_flusher;

    std::function<void()> m_interrupt_handler;
    std::function<void()> m_before_cell;
};

} // namespace cellbox::kernel
