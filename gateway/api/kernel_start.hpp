#pragma once
// Starting a kernel on a client's behalf, shared by POST /api/kernels and /api/sessions: the
// kernelspec must exist and the caller must be under its quota.
#include "api/api_context.hpp"

#include <boost/beast/http/status.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace cellbox::gateway
{

struct start_outcome
{
    std::optional<std::string> kernel_id; // set on success
    boost::beast::http::status status;    // 201, or why not
    std::string message;
};

// Calls `done` once: at once when refused, or when the kernel answered or failed.
void start_kernel_for(api_context& ctx, const identity& who, const std::string& name,
                      std::map<std::string, std::string> env,
                      std::function<void(start_outcome)> done);

} // namespace cellbox::gateway
