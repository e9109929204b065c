#pragma once
// xeus's split server (shell on the main thread, control on its own) with iopub sent straight
// from the thread that publishes. xeus hands every iopub message to a publisher thread over an
// inproc socket, which forwards it to the real PUB socket: two more wake-ups per message, four
// messages per cell, each waiting for a core on a loaded machine. Here the PUB socket is ours,
// bound to the connection file's iopub endpoint, and signing and sending are serialised by a
// mutex (the shell thread, the control thread and the output coalescer's flush thread all
// publish). xeus's own publisher thread still runs, idle, on an endpoint nobody connects to.
#include <memory>
#include <mutex>
#include <xeus/xauthentication.hpp>
#include <xeus/xkernel_configuration.hpp>
#include <xeus/xserver_shell_main.hpp>
#include <zmq.hpp>

namespace cellbox::kernel
{

class direct_iopub_server final : public xeus::xserver_shell_main
{
public:
    direct_iopub_server(zmq::context_t& context, const xeus::xconfiguration& config,
                        nl::json::error_handler_t error_handler);
    ~direct_iopub_server() override;

private:
    void publish_impl(xeus::xpub_message message, xeus::channel c) override;
    void start_impl(xeus::xpub_message message) override;

    std::unique_ptr<xeus::xauthentication> m_auth;
    nl::json::error_handler_t m_error_handler;
    std::mutex m_mutex; // guards m_iopub (ZeroMQ sockets are not thread-safe) and m_auth
    zmq::socket_t m_iopub;
};

} // namespace cellbox::kernel
