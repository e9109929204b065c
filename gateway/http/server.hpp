#pragma once

#include "http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

namespace boost::asio::ssl
{
class context;
}

namespace cellbox::gateway
{

class connection_limits;
class connection_slot;
struct http_context;

// The [server] settings. The transport reads the token, limits, timeouts, base URL, TLS and
// CORS; the API (api_context) the rest.
struct server_options
{
    std::string token;      // the admin's; empty: no authentication
    std::string jwt_secret; // signs users' HS256 tokens; empty: the admin token does
    // Users' RS256 / ES256 tokens: public keys from a PEM file and a JWKS file (reloaded on
    // SIGHUP), and the "aud" and "iss" they must carry ("" for no check).
    std::string jwt_public_key;
    std::string jwks_file;
    std::string jwt_audience;
    std::string jwt_issuer;
    std::string base_url = "/";
    std::string default_kernel = "cellbox-python";
    std::size_t max_message_bytes = 64 << 20; // requests and WebSocket frames
    // Browser origins allowed (CORS, WebSocket Origin check): "", "*" or "a,b" (cors_policy).
    std::string allow_origin;
    // The landing page and the widget's files, served without a token at {base_url} and
    // {base_url}static/ (static_api); empty: neither is served.
    std::string static_dir;
    // PEM files: with a certificate the port speaks HTTPS and WSS only (TLS 1.2+). The key may
    // be in the certificate file (keyfile empty).
    std::string certfile;
    std::string keyfile;
    // WebSocket pings every this many seconds keep idle connections alive through proxies; a
    // connection that then stays silent as long again is closed (0: no pings, no idle limit).
    double ws_ping_interval_s = 30;
    // A WebSocket client that does not read is dropped once this much waits for it (0: never);
    // so is the client of a streamed HTTP response (responder.hpp).
    std::size_t ws_max_outbox_bytes = std::size_t(64) << 20;
    // /api/sessions: sessions bound to one kernel, and sessions of one user (0: no limit).
    // jupyter_server clients make one per open notebook or console; these leave room for
    // many while a tenant's requests cannot make the gateway hold an unbounded list.
    int max_sessions_per_kernel = 64;
    int max_sessions_per_user = 256;
    // The execute API: a finished execution is kept this long for clients that come back;
    // at most this many per kernel, running or kept (0: no limit).
    double execution_keep_s = 300;
    std::size_t max_executions_per_kernel = 32;
    // The default and the largest output budgets of one execution: text, images (bytes).
    std::size_t execute_max_output_bytes = std::size_t(4) << 20;
    std::size_t execute_max_image_bytes = std::size_t(8) << 20;
    // Seconds between keepalives while an execution stream is silent (0: none).
    double execute_keepalive_s = 15;
    // MCP sessions ({base_url}mcp): one unused this long is ended and its kernel shut down
    // (0: never); at most this many per user (0: no limit).
    double mcp_session_idle_timeout_s = 3600;
    int mcp_max_sessions_per_user = 8;
    // Connections held at once, in all and per client address (IPv6: per /64); more are
    // refused at accept (0: no limit). See README, "Connection limits".
    int max_connections = 4096;
    int max_connections_per_ip = 256;
    // Seconds a client has to send a request's headers (also the keep-alive idle time), and
    // then its body (0: no limit).
    double http_header_timeout_s = 30;
    double http_body_timeout_s = 300;
    // Seconds one write of an answer may take before its client is dropped as not reading
    // (whole answers and each chunk of a streamed one; > 0).
    double http_write_timeout_s = 60;
};

// The HTTP + WebSocket front: the listener (one session object per connection, as in
// Boost.Beast's advanced server), answering through `routes`. Runs on one io_context thread.
class server
{
public:
    // Throws tls_config_error (tls_context.hpp) when the certificate or key cannot be used.
    server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
           const server_options& options, router routes);

    void start();
    unsigned short port() const;
    // Reads the JWT public key files again (SIGHUP); keeps the old keys, and logs why, if they
    // cannot be read. Nothing without key files.
    void reload_keys();
    bool tls() const { return m_tls != nullptr; }

private:
    void accept();
    void on_accept(boost::asio::ip::tcp::socket socket);
    // Runs the HTTP session once the client has completed the TLS handshake.
    void handshake(boost::asio::ip::tcp::socket socket, connection_slot slot);
    // A connection over a limit: a 503 if it speaks plain HTTP, then closed.
    void refuse(boost::asio::ip::tcp::socket socket);

    boost::asio::io_context& m_io;
    boost::asio::ip::tcp::acceptor m_acceptor;
    boost::asio::steady_timer m_accept_retry; // after accept fails (out of descriptors)
    std::shared_ptr<connection_limits> m_limits;
    std::shared_ptr<const http_context> m_context;
    std::shared_ptr<boost::asio::ssl::context> m_tls; // null: plain HTTP
};

} // namespace cellbox::gateway
