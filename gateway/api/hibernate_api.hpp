#pragma once
// POST /api/kernels/{id}/hibernate: the kernel's namespace saved into the gateway's state
// directory and its process stopped; it answers as "hibernated" and resumes on the first
// request that needs it (kernels/kernel_hibernation.cpp).
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_hibernate_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
