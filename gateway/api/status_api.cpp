#include "api/status_api.hpp"

#include "telemetry/metrics.hpp"

#include <algorithm>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;
using json = nlohmann::json;

http_response metrics_response(api_context& ctx, const http_request& req)
{
    metric::kernels_by_state(ctx.kernels.count_by_state());
    http_response res{http::status::ok, req.version()};
    res.set(http::field::server, "cellbox");
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = gateway_metrics().render();
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// jupyter_server's /api/status fields, and cellbox's own (version, kernels_by_state, work,
// pools).
// A user's view counts only the user's kernels.
json status_model(api_context& ctx, const identity& who)
{
    const json kernels = ctx.kernels.list(who);
    std::string last_activity = std::max(ctx.started, ctx.last_activity);
    int connections = 0;
    for (const auto& k : kernels)
    {
        connections += k.value("connections", 0);
        last_activity = std::max(last_activity, k.value("last_activity", std::string()));
    }
    json by_state = json::object();
    for (const auto& k : kernels)
    {
        const std::string state = k.value("execution_state", "unknown");
        by_state[state] = by_state.value(state, 0) + 1;
    }
    return {{"started", ctx.started},
            {"last_activity", last_activity},
            {"connections", connections},
            {"kernels", kernels.size()},
            {"kernels_by_state", by_state},
            {"version", CELLBOX_VERSION},
            {"work", ctx.kernels.users().usage_model(who)},
            // How many sessions wait ready: what a start costs now (no tenant's data).
            {"pools", ctx.kernels.pools()}};
}

} // namespace

void add_status_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    // Any method, as before the route table.
    routes.add({}, "/api/?",
               activity(ctx,
                        [](http_call call)
                        {
                            call.respond->send(json_response(call.req, http::status::ok,
                                                             {{"version", CELLBOX_VERSION}}));
                        }));
    // As jupyter_server: looking at the status is no activity.
    routes.add({verb::get}, "/api/status",
               [ctx](http_call call) {
                   call.respond->send(
                       json_response(call.req, http::status::ok, status_model(*ctx, call.who)));
               });
    // It shows every user's activity: the admin's token only.
    routes.add({verb::get}, "/metrics",
               [ctx](http_call call)
               {
                   call.respond->send(call.who.admin
                                          ? metrics_response(*ctx, call.req)
                                          : error_response(call.req, http::status::forbidden,
                                                           "/metrics needs the admin token"));
               });
}

} // namespace cellbox::gateway
