#pragma once
// The gateway's route table: every resource of the API registers its routes in it, as
// jupyter_server's default_handlers list them. The one place that names them all.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

router api_routes(const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
