#pragma once
// jupyter_server's contents API on the caller's /work: GET, PUT, PATCH, DELETE and POST on
// /api/contents/{path}, and its checkpoints (none are kept: an empty list). HTTP only; the
// files themselves are gateway/files' work_tree.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_contents_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
