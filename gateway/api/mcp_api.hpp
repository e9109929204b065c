#pragma once
// The Model Context Protocol server at {base_url}mcp, Streamable HTTP transport: POST carries
// one JSON-RPC message (answered as application/json, or as an SSE stream carrying progress
// notifications when the client accepts one and asked for progress), DELETE ends a session,
// GET (a server-initiated stream, which cellbox does not offer) is 405. Authenticated with
// the gateway's tokens; each session belongs to its user.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_mcp_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
