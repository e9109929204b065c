#include "http/server.hpp"

#include "http/connection_limits.hpp"
#include "http/http_session.hpp"
#include "http/tls_context.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <iostream>
#include <optional>

namespace cellbox::gateway
{

namespace beast = boost::beast;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace
{

// What a refused connection reads, if it reads: a complete response, written in one go.
const std::string& busy_response()
{
    static const std::string body = "{\"message\": \"too many connections, try again later\", "
                                    "\"reason\": \"Service Unavailable\"}\n";
    static const std::string response = "HTTP/1.1 503 Service Unavailable\r\n"
                                        "Server: cellbox\r\n"
                                        "Content-Type: application/json\r\n"
                                        "Retry-After: 10\r\n"
                                        "Connection: close\r\n"
                                        "Content-Length: " +
                                        std::to_string(body.size()) + "\r\n\r\n" + body;
    return response;
}

// The public keys of users' RS256 / ES256 tokens, if any are configured. Throws
// std::runtime_error naming the file that cannot be used.
jwt_options jwt_options_of(const server_options& options)
{
    jwt_options jwt;
    if (!options.jwt_public_key.empty() || !options.jwks_file.empty())
    {
        jwt.public_keys =
            std::make_shared<jwt_key_store>(options.jwt_public_key, options.jwks_file);
        log::info("JWT public keys loaded", {{"keys", jwt.public_keys->describe()}});
    }
    jwt.audience = options.jwt_audience;
    jwt.issuer = options.jwt_issuer;
    return jwt;
}

std::size_t limit_of(int configured)
{
    return configured > 0 ? static_cast<std::size_t>(configured) : 0;
}

} // namespace

server::server(net::io_context& io, const tcp::endpoint& endpoint, const server_options& options,
               router routes)
    : m_io(io), m_acceptor(io), m_accept_retry(io),
      m_limits(connection_limits::create(
          connections_within_descriptor_limit(limit_of(options.max_connections)),
          limit_of(options.max_connections_per_ip))),
      m_context(std::make_shared<const http_context>(http_context{
          options.base_url, options.max_message_bytes, options.http_header_timeout_s,
          options.http_body_timeout_s, options.http_write_timeout_s, options.ws_max_outbox_bytes,
          authenticator(options.token, options.jwt_secret, jwt_options_of(options)),
          cors_policy(options.allow_origin), std::move(routes)}))
{
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

void server::reload_keys()
{
    const auto& keys = m_context->auth.public_keys();
    if (!keys)
    {
        log::info("SIGHUP: no JWT key files to reload");
        return;
    }
    try
    {
        keys->reload();
        log::info("JWT public keys reloaded", {{"keys", keys->describe()}});
    }
    catch (const std::exception& e)
    {
        log::error("JWT public keys not reloaded; the previous ones stay in use",
                   {{"error", e.what()}});
    }
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
    m_acceptor.async_accept(
        net::make_strand(m_io),
        [this](beast::error_code error, tcp::socket socket)
        {
            if (error)
            {
                // Out of descriptors (EMFILE) fails every accept until one closes: wait a
                // little instead of spinning, and say so once in a while.
                static std::optional<std::chrono::steady_clock::time_point> last_said;
                const auto now = std::chrono::steady_clock::now();
                if (!last_said || now - *last_said > std::chrono::seconds(10))
                {
                    last_said = now;
                    log::warn("accepting connections fails", {{"error", error.message()}});
                }
                m_accept_retry.expires_after(std::chrono::milliseconds(100));
                m_accept_retry.async_wait([this](beast::error_code) { accept(); });
                return;
            }
            on_accept(std::move(socket));
            accept();
        });
}

void server::on_accept(tcp::socket socket)
{
    beast::error_code error;
    const auto remote = socket.remote_endpoint(error);
    if (error)
    {
        return; // already gone
    }
    std::optional<connection_slot> slot = m_limits->admit(remote.address());
    if (!slot)
    {
        refuse(std::move(socket));
        return;
    }
    // Small frames (status, replies) go out at once instead of waiting for the client's
    // delayed ACK (~40 ms).
    socket.set_option(tcp::no_delay(true), error);
    if (m_tls)
    {
        handshake(std::move(socket), std::move(*slot));
    }
    else
    {
        run_http_session(plain_stream(std::move(socket)), m_context, std::move(*slot));
    }
}

void server::refuse(tcp::socket socket)
{
    if (m_tls)
    {
        return; // a 503 would need a TLS handshake first: closing is cheaper
    }
    // Into an empty send buffer: completes at once, never waits for the client.
    auto held = std::make_shared<tcp::socket>(std::move(socket));
    net::async_write(*held, net::buffer(busy_response()),
                     [held](beast::error_code, std::size_t)
                     {
                         beast::error_code ignored;
                         held->shutdown(tcp::socket::shutdown_both, ignored);
                     });
}

void server::handshake(tcp::socket socket, connection_slot slot)
{
    auto stream = std::make_shared<tls_stream>(std::move(socket), *m_tls);
    // A client that connects and says nothing must not hold the connection open for ever.
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(30));
    auto held = std::make_shared<connection_slot>(std::move(slot));
    stream->async_handshake(
        net::ssl::stream_base::server,
        [stream, held, ctx = m_context](beast::error_code error)
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
            run_http_session(std::move(*stream), ctx, std::move(*held));
        });
}

} // namespace cellbox::gateway
