#pragma once
// /api/kernels[/{id}[/interrupt|/restart]]: jupyter_server's kernels API (list, start, get,
// shut down, interrupt, restart), each caller seeing only its own kernels.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_kernels_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
