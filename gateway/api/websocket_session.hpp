#pragma once
// /api/kernels/{id}/channels: one WebSocket connection attached to one kernel, in either of
// jupyter_server's framings.
#include "api/api_context.hpp"
#include "http/connection_limits.hpp"
#include "http/http_util.hpp"
#include "http/server.hpp"
#include "http/transport.hpp"

#include <memory>
#include <string>

namespace cellbox::gateway
{

// Accepts the upgrade `req` on `stream` and relays between the client and the kernel (as
// `user`'s kernel_client) until either side goes away; `slot` (the connection's place under the
// connection limits) is held until then.
void run_websocket_session(plain_stream&& stream, std::shared_ptr<api_context> ctx,
                           std::string kernel_id, std::string user, http_request req,
                           connection_slot slot);
void run_websocket_session(tls_stream&& stream, std::shared_ptr<api_context> ctx,
                           std::string kernel_id, std::string user, http_request req,
                           connection_slot slot);

} // namespace cellbox::gateway
