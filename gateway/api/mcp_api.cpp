#include "api/mcp_api.hpp"

#include "api/mcp_service.hpp"
#include "api/mcp_tools.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/tools.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"

#include <boost/algorithm/string/predicate.hpp>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;
using json = nlohmann::json;

constexpr const char* session_header = "Mcp-Session-Id";
constexpr const char* version_header = "MCP-Protocol-Version";

// A JSON-RPC answer in an HTTP response.
http_response rpc_response(const http_request& req, http::status status, const json& message)
{
    return json_response(req, status, message);
}

void refuse(const http_call& call, http::status status, int code, const std::string& message,
            const json& id = nullptr)
{
    log::warn("MCP request refused", {{"user", call.who.user},
                                      {"status", static_cast<int>(status)},
                                      {"reason", mcp::clip(message, 300)}});
    call.respond->send(rpc_response(call.req, status, mcp::error_message(id, code, message)));
}

bool accepts(const http_request& req, std::string_view type)
{
    const std::string accept(req[http::field::accept]);
    return accept.empty() || boost::algorithm::icontains(accept, type) ||
           boost::algorithm::icontains(accept, "*/*");
}

// DNS rebinding: a page on another site that resolves its name to this gateway must not
// reach it. Same rule as the gateway's WebSockets: no Origin (not a browser), the gateway's
// own origin, or one allowed by --allow-origin.
bool origin_ok(const api_context& ctx, const http_call& call)
{
    const std::string origin(call.req[http::field::origin]);
    if (ctx.cors.websocket_allowed(origin, std::string(call.req[http::field::host])))
    {
        return true;
    }
    log::warn("MCP request from a foreign origin refused",
              {{"user", call.who.user}, {"origin", mcp::clip(origin, 200)}});
    call.respond->send(error_response(call.req, http::status::forbidden,
                                      "Origin " + mcp::clip(origin, 200) + " is not allowed"));
    return false;
}

json initialize_result(const std::string& version)
{
    return {
        {"protocolVersion", version},
        {"capabilities", {{"tools", {{"listChanged", false}}}}},
        {"serverInfo", {{"name", "cellbox"}, {"title", "cellbox"}, {"version", CELLBOX_VERSION}}},
        {"instructions",
         "A sandboxed Python (IPython) kernel of your own for this session, and your files "
         "under /work. execute_code keeps state between calls; figures come back as PNG "
         "images."}};
}

void initialize(const std::shared_ptr<mcp_service>& service, const http_call& call,
                const mcp::rpc_message& message)
{
    const auto requested = message.params.find("protocolVersion");
    if (requested == message.params.end() || !requested->is_string())
    {
        refuse(call, http::status::bad_request, mcp::invalid_params,
               "Invalid params: initialize needs \"protocolVersion\" (a string)", message.id);
        return;
    }
    std::string client;
    if (const auto info = message.params.find("clientInfo");
        info != message.params.end() && info->is_object())
    {
        client = mcp::clip(mcp::text_member(*info, "name"), 100);
    }
    const std::string version = mcp::negotiate_version(requested->get<std::string>());
    const std::string id = random_hex(16);
    if (service->sessions().create(id, call.who.user, version, client) == nullptr)
    {
        refuse(call, http::status::too_many_requests, mcp::invalid_request,
               "too many MCP sessions: at most " +
                   std::to_string(service->sessions().max_per_user()) +
                   " per user; DELETE one (or let it idle out) first",
               message.id);
        return;
    }
    log::info(
        "MCP session started",
        {{"session", id}, {"user", call.who.user}, {"client", client}, {"protocol", version}});
    http_response res = rpc_response(call.req, http::status::ok,
                                     mcp::result_message(message.id, initialize_result(version)));
    res.set(session_header, id);
    call.respond->send(std::move(res));
}

// The session a request names, or nothing after answering 400 or 404.
mcp::session* session_of(mcp_service& service, const http_call& call)
{
    const std::string id(call.req[session_header]);
    if (id.empty())
    {
        refuse(call, http::status::bad_request, mcp::invalid_request,
               "Bad Request: Mcp-Session-Id header is required (initialize first)");
        return nullptr;
    }
    mcp::session* s = service.sessions().find(id, call.who.user);
    if (s == nullptr)
    {
        // Another user's session is not found either: ids are not confirmed.
        refuse(call, http::status::not_found, mcp::invalid_request,
               "Session not found: " + mcp::clip(id, 64) + " (ended, culled or never started)");
        return nullptr;
    }
    const std::string version(call.req[version_header]);
    if (!version.empty() && !mcp::supported_version(version))
    {
        refuse(call, http::status::bad_request, mcp::invalid_request,
               "Bad Request: unsupported MCP-Protocol-Version " + mcp::clip(version, 64));
        return nullptr;
    }
    s->last_used = mcp::session::clock::now();
    return s;
}

// Answers a tools/call as JSON when it ends, or as an SSE stream with progress notifications
// when the client accepts one and gave a progressToken.
void call_tool(const std::shared_ptr<mcp_service>& service, http_call call,
               const mcp::rpc_message& message, mcp::session& s)
{
    const auto name = message.params.find("name");
    if (name == message.params.end() || !name->is_string())
    {
        refuse(call, http::status::ok, mcp::invalid_params,
               "Invalid params: tools/call needs \"name\" (a string)", message.id);
        return;
    }
    if (!mcp::known_tool(name->get<std::string>()))
    {
        refuse(call, http::status::ok, mcp::invalid_params,
               "Unknown tool: " + mcp::clip(name->get<std::string>(), 64), message.id);
        return;
    }
    json arguments = json::object();
    if (const auto given = message.params.find("arguments"); given != message.params.end())
    {
        arguments = *given; // checked by the tool: a wrong type is a tool error the model sees
    }
    json progress_token = nullptr;
    if (const auto meta = message.params.find("_meta");
        meta != message.params.end() && meta->is_object())
    {
        const auto token = meta->find("progressToken");
        if (token != meta->end() && (token->is_string() || token->is_number_integer()))
        {
            progress_token = *token;
        }
    }
    const bool stream = !progress_token.is_null() &&
                        boost::algorithm::icontains(std::string(call.req[http::field::accept]),
                                                    "text/event-stream");
    auto respond = call.respond;
    const auto req = std::make_shared<http_request>(std::move(call.req));
    if (stream)
    {
        http::fields headers;
        headers.set(http::field::content_type, "text/event-stream");
        headers.set(http::field::cache_control, "no-cache");
        respond->start(http::status::ok, std::move(headers));
    }
    ++s.busy;
    mcp_tool_call tool;
    tool.session_id = s.id;
    tool.who = call.who;
    tool.name = name->get<std::string>();
    tool.arguments = std::move(arguments);
    tool.request = message.id.dump();
    if (stream)
    {
        tool.progress = [respond, progress_token](double progress, const std::string& text)
        {
            const json note = mcp::notification_message(
                "notifications/progress",
                {{"progressToken", progress_token}, {"progress", progress}, {"message", text}});
            respond->write("event: message\ndata: " + note.dump() + "\n\n", nullptr);
        };
    }
    tool.done = [weak = std::weak_ptr(service), session_id = s.id, user = call.who.user, respond,
                 req, id = message.id, stream](json result)
    {
        if (auto service = weak.lock())
        {
            if (auto* s = service->sessions().find(session_id, user))
            {
                --s->busy;
                s->last_used = mcp::session::clock::now();
            }
        }
        const json answer = mcp::result_message(id, std::move(result));
        if (!stream)
        {
            respond->send(rpc_response(*req, http::status::ok, answer));
            return;
        }
        respond->write("event: message\ndata: " +
                           answer.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n",
                       nullptr);
        respond->finish();
    };
    run_mcp_tool(service, std::move(tool));
}

void post(const std::shared_ptr<mcp_service>& service, http_call call)
{
    if (!origin_ok(service->ctx(), call))
    {
        return;
    }
    if (!accepts(call.req, "application/json") && !accepts(call.req, "text/event-stream"))
    {
        call.respond->send(error_response(call.req, http::status::not_acceptable,
                                          "Accept must allow application/json or "
                                          "text/event-stream"));
        return;
    }
    const std::string type(call.req[http::field::content_type]);
    if (!boost::algorithm::istarts_with(type, "application/json"))
    {
        refuse(call, http::status::unsupported_media_type, mcp::invalid_request,
               "Unsupported Media Type: Content-Type must be application/json");
        return;
    }
    mcp::rpc_failure failure{};
    const auto message = mcp::parse_message(call.req.body(), failure);
    if (!message)
    {
        refuse(call, http::status::bad_request, failure.code, failure.message, failure.id);
        return;
    }
    if (message->method == "initialize")
    {
        if (message->type != mcp::rpc_message::kind::request)
        {
            refuse(call, http::status::bad_request, mcp::invalid_request,
                   "Invalid Request: initialize must be a request (with an id)");
            return;
        }
        initialize(service, call, *message);
        return;
    }
    mcp::session* s = session_of(*service, call);
    if (s == nullptr)
    {
        return;
    }
    if (message->type != mcp::rpc_message::kind::request)
    {
        // Notifications (initialized, cancelled, ...) and responses: accepted, nothing to say.
        if (message->method == "notifications/cancelled" && message->params.contains("requestId"))
        {
            service->cancel(s->id, message->params["requestId"].dump());
        }
        call.respond->send(empty_response(call.req, http::status::accepted));
        return;
    }
    if (message->method == "ping")
    {
        call.respond->send(rpc_response(call.req, http::status::ok,
                                        mcp::result_message(message->id, json::object())));
        return;
    }
    if (message->method == "tools/list")
    {
        call.respond->send(
            rpc_response(call.req, http::status::ok,
                         mcp::result_message(message->id, {{"tools", mcp::tool_list()}})));
        return;
    }
    if (message->method == "tools/call")
    {
        call_tool(service, std::move(call), *message, *s);
        return;
    }
    refuse(call, http::status::ok, mcp::method_not_found,
           "Method not found: " + mcp::clip(message->method, 64), message->id);
}

void remove(const std::shared_ptr<mcp_service>& service, http_call call)
{
    if (!origin_ok(service->ctx(), call))
    {
        return;
    }
    if (mcp::session* s = session_of(*service, call))
    {
        service->end(s->id, "deleted by its client");
        call.respond->send(empty_response(call.req, http::status::no_content));
    }
}

} // namespace

void add_mcp_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    // The service is made by the first request: registering a route must not use the context
    // (the HTTP fuzz target registers the real route table without one).
    auto made = std::make_shared<std::shared_ptr<mcp_service>>();
    auto service = [ctx, made]
    {
        if (!*made)
        {
            *made = std::make_shared<mcp_service>(ctx);
            (*made)->start();
        }
        return *made;
    };
    // GET would open a server-initiated SSE stream; cellbox sends nothing unasked, and the
    // specification lets a server answer 405 (the router does, with Allow: POST, DELETE).
    routes.add({verb::post}, "/mcp",
               activity(ctx, [service](http_call call) { post(service(), std::move(call)); }));
    routes.add({verb::delete_}, "/mcp",
               activity(ctx, [service](http_call call) { remove(service(), std::move(call)); }));
}

} // namespace cellbox::gateway
