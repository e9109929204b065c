#pragma once
// The execute API for programs and AI agents: one HTTP call runs a cell and answers with its
// outputs (JSON when it ends, or streamed as NDJSON or Server-Sent Events), executions a
// client can come back to or stop, and one-shot runs in a kernel of their own.
//   POST   /api/kernels/{id}/execute
//   GET    /api/kernels/{id}/executions/{execution_id}   replay, then follow
//   DELETE /api/kernels/{id}/executions/{execution_id}   interrupt
//   POST   /api/execute                                  one-shot
#include "api/api_context.hpp"
#include "api/execution_stream.hpp"
#include "executions/execute_request.hpp"
#include "http/router.hpp"

#include <functional>
#include <memory>
#include <string>

namespace cellbox::gateway
{

// Runs `params` in the kernel as an execution the registry keeps, answering `req` through
// `respond` in `format` as it runs; `on_over` (may be empty) runs once the answer is over or
// refused.
void run_and_follow(const std::shared_ptr<api_context>& ctx, const std::string& kernel_id,
                    const identity& who, execute_params params, const http_request& req,
                    std::shared_ptr<responder> respond, stream_format format,
                    std::function<void()> on_over);

void add_execute_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
