#pragma once

#include "cellbox/gateway/connection_info.hpp"
#include "cellbox/gateway/kernel_message.hpp"
#include "cellbox/gateway/message_signer.hpp"
#include "cellbox/unique_fd.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <zmq.hpp>

namespace cellbox::gateway
{

// All ZeroMQ traffic of one kernel, on a thread of its own (ZeroMQ sockets are not
// thread-safe): the iopub subscription fanned out to every attached connection, and per
// connection its own shell, control and stdin sockets (routing id = the client's session id,
// as jupyter_server does). Until the kernel first answers kernel_info it is nudged every
// 250 ms; `on_ready` runs once it has answered.
//
// Callbacks run on this thread; they must hand their work to the caller's own executor.
class kernel_io
{
public:
    using deliver_fn = std::function<void(kernel_message)>;

    struct callbacks
    {
        std::function<void()> on_ready;
        std::function<void(const std::string& execution_state)> on_status;
        std::function<void()> on_activity;
        // A shell reply arrived for the request with this msg_id.
        std::function<void(const std::string& parent_msg_id)> on_reply;
        // The kernel started executing the request with this msg_id (its execute_input).
        std::function<void(const std::string& parent_msg_id)> on_execute_started;
        // An execute_reply arrived: its status (ok, error, aborted) and, for errors, ename.
        std::function<void(const std::string& parent_msg_id, const std::string& status,
                           const std::string& ename)>
            on_execute_reply;
    };

    kernel_io(zmq::context_t& context, connection_info info, callbacks events);
    ~kernel_io();

    kernel_io(const kernel_io&) = delete;
    kernel_io& operator=(const kernel_io&) = delete;

    void attach(std::uint64_t connection, const std::string& session_id, deliver_fn deliver);
    void detach(std::uint64_t connection);
    // message.channel: shell, control or stdin; the message is signed here.
    void send(std::uint64_t connection, kernel_message message);

private:
    struct connection;
    struct command
    {
        enum class kind
        {
            attach,
            detach,
            send,
            stop
        } what;
        std::uint64_t connection = 0;
        std::string session_id;
        deliver_fn deliver;
        kernel_message message;
    };

    void post(command c);
    void run();
    void apply(command& c);
    void report_execute_reply(const kernel_message& reply, const std::string& parent_id);

    zmq::context_t& m_context;
    connection_info m_info;
    message_signer m_signer;
    callbacks m_events;

    std::mutex m_mutex;
    std::deque<command> m_commands;
    unique_fd m_wake; // eventfd: commands are waiting

    // Owned by the thread.
    std::map<std::uint64_t, std::unique_ptr<connection>> m_connections;
    bool m_ready = false;
    std::string m_session;
    std::thread m_thread;
};

} // namespace cellbox::gateway
