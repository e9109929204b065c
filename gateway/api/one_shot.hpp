#pragma once
// POST /api/execute: a kernel of its own for one cell (from the pool when the kernelspec has
// one), the body's files written into /work by the kernel itself (so they are the user's and
// stay in the sandbox's view), the cell, the same answers as the execute API, and the kernel
// deleted afterwards, also when the client leaves. Nothing is kept between calls.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void execute_one_shot(const std::shared_ptr<api_context>& ctx, http_call call);

} // namespace cellbox::gateway
