#include "api/kernelspecs_api.hpp"

#include <fstream>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;
using json = nlohmann::json;

const char* content_type_of(const std::string& file)
{
    if (file.size() > 4 && file.substr(file.size() - 4) == ".png")
    {
        return "image/png";
    }
    if (file.size() > 3 && file.substr(file.size() - 3) == ".js")
    {
        return "application/javascript";
    }
    return "application/octet-stream";
}

// kernel.json has the kernel's argv and host paths: a token's business only, as in
// jupyter_server (JupyterLab puts the token in the logo URLs it loads).
void serve_resource(const api_context& ctx, const http_call& call)
{
    const std::string& file = call.captures["file"];
    const auto path = ctx.specs.resource_path(call.captures["name"], file);
    if (!path)
    {
        call.respond->send(
            error_response(call.req, http::status::not_found, "no such kernelspec resource"));
        return;
    }
    std::ifstream in(*path, std::ios::binary);
    std::stringstream data;
    data << in.rdbuf();
    http_response res{http::status::ok, call.req.version()};
    res.set(http::field::content_type, content_type_of(file));
    res.body() = data.str();
    res.keep_alive(call.req.keep_alive());
    res.prepare_payload();
    call.respond->send(std::move(res));
}

} // namespace

void add_kernelspecs_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    routes.add(
        {verb::get}, "/api/kernelspecs",
        activity(ctx,
                 [ctx](http_call call)
                 {
                     json specs = json::object();
                     for (const auto& [name, entry] : ctx->specs.all())
                     {
                         specs[name] = ctx->specs.model(entry, ctx->options.base_url);
                     }
                     call.respond->send(json_response(
                         call.req, http::status::ok,
                         {{"default", ctx->options.default_kernel}, {"kernelspecs", specs}}));
                 }));
    routes.add({verb::get}, "/api/kernelspecs/{name}",
               activity(ctx,
                        [ctx](http_call call)
                        {
                            const std::string& name = call.captures["name"];
                            const auto* entry = ctx->specs.find(name);
                            call.respond->send(
                                entry != nullptr
                                    ? json_response(call.req, http::status::ok,
                                                    ctx->specs.model(*entry, ctx->options.base_url))
                                    : error_response(call.req, http::status::not_found,
                                                     "No such kernel spec: " + name));
                        }));
    // Outside /api: no activity, as before.
    routes.add({verb::get}, "/kernelspecs/{name}/{file}",
               [ctx](http_call call) { serve_resource(*ctx, call); });
}

} // namespace cellbox::gateway
