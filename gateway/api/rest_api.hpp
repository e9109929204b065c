#pragma once
// The REST side of the gateway for an authenticated caller: jupyter_server's /api (status,
// kernelspecs, kernels, sessions), /kernelspecs/{name}/{file} resources and /metrics.
#include "http/http_util.hpp"
#include "http/server.hpp"

#include <functional>
#include <memory>
#include <string>

namespace cellbox::gateway
{

// `path`: relative to the base URL, without the query string. Calls `reply` exactly once,
// perhaps later (starting, restarting or shutting down a kernel).
void handle_rest_api(const std::shared_ptr<server::context>& ctx, const identity& who,
                     http_request req, const std::string& path,
                     std::function<void(http_response)> reply);

} // namespace cellbox::gateway
