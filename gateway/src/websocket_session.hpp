#pragma once
// /api/kernels/{id}/channels: one WebSocket connection attached to one kernel, in either of
// jupyter_server's framings.
#include "cellbox/gateway/server.hpp"
#include "http_util.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

namespace cellbox::gateway
{

// Accepts the upgrade `req` on `socket` and relays between the client and the kernel until
// either side goes away.
void run_websocket_session(boost::asio::ip::tcp::socket&& socket,
                           std::shared_ptr<server::context> ctx, std::string kernel_id,
                           http_request req);

} // namespace cellbox::gateway
