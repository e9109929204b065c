#pragma once
// One HTTP/1.1 connection: reads requests, routes the REST API, hands WebSocket upgrades on.
#include "cellbox/gateway/server.hpp"
#include "streams.hpp"

#include <memory>

namespace cellbox::gateway
{

void run_http_session(plain_stream&& stream, std::shared_ptr<server::context> ctx);
// `stream` has completed its TLS handshake.
void run_http_session(tls_stream&& stream, std::shared_ptr<server::context> ctx);

} // namespace cellbox::gateway
