#pragma once
// /api/sessions[/{id}]: jupyter_server's sessions API (GET, POST, PATCH, DELETE), per user.
#include "http/http_util.hpp"
#include "http/server.hpp"

#include <functional>
#include <string>

namespace cellbox::gateway
{

// `path` is relative to the base URL and starts with /api/sessions. Calls `reply` exactly
// once, perhaps later (a new session starts a kernel).
void handle_sessions_api(const std::shared_ptr<server::context>& ctx, const identity& who,
                         http_request req, const std::string& path,
                         std::function<void(http_response)> reply);

} // namespace cellbox::gateway
