#pragma once
// One HTTP/1.1 connection: reads requests, routes the REST API, hands WebSocket upgrades on.
#include "http/connection_limits.hpp"
#include "http/server.hpp"
#include "http/transport.hpp"

#include <memory>

namespace cellbox::gateway
{

// `slot`: the connection's place under the connection limits, held while the socket lives.
void run_http_session(plain_stream&& stream, std::shared_ptr<server::context> ctx,
                      connection_slot slot);
// `stream` has completed its TLS handshake.
void run_http_session(tls_stream&& stream, std::shared_ptr<server::context> ctx,
                      connection_slot slot);

} // namespace cellbox::gateway
