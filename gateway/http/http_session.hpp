#pragma once
// One HTTP/1.1 connection, transport only: reads a request's header, authenticates the caller,
// reads the body within the limits, and hands the request to the route table (router.hpp).
#include "auth/cors_policy.hpp"
#include "auth/identity.hpp"
#include "http/connection_limits.hpp"
#include "http/router.hpp"
#include "http/transport.hpp"

#include <memory>
#include <string>

namespace cellbox::gateway
{

// What the sessions of one listener share (read-only once serving).
struct http_context
{
    std::string base_url;
    std::size_t max_message_bytes;      // a request body's
    double header_timeout_s;            // to send a request's headers; keep-alive idle (0: none)
    double body_timeout_s;              // then its body (0: none)
    double write_timeout_s;             // one write of an answer, before the client is dropped
    std::size_t max_stream_queue_bytes; // a streamed response waiting for its client (0: none)
    authenticator auth;
    cors_policy cors; // the preflights' and every answer's CORS headers
    router routes;
};

// `slot`: the connection's place under the connection limits, held while the socket lives.
void run_http_session(plain_stream&& stream, std::shared_ptr<const http_context> ctx,
                      connection_slot slot);
// `stream` has completed its TLS handshake.
void run_http_session(tls_stream&& stream, std::shared_ptr<const http_context> ctx,
                      connection_slot slot);

} // namespace cellbox::gateway
