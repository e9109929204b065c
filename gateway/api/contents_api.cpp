#include "api/contents_api.hpp"

#include "files/work_tree.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
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

// One operation's request, run on a file I/O thread: nothing here belongs to the server's
// thread.
struct contents_call
{
    const http_request& req;
    const std::string& base_url;
    content_path path;
    work_tree& tree;
};

http_response model_response(const contents_call& c, http::status status, const json& model,
                             bool location)
{
    http_response res = json_response(c.req, status, model);
    if (location)
    {
        res.set(http::field::location,
                c.base_url + "api/contents/" + url_escape_path(model.value("path", "")));
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

http_response get_model(const contents_call& c)
{
    return model_response(c, http::status::ok, c.tree.get(c.path, read_options_of(c.req)), false);
}

http_response put_model(const contents_call& c)
{
    const json body = body_of(c.req);
    if (body.empty())
    {
        return model_response(c, http::status::created, c.tree.create_empty(c.path), true);
    }
    if (body.contains("copy_from"))
    {
        throw contents_error(400, "Cannot copy with PUT, only POST");
    }
    const saved_model saved = c.tree.save(c.path, body);
    return model_response(c, saved.created ? http::status::created : http::status::ok, saved.model,
                          true);
}

http_response post_model(const contents_call& c)
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
    const json body = body_of(c.req);
    const json model =
        body.contains("copy_from")
            ? c.tree.copy(body_path(body, "copy_from"), c.path)
            : c.tree.new_untitled(c.path, body.value("type", ""), body.value("ext", ""));
    return model_response(c, http::status::created, model, true);
}

http_response patch_model(const contents_call& c)
{
    const json body = body_of(c.req);
    const json model = c.tree.rename(c.path, body_path(body, "path"));
    return model_response(c, http::status::ok, model, true);
}

http_response delete_model(const contents_call& c)
{
    c.tree.remove(c.path);
    return empty_response(c.req, http::status::no_content);
}

using operation = http_response (*)(const contents_call&);

http_response refusal(const http_call& call, int status, const std::string& message)
{
    (status >= 500 ? log::error : log::warn)("contents request refused",
                                             {{"user", call.who.user},
                                              {"method", std::string(call.req.method_string())},
                                              {"status", status},
                                              {"reason", message}});
    return error_response(call.req, static_cast<http::status>(status), message);
}

// The operation, as the user, beneath their /work; a refusal answered with its status.
http_response run_operation(operation op, const http_call& call, const std::string& base_url,
                            work_tree& tree)
{
    try
    {
        const content_path path = content_path::from_url(call.captures["path"]);
        return op(contents_call{call.req, base_url, path, tree});
    }
    catch (const content_path_error& e)
    {
        return refusal(call, 400, e.what());
    }
    catch (const contents_error& e)
    {
        return refusal(call, e.status(), e.what());
    }
    catch (const json::exception& e)
    {
        return refusal(call, 400, std::string("bad model: ") + e.what());
    }
    catch (const std::exception& e)
    {
        // Nothing else is expected; the request still gets an answer, the server goes on,
        // and the details (which may name host paths) stay in the log.
        log::error("contents: unexpected error", {{"user", call.who.user}, {"error", e.what()}});
        return refusal(call, 500, "unexpected error while serving /api/contents");
    }
}

// Every operation: the caller's /work found (mounted first if need be) on the server's thread,
// then the file work on a file I/O thread, so that reading or writing a large file never holds
// up the other requests, and the answer posted back to the server's thread.
http_handler contents_handler(const std::shared_ptr<api_context>& ctx, operation op)
{
    return [ctx, op](http_call call)
    {
        user_registry::home home;
        try
        {
            home = ctx->kernels.home_of(call.who);
        }
        catch (const std::exception& e)
        {
            log::error("contents: the user's /work is not available",
                       {{"user", call.who.user}, {"error", e.what()}});
            call.respond->send(refusal(call, 503, "the user's /work is not available now"));
            return;
        }
        boost::asio::post(
            *ctx->file_io,
            [op, call = std::move(call), home = std::move(home), &io = ctx->io,
             base_url = ctx->options.base_url, max_bytes = ctx->options.max_message_bytes]
            {
                work_tree tree(home.workdir, home.uid, max_bytes);
                auto answer =
                    std::make_shared<http_response>(run_operation(op, call, base_url, tree));
                boost::asio::post(io, [respond = call.respond, answer]
                                  { respond->send(std::move(*answer)); });
            });
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
