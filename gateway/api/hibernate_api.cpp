#include "api/hibernate_api.hpp"

#include "telemetry/log.hpp"

namespace cellbox::gateway
{

namespace http = boost::beast::http;

void add_hibernate_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    routes.add(
        {http::verb::post}, R"(/api/kernels/{kernel_id:\w+-\w+-\w+-\w+-\w+}/hibernate)",
        activity(
            ctx,
            [ctx](http_call call)
            {
                const std::string id = call.captures["kernel_id"];
                // Another user's kernel is not found either: ids are not confirmed.
                if (ctx->kernels.find(id, call.who) == nullptr)
                {
                    const auto lost = ctx->kernels.lost_reason(id, call.who);
                    call.respond->send(lost ? error_response(call.req, http::status::gone, *lost)
                                            : error_response(call.req, http::status::not_found,
                                                             "Kernel does not exist: " + id));
                    return;
                }
                ctx->kernels.hibernate(
                    id,
                    [ctx, id, req = std::move(call.req), respond = call.respond](
                        const std::string& error, bool conflict, const nlohmann::json& manifest)
                    {
                        auto* k = ctx->kernels.find(id);
                        if (!error.empty() || k == nullptr)
                        {
                            log::info("hibernate refused", {{"kernel", id}, {"why", error}});
                            respond->send(error_response(
                                req, conflict ? http::status::conflict : http::status::not_found,
                                error.empty() ? "the kernel went while it hibernated" : error));
                            return;
                        }
                        respond->send(json_response(
                            req, http::status::ok,
                            {{"kernel", ctx->kernels.model(*k)}, {"manifest", manifest}}));
                    });
            }));
}

} // namespace cellbox::gateway
