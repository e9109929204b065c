#include "api/channels_api.hpp"

#include "api/websocket_session.hpp"
#include "protocol/session_id.hpp"

#include <variant>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;

// The caller is authenticated (http_session): the Origin (a browser page of another site),
// then the session id, then the kernel, which only its owner gets to hear about.
void upgrade_channels(const std::shared_ptr<api_context>& ctx, upgrade_call call)
{
    const http_request& req = call.req;
    // Browsers let any page open WebSockets anywhere: the Origin check is what keeps
    // other sites' pages off the kernels (jupyter_server does the same).
    if (!ctx->cors.websocket_allowed(std::string(req[http::field::origin]),
                                     std::string(req[http::field::host])))
    {
        call.respond->send(error_response(req, http::status::forbidden,
                                          "Cross-origin WebSocket from " +
                                              std::string(req[http::field::origin]) +
                                              " is not allowed"));
        return;
    }
    const std::string session_id = query_parameter(std::string(req.target()), "session_id");
    if (!session_id.empty() && !valid_session_id(session_id))
    {
        call.respond->send(error_response(req, http::status::bad_request,
                                          "session_id must be 1 to " +
                                              std::to_string(max_session_id_length) +
                                              " printable ASCII characters without spaces"));
        return;
    }
    if (call.body_pending)
    {
        call.respond->send(error_response(req, http::status::bad_request,
                                          "a WebSocket upgrade request has no body"));
        return;
    }
    const std::string id = call.captures["kernel_id"];
    if (ctx->kernels.find(id, call.who) == nullptr)
    {
        call.respond->send(
            error_response(req, http::status::not_found, "Kernel does not exist: " + id));
        return;
    }
    upgraded_connection connection = call.take();
    std::visit(
        [&](auto& stream)
        {
            run_websocket_session(std::move(stream), ctx, id, call.who.user, std::move(call.req),
                                  std::move(connection.slot));
        },
        connection.stream);
}

} // namespace

void add_channels_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    routes.add_upgrade("/api/kernels/{kernel_id}/channels",
                       [ctx](upgrade_call call) { upgrade_channels(ctx, std::move(call)); });
}

} // namespace cellbox::gateway
