#include "direct_iopub_server.hpp"

#include <algorithm>
#include <iterator>
#include <xeus/xmiddleware.hpp>
#include <xeus/xzmq_serializer.hpp>
#include <zmq_addon.hpp>

namespace cellbox::kernel
{
namespace
{

// The configuration xeus's own publisher thread binds: the iopub endpoint moved aside. For ipc
// the port is the socket path's suffix: one digit no other channel uses, so the path is no
// longer than the others (a Unix socket's path has a hard limit). For tcp, any free port.
xeus::xconfiguration for_xeus_publisher(xeus::xconfiguration config)
{
    if (config.m_transport != "ipc")
    {
        config.m_iopub_port = xeus::find_free_port();
        return config;
    }
    const std::string taken[] = {config.m_shell_port, config.m_control_port, config.m_stdin_port,
                                 config.m_hb_port, config.m_iopub_port};
    for (char digit = '0'; digit <= '9'; ++digit)
    {
        const std::string port(1, digit);
        if (std::find(std::begin(taken), std::end(taken), port) == std::end(taken))
        {
            config.m_iopub_port = port;
            break;
        }
    }
    return config;
}

} // namespace

direct_iopub_server::direct_iopub_server(zmq::context_t& context,
                                         const xeus::xconfiguration& config,
                                         nl::json::error_handler_t error_handler)
    : xeus::xserver_shell_main(context, for_xeus_publisher(config), error_handler),
      m_auth(xeus::make_xauthentication(config.m_signature_scheme, config.m_key)),
      m_error_handler(error_handler), m_iopub(context, zmq::socket_type::pub)
{
    m_iopub.set(zmq::sockopt::linger, xeus::get_socket_linger());
    m_iopub.bind(xeus::get_end_point(config.m_transport, config.m_ip, config.m_iopub_port));
}

direct_iopub_server::~direct_iopub_server()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_iopub.close(); // a late publish from another thread finds it closed
}

void direct_iopub_server::publish_impl(xeus::xpub_message message, xeus::channel)
{
    // Signed under the lock too: one HMAC key for all threads, and xeus's signer is not
    // documented as thread-safe (contention is rare: the control thread seldom publishes).
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_iopub.handle() == nullptr)
    {
        return;
    }
    xeus::xzmq_serializer::serialize_iopub(std::move(message), *m_auth, m_error_handler)
        .send(m_iopub);
}

void direct_iopub_server::start_impl(xeus::xpub_message message)
{
    // xeus publishes the "starting" status before it serves: on the real socket too.
    xeus::xpub_message starting(message.topic(), message.header(), message.parent_header(),
                                message.metadata(), message.content(), {});
    publish_impl(std::move(starting), xeus::channel::SHELL);
    xeus::xserver_shell_main::start_impl(std::move(message));
}

} // namespace cellbox::kernel
