#include "api/kernel_start.hpp"

namespace cellbox::gateway
{

namespace http = boost::beast::http;

void start_kernel_for(api_context& ctx, const identity& who, const std::string& name,
                      std::map<std::string, std::string> env,
                      std::function<void(start_outcome)> done)
{
    if (ctx.specs.find(name) == nullptr)
    {
        done({std::nullopt, http::status::not_found, "No such kernel: " + name});
        return;
    }
    // Checked and counted in the same turn of the io_context: concurrent requests cannot
    // slip past the quota.
    if (const auto refusal = ctx.kernels.admission_error(who))
    {
        done({std::nullopt, http::status::too_many_requests, *refusal});
        return;
    }
    ctx.kernels.start(name, who, std::move(env),
                      [done](std::optional<std::string> id, std::string error)
                      {
                          done({id,
                                id ? http::status::created : http::status::internal_server_error,
                                std::move(error)});
                      });
}

} // namespace cellbox::gateway
