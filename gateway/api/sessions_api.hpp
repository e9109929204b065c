#pragma once
// /api/sessions[/{id}]: jupyter_server's sessions API (GET, POST, PATCH, DELETE), per user.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

// A new session may start a kernel: its answer comes later.
void add_sessions_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
