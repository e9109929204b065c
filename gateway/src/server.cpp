#include "cellbox/gateway/server.hpp"

#include "cellbox/gateway/message_builder.hpp"
#include "http_session.hpp"
#include "tls_context.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <iostream>

namespace cellbox::gateway
{

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

server::server(net::io_context& io, const tcp::endpoint& endpoint, server_options options,
               const kernelspec_catalog& specs, kernel_manager& kernels)
    : m_io(io), m_acceptor(io),
      m_context(std::make_shared<context>(context{options,
                                                  authenticator(options.token, options.jwt_secret),
                                                  specs,
                                                  kernels,
                                                  {},
                                                  iso8601_now(),
                                                  std::string(),
                                                  cors_policy(options.allow_origin)}))
{
    // A kernel's sessions go with it (shut down, culled, failed to start).
    kernels.on_removed(
        [weak = std::weak_ptr<context>(m_context)](const std::string& kernel_id)
        {
            if (auto ctx = weak.lock())
            {
                ctx->sessions.remove_kernel(kernel_id);
            }
        });
    if (!options.certfile.empty())
    {
        m_tls = make_tls_context(options.certfile,
                                 options.keyfile.empty() ? options.certfile : options.keyfile);
    }
    m_acceptor.open(endpoint.protocol());
    m_acceptor.set_option(net::socket_base::reuse_address(true));
    m_acceptor.bind(endpoint);
    m_acceptor.listen(net::socket_base::max_listen_connections);
}

unsigned short server::port() const
{
    return m_acceptor.local_endpoint().port();
}

void server::start()
{
    accept();
}

void server::accept()
{
    m_acceptor.async_accept(net::make_strand(m_io),
                            [this](beast::error_code error, tcp::socket socket)
                            {
                                if (!error)
                                {
                                    // Small frames (status, replies) go out at once instead of
                                    // waiting for the client's delayed ACK (~40 ms).
                                    beast::error_code ignored;
                                    socket.set_option(tcp::no_delay(true), ignored);
                                    if (m_tls)
                                    {
                                        handshake(std::move(socket));
                                    }
                                    else
                                    {
                                        run_http_session(plain_stream(std::move(socket)),
                                                         m_context);
                                    }
                                }
                                accept();
                            });
}

void server::handshake(tcp::socket socket)
{
    auto stream = std::make_shared<tls_stream>(std::move(socket), *m_tls);
    // A client that connects and says nothing must not hold the connection open for ever.
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(30));
    stream->async_handshake(
        net::ssl::stream_base::server,
        [stream, ctx = m_context](beast::error_code error)
        {
            if (error)
            {
                // Plain HTTP to this port, an untrusted certificate, an old protocol: the
                // client is told by the TLS alert (or the closed connection), the log says why.
                beast::error_code ignored;
                std::cerr << "cellbox serve: TLS handshake failed with "
                          << beast::get_lowest_layer(*stream).socket().remote_endpoint(ignored)
                          << ": " << error.message() << "\n";
                return;
            }
            run_http_session(std::move(*stream), ctx);
        });
}

} // namespace cellbox::gateway
