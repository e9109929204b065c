#include "api/kernels_api.hpp"

#include "api/kernel_start.hpp"

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;
using json = nlohmann::json;

// A kernel id as the manager makes them (a UUID); anything else is no kernel route (404).
constexpr const char* one_kernel = R"(/api/kernels/{kernel_id:\w+-\w+-\w+-\w+-\w+})";

void start_kernel(const std::shared_ptr<api_context>& ctx, http_call call)
{
    const http_request& req = call.req;
    auto [body, problem] = parse_json_body(req.body());
    if (!problem.empty())
    {
        call.respond->send(error_response(req, http::status::bad_request, problem));
        return;
    }
    std::map<std::string, std::string> env;
    try
    {
        env = validate_kernel_env(body.value("env", json()));
    }
    catch (const std::invalid_argument& e)
    {
        call.respond->send(error_response(req, http::status::bad_request, e.what()));
        return;
    }
    const auto name_field = body.find("name");
    if (name_field != body.end() && !name_field->is_string() && !name_field->is_null())
    {
        call.respond->send(error_response(req, http::status::bad_request, "name must be a string"));
        return;
    }
    const std::string name = name_field != body.end() && name_field->is_string()
                                 ? name_field->get<std::string>()
                                 : ctx->options.default_kernel;
    start_kernel_for(
        *ctx, call.who, name, std::move(env),
        [ctx, req = std::move(call.req), respond = call.respond](start_outcome outcome)
        {
            if (!outcome.kernel_id)
            {
                respond->send(error_response(req, outcome.status, outcome.message));
                return;
            }
            const std::string& id = *outcome.kernel_id;
            http_response res = json_response(req, http::status::created,
                                              ctx->kernels.model(*ctx->kernels.find(id)));
            res.set(http::field::location, ctx->options.base_url + "api/kernels/" + id);
            respond->send(std::move(res));
        });
}

// The caller's kernel of the route's id, or nothing after answering 404 (another user's kernel
// is not found either: ids are not confirmed).
auto* kernel_of(api_context& ctx, const http_call& call)
{
    const std::string& id = call.captures["kernel_id"];
    auto* k = ctx.kernels.find(id, call.who);
    if (k == nullptr)
    {
        // One of an earlier gateway's that could not be saved: 410 with why, for its owner.
        const auto lost = ctx.kernels.lost_reason(id, call.who);
        call.respond->send(lost ? error_response(call.req, http::status::gone, *lost)
                                : error_response(call.req, http::status::not_found,
                                                 "Kernel does not exist: " + id));
    }
    return k;
}

} // namespace

void add_kernels_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    routes.add({verb::get}, "/api/kernels",
               activity(ctx,
                        [ctx](http_call call) {
                            call.respond->send(json_response(call.req, http::status::ok,
                                                             ctx->kernels.list(call.who)));
                        }));
    routes.add({verb::post}, "/api/kernels",
               activity(ctx, [ctx](http_call call) { start_kernel(ctx, std::move(call)); }));
    routes.add({verb::get, verb::delete_}, one_kernel,
               activity(ctx,
                        [ctx](http_call call)
                        {
                            auto* k = kernel_of(*ctx, call);
                            if (k == nullptr)
                            {
                                return;
                            }
                            if (call.req.method() == verb::get)
                            {
                                call.respond->send(json_response(call.req, http::status::ok,
                                                                 ctx->kernels.model(*k)));
                                return;
                            }
                            ctx->kernels.shutdown(
                                call.captures["kernel_id"],
                                [req = std::move(call.req), respond = call.respond]
                                { respond->send(empty_response(req, http::status::no_content)); });
                        }));
    routes.add({verb::post}, std::string(one_kernel) + "/interrupt",
               activity(ctx,
                        [ctx](http_call call)
                        {
                            if (kernel_of(*ctx, call) != nullptr)
                            {
                                ctx->kernels.interrupt(call.captures["kernel_id"]);
                                call.respond->send(
                                    empty_response(call.req, http::status::no_content));
                            }
                        }));
    routes.add(
        {verb::post}, std::string(one_kernel) + "/restart",
        activity(ctx,
                 [ctx](http_call call)
                 {
                     if (kernel_of(*ctx, call) == nullptr)
                     {
                         return;
                     }
                     const std::string id = call.captures["kernel_id"];
                     ctx->kernels.restart(
                         id,
                         [ctx, id, req = std::move(call.req), respond = call.respond](bool ok)
                         {
                             auto* k = ctx->kernels.find(id);
                             respond->send(
                                 ok && k != nullptr
                                     ? json_response(req, http::status::ok, ctx->kernels.model(*k))
                                     : error_response(req, http::status::internal_server_error,
                                                      "Exception restarting kernel"));
                         });
                 }));
}

} // namespace cellbox::gateway
