#pragma once
// /api/kernelspecs[/{name}] and /kernelspecs/{name}/{file}: the kernelspecs and their
// resources (logos, kernel.js), as jupyter_server serves them.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_kernelspecs_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
