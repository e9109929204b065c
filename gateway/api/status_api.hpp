#pragma once
// /api (the version), /api/status (jupyter_server's, with cellbox's counts) and /metrics
// (Prometheus, the admin's only).
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_status_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
