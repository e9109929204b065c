#pragma once

#include "cellbox/unique_fd.hpp"
#include "protocol/connection_info.hpp"
#include "protocol/kernel_message.hpp"
#include "protocol/message_signer.hpp"
#include "streams/io_thread.hpp"
#include "streams/iopub_rate_limiter.hpp"
#include "streams/output_limiter.hpp"
#include "streams/replay_buffer.hpp"
#include "streams/stream_budget.hpp"
#include "streams/stream_options.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

// All ZeroMQ traffic of one kernel, on one of the gateway's few I/O threads (io_thread; a
// kernel stays on the same one for its whole life, and ZeroMQ sockets are not thread-safe,
// so its sockets are only used there): the iopub subscription, filtered (per-cell output cap, rate
// limits) and fanned out to every attached connection, and per client session its own shell,
// control and stdin sockets (routing id = the client's session id, as jupyter_server does). Until
// the kernel first answers kernel_info it is nudged every 250 ms; `on_ready` runs once it has
// answered.
//
// When the last connection of a session goes, its sockets stay open and the messages meant
// for it (its replies, iopub answering its requests, and all iopub while nobody at all is
// connected) go to a bounded replay buffer; a connection that comes back with the same
// session id within `replay_timeout` gets them first, in order. Each message is one shared,
// immutable copy however many sessions and connections hold it; buffers of disconnected
// sessions are enrolled in the gateway-wide stream_budget, which may ask for one to be
// dropped (longest disconnected first) when the gateway holds too much.
//
// A restart replaces the kernel_io with the process: stop() hands the buffers of disconnected
// sessions over, and the next kernel_io starts with them, so a reconnect after the restart
// still gets what it missed (and the gateway's explanation of a death, added in between).
//
// Callbacks run on the I/O thread, which serves other kernels too; they must hand their work
// to the caller's own executor.
class kernel_io
{
public:
    // What a session without connections has waiting for its reconnect, until `expires`.
    struct kept_session
    {
        replay_buffer buffer;
        std::chrono::steady_clock::time_point expires;
    };
    using kept_sessions = std::map<std::string, kept_session>; // by session id

    // Hands one message to a connection without blocking. Returns false once the connection
    // is closing: the message was not taken (and goes to the session's replay buffer).
    using deliver_fn = std::function<bool(const shared_message&)>;

    struct callbacks
    {
        std::function<void()> on_ready;
        std::function<void(const std::string& execution_state)> on_status;
        std::function<void()> on_activity;
        // A shell reply arrived for the request with this msg_id.
        std::function<void(const std::string& parent_msg_id)> on_reply;
        // The kernel started executing the request with this msg_id (its execute_input).
        std::function<void(const std::string& parent_msg_id)> on_execute_started;
        // The thread could not work (ZeroMQ refused a socket: out of descriptors): the kernel
        // is unreachable.
        std::function<void(const std::string& reason)> on_failure;
        // An execute_reply arrived: its status (ok, error, aborted) and, for errors, ename.
        std::function<void(const std::string& parent_msg_id, const std::string& status,
                           const std::string& ename)>
            on_execute_reply;
    };

    // `kept`: sessions of a previous kernel_io of this kernel (from its stop()).
    kernel_io(zmq::context_t& context, connection_info info, callbacks events,
              stream_options options = {}, kept_sessions kept = {});
    ~kernel_io();

    // Leaves the I/O thread; returns the disconnected sessions that have messages waiting. Call
    // once, from the thread that posts commands; nothing may be posted afterwards.
    kept_sessions stop();

    kernel_io(const kernel_io&) = delete;
    kernel_io& operator=(const kernel_io&) = delete;

    // Hands this connection to a new owner (a pooled session's probe becomes its kernel's
    // client: the iopub subscription and the kernel_info handshake are done already). The new
    // callbacks replace the old ones; `on_ready` runs at once if the kernel is ready.
    void adopt(callbacks events, kept_sessions kept = {});

    void attach(std::uint64_t connection, const std::string& session_id, deliver_fn deliver);
    // `undelivered`: messages the connection had taken but not yet sent, oldest first; they
    // are replayed to the session's next connection.
    void detach(std::uint64_t connection, std::vector<shared_message> undelivered = {});
    // message.channel: shell, control or stdin; the message is signed here.
    void send(std::uint64_t connection, kernel_message message);

private:
    struct session;
    void open_kept_sessions(kept_sessions kept);

    // Runs `work` on the I/O thread, in order, while this kernel_io is served there.
    void post(std::function<void()> work);
    // On the I/O thread from here on.
    void start(kept_sessions kept);
    // The session `id`, created (with its sockets, watched) if new.
    session& open_session(const std::string& id);
    void close_session(std::map<std::string, std::unique_ptr<session>>::iterator it);
    void attach_now(std::uint64_t connection, const std::string& session_id, deliver_fn deliver);
    void detach_now(std::uint64_t connection, std::vector<shared_message> undelivered);
    void send_now(std::uint64_t connection, const kernel_message& message);
    void adopt_now(callbacks events, kept_sessions kept);
    void on_own_shell();
    void on_session_input(session& s, int channel);
    void on_iopub_input();
    void on_iopub(kernel_message message);
    void become_ready();
    // Nudges the kernel while it is not ready, drops expired sessions, and tells the thread
    // when to call again.
    void tick();
    void reschedule();
    // To every live connection of `s`, or its replay buffer when it has none.
    void deliver_to(session& s, const shared_message& message);
    // The session has just lost its last connection.
    void orphaned(session& s);
    // How the stream budget asks to drop a disconnected session's buffer: posts evict.
    std::function<void(const std::string& id, std::uint64_t generation)> evictor();
    // The stream budget asked to drop the buffer of session `id` (if still disconnected since
    // the orphaning `generation`).
    void evict(const std::string& id, std::uint64_t generation);
    void expire_sessions();
    void report_execute_reply(const kernel_message& reply, const std::string& parent_id);

    zmq::context_t& m_context;
    connection_info m_info;
    message_signer m_signer;
    callbacks m_events;
    stream_options m_options;

    io_threads& m_threads;
    io_thread& m_io;
    const io_thread::client_id m_id;
    bool m_stopped = false;

    // Owned by the I/O thread.
    std::map<std::string, std::unique_ptr<session>> m_sessions; // by session id
    std::map<std::uint64_t, std::string> m_connection_sessions; // connection -> session id
    std::optional<zmq::socket_t> m_iopub;
    std::optional<zmq::socket_t> m_own_shell; // for the kernel_info nudges
    io_thread::token m_own_shell_watch = 0;
    bool m_ready = false;
    // Ready once the kernel answered on shell AND something came through iopub: a SUB socket
    // connects asynchronously, and a kernel that answers fast (a forked session) would
    // otherwise publish a client's first outputs before the subscription exists — lost.
    bool m_answered = false;
    bool m_heard_iopub = false;
    std::chrono::steady_clock::time_point m_last_nudge{};
    std::string m_session;
    output_limiter m_output_limiter;
    iopub_rate_limiter m_rate_limiter;
};

} // namespace cellbox::gateway
