#pragma once
// One HTTP/1.1 connection: reads requests, routes the REST API, hands WebSocket upgrades on.
#include "cellbox/gateway/server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <memory>

namespace cellbox::gateway
{

void run_http_session(boost::asio::ip::tcp::socket&& socket, std::shared_ptr<server::context> ctx);

} // namespace cellbox::gateway
