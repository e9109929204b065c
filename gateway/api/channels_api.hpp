#pragma once
// /api/kernels/{id}/channels: the WebSocket upgrade checks (Origin, session id, the caller's
// kernel), then a WebSocket session (websocket_session.hpp) relays the kernel's messages.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_channels_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
