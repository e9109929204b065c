#include "api/contents_api.hpp"

#include "files/work_tree.hpp"
#include "telemetry/log.hpp"

#include <functional>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using verb = http::verb;
using json = nlohmann::json;

// The path of a route: everything after /api/contents (percent-encoded, as sent).
constexpr const char* contents_path = "/api/contents{path:(?:/.*)?}";

struct contents_call
{
    const http_call& call;
    content_path path;
    work_tree& tree;
};

http_response model_response(const api_context& ctx, const http_request& req, http::status status,
                             const json& model, bool location)
{
    http_response res = json_response(req, status, model);
    if (location)
    {
        res.set(http::field::location,
                ctx.options.base_url + "api/contents/" + url_escape_path(model.value("path", "")));
    }
    return res;
}

read_options read_options_of(const http_request& req)
{
    const std::string target(req.target());
    read_options options;
    if (const std::string type = query_parameter(target, "type"); !type.empty())
    {
        if (type != "file" && type != "notebook" && type != "directory")
        {
            throw contents_error(400, "Type " + type + " is invalid");
        }
        options.type = type;
    }
    if (const std::string format = query_parameter(target, "format"); !format.empty())
    {
        if (format != "text" && format != "base64" && format != "json")
        {
            throw contents_error(400, "Format " + format + " is invalid");
        }
        options.format = format;
    }
    const std::string content = query_parameter(target, "content");
    if (!content.empty() && content != "0" && content != "1")
    {
        throw contents_error(400, "Content " + content + " is invalid (0 or 1)");
    }
    options.content = content != "0";
    return options;
}

json body_of(const http_request& req)
{
    json_body body = parse_json_body(req.body());
    if (!body.error.empty())
    {
        throw contents_error(400, body.error);
    }
    return std::move(body.value);
}

// A path named in a body ("path", "copy_from").
content_path body_path(const json& body, const char* field)
{
    const auto found = body.find(field);
    if (found == body.end() || !found->is_string())
    {
        throw contents_error(400, std::string("\"") + field + "\" must be a path string");
    }
    return content_path::from_api(found->get<std::string>());
}

void get_model(const api_context& ctx, contents_call c)
{
    c.call.respond->send(model_response(ctx, c.call.req, http::status::ok,
                                        c.tree.get(c.path, read_options_of(c.call.req)), false));
}

void put_model(const api_context& ctx, contents_call c)
{
    const json body = body_of(c.call.req);
    if (body.empty())
    {
        c.call.respond->send(model_response(ctx, c.call.req, http::status::created,
                                            c.tree.create_empty(c.path), true));
        return;
    }
    if (body.contains("copy_from"))
    {
        throw contents_error(400, "Cannot copy with PUT, only POST");
    }
    const saved_model saved = c.tree.save(c.path, body);
    c.call.respond->send(model_response(ctx, c.call.req,
                                        saved.created ? http::status::created : http::status::ok,
                                        saved.model, true));
}

void post_model(const api_context& ctx, contents_call c)
{
    const json existing = [&]
    {
        try
        {
            return c.tree.get(c.path, {std::nullopt, std::nullopt, false});
        }
        catch (const contents_error& e)
        {
            if (e.status() != 404)
            {
                throw;
            }
            throw contents_error(404, "No such directory: /" + c.path.api());
        }
    }();
    if (existing.value("type", "") != "directory")
    {
        throw contents_error(400, "Cannot POST to files, use PUT instead.");
    }
    const json body = body_of(c.call.req);
    const json model =
        body.contains("copy_from")
            ? c.tree.copy(body_path(body, "copy_from"), c.path)
            : c.tree.new_untitled(c.path, body.value("type", ""), body.value("ext", ""));
    c.call.respond->send(model_response(ctx, c.call.req, http::status::created, model, true));
}

void patch_model(const api_context& ctx, contents_call c)
{
    const json body = body_of(c.call.req);
    const json model = c.tree.rename(c.path, body_path(body, "path"));
    c.call.respond->send(model_response(ctx, c.call.req, http::status::ok, model, true));
}

void delete_model(const api_context&, contents_call c)
{
    c.tree.remove(c.path);
    c.call.respond->send(empty_response(c.call.req, http::status::no_content));
}

using operation = void (*)(const api_context&, contents_call);

// Every operation: the path checked, the caller's /work opened (mounted first if need be), the
// operation run as the user; refusals answered with their status and logged.
http_handler contents_handler(const std::shared_ptr<api_context>& ctx, operation op)
{
    return [ctx, op](http_call call)
    {
        const auto refuse = [&](int status, const std::string& message)
        {
            (status >= 500 ? log::error : log::warn)(
                "contents request refused", {{"user", call.who.user},
                                             {"method", std::string(call.req.method_string())},
                                             {"status", status},
                                             {"reason", message}});
            call.respond->send(
                error_response(call.req, static_cast<http::status>(status), message));
        };
        try
        {
            const content_path path = content_path::from_url(call.captures["path"]);
            user_registry::home home;
            try
            {
                home = ctx->kernels.home_of(call.who);
            }
            catch (const std::exception& e)
            {
                log::error("contents: the user's /work is not available",
                           {{"user", call.who.user}, {"error", e.what()}});
                refuse(503, "the user's /work is not available now");
                return;
            }
            work_tree tree(home.workdir, home.uid, ctx->options.max_message_bytes);
            op(*ctx, contents_call{call, path, tree});
        }
        catch (const content_path_error& e)
        {
            refuse(400, e.what());
        }
        catch (const contents_error& e)
        {
            refuse(e.status(), e.what());
        }
        catch (const json::exception& e)
        {
            refuse(400, std::string("bad model: ") + e.what());
        }
        catch (const std::exception& e)
        {
            // Nothing else is expected; the request still gets an answer, the server goes on,
            // and the details (which may name host paths) stay in the log.
            log::error("contents: unexpected error",
                       {{"user", call.who.user}, {"error", e.what()}});
            refuse(500, "unexpected error while serving /api/contents");
        }
    };
}

} // namespace

void add_contents_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    // No checkpoints are kept: the list is empty and none can be made or restored.
    routes.add({verb::get}, std::string(contents_path) + "/checkpoints",
               activity(ctx,
                        [](http_call call) {
                            call.respond->send(
                                json_response(call.req, http::status::ok, json::array()));
                        }));
    routes.add({verb::post}, std::string(contents_path) + "/checkpoints",
               activity(ctx,
                        [](http_call call)
                        {
                            call.respond->send(
                                error_response(call.req, http::status::not_implemented,
                                               "cellbox keeps no checkpoints of /work files"));
                        }));
    routes.add({verb::post, verb::delete_}, std::string(contents_path) + "/checkpoints/{id}",
               activity(ctx,
                        [](http_call call) {
                            call.respond->send(error_response(call.req, http::status::not_found,
                                                              "No such checkpoint"));
                        }));
    routes.add({verb::get}, contents_path, activity(ctx, contents_handler(ctx, get_model)));
    routes.add({verb::put}, contents_path, activity(ctx, contents_handler(ctx, put_model)));
    routes.add({verb::post}, contents_path, activity(ctx, contents_handler(ctx, post_model)));
    routes.add({verb::patch}, contents_path, activity(ctx, contents_handler(ctx, patch_model)));
    routes.add({verb::delete_}, contents_path, activity(ctx, contents_handler(ctx, delete_model)));
}

} // namespace cellbox::gateway
