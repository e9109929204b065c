#include "cellbox/gateway/server.hpp"

#include "cellbox/gateway/message_builder.hpp"
#include "http_session.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

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
                                                  std::string()}))
{
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
                                    run_http_session(std::move(socket), m_context);
                                }
                                accept();
                            });
}

} // namespace cellbox::gateway
