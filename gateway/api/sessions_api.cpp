#include "api/sessions_api.hpp"

#include "api/kernel_start.hpp"
#include "protocol/connection_info.hpp"

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using json = nlohmann::json;
using reply_fn = std::function<void(http_response)>;

// A session's path names a notebook or console on the client's side: PATH_MAX, the longest
// path a filesystem takes, is ample. Its name and type are file-name-like: NAME_MAX.
constexpr std::size_t max_path_bytes = 4096;
constexpr std::size_t max_name_bytes = 255;

// Throws std::invalid_argument (a 400) for a field over its length.
void check_length(const std::optional<std::string>& value, const char* key, std::size_t most)
{
    if (value && value->size() > most)
    {
        throw std::invalid_argument(std::string(key) + " is " + std::to_string(value->size()) +
                                    " bytes long; at most " + std::to_string(most) +
                                    " are allowed");
    }
}

// Why one more session may not be bound to `kernel_id` for `who` (its kernel's sessions
// and the user's, the one it replaces not counted), with the status to answer.
std::optional<std::pair<http::status, std::string>>
session_cap_error(const api_context& ctx, const identity& who, const std::string& kernel_id,
                  const session_registry::session* replaced)
{
    const auto& options = ctx.options;
    const auto counted = [&](std::size_t count, bool same)
    { return count - (replaced != nullptr && same ? 1 : 0); };
    if (options.max_sessions_per_kernel > 0 &&
        counted(ctx.sessions.count_on_kernel(kernel_id),
                replaced != nullptr && replaced->kernel_id == kernel_id) >=
            static_cast<std::size_t>(options.max_sessions_per_kernel))
    {
        return std::pair{http::status::conflict,
                         "kernel " + kernel_id + " already has " +
                             std::to_string(options.max_sessions_per_kernel) +
                             " sessions, the most allowed; delete one or use another kernel"};
    }
    if (options.max_sessions_per_user > 0 &&
        counted(ctx.sessions.count_of(who.user), replaced != nullptr) >=
            static_cast<std::size_t>(options.max_sessions_per_user))
    {
        return std::pair{http::status::too_many_requests,
                         "user " + who.user + " already has " +
                             std::to_string(options.max_sessions_per_user) +
                             " sessions, the most allowed; delete one first"};
    }
    return std::nullopt;
}

json session_model(api_context& ctx, const session_registry::session& s)
{
    const auto* k = ctx.kernels.find(s.kernel_id);
    json model = {{"id", s.id},
                  {"path", s.path},
                  {"name", s.name},
                  {"type", s.type},
                  {"kernel", k != nullptr ? ctx.kernels.model(*k) : json(nullptr)}};
    if (s.type == "notebook")
    {
        model["notebook"] = {{"path", s.path}, {"name", s.name}};
    }
    return model;
}

// A session whose kernel was deleted through /api/kernels is gone too.
bool kernel_alive(api_context& ctx, const session_registry::session& s)
{
    return ctx.kernels.find(s.kernel_id) != nullptr;
}

std::optional<std::string> optional_string(const json& body, const char* key)
{
    const auto it = body.find(key);
    if (it == body.end() || it->is_null())
    {
        return std::nullopt;
    }
    if (!it->is_string())
    {
        throw std::invalid_argument(std::string(key) + " must be a string");
    }
    return it->get<std::string>();
}

struct kernel_choice
{
    std::optional<std::string> id;
    std::optional<std::string> name;
};

kernel_choice kernel_field(const json& body)
{
    const auto it = body.find("kernel");
    if (it == body.end() || it->is_null())
    {
        return {};
    }
    if (!it->is_object())
    {
        throw std::invalid_argument("kernel must be an object with an id or a name");
    }
    return {optional_string(*it, "id"), optional_string(*it, "name")};
}

// Binds `s` to an existing kernel of `who`, or to a new one of the given name; then `done`.
void bind_kernel(const std::shared_ptr<api_context>& ctx, const identity& who,
                 const kernel_choice& choice, const http_request& req, const reply_fn& reply,
                 std::function<void(const std::string& kernel_id)> done)
{
    if (choice.id)
    {
        if (ctx->kernels.find(*choice.id, who) == nullptr)
        {
            reply(error_response(req, http::status::bad_request, "No such kernel: " + *choice.id));
            return;
        }
        done(*choice.id);
        return;
    }
    const std::string name = choice.name.value_or(ctx->options.default_kernel);
    start_kernel_for(
        *ctx, who, name, {},
        [req, reply, done, name](start_outcome outcome)
        {
            if (outcome.kernel_id)
            {
                done(*outcome.kernel_id);
                return;
            }
            if (outcome.status == http::status::not_found)
            {
                // jupyter_server's answer to an unknown kernel name.
                reply(json_response(req, http::status::not_implemented,
                                    {{"message", "The '" + name + "' kernel is not available."},
                                     {"short_message", "Kernel not found: " + name},
                                     {"reason", "Not Implemented"}}));
                return;
            }
            reply(error_response(req, outcome.status, outcome.message));
        });
}

void create_session(const std::shared_ptr<api_context>& ctx, const identity& who,
                    const http_request& req, const json& body, const reply_fn& reply)
{
    const auto path = optional_string(body, "path");
    if (!path || path->empty())
    {
        reply(error_response(req, http::status::bad_request, "path is required"));
        return;
    }
    const auto type = optional_string(body, "type").value_or("notebook");
    const auto name = optional_string(body, "name").value_or("");
    check_length(path, "path", max_path_bytes);
    check_length(name, "name", max_name_bytes);
    check_length(type, "type", max_name_bytes);
    const kernel_choice choice = kernel_field(body);
    auto created = [ctx, req, reply](const session_registry::session& s)
    {
        http_response res = json_response(req, http::status::created, session_model(*ctx, s));
        res.set(http::field::location, ctx->options.base_url + "api/sessions/" + s.id);
        reply(std::move(res));
    };
    if (auto* existing = ctx->sessions.find_by_path(*path, who);
        existing != nullptr && kernel_alive(*ctx, *existing))
    {
        created(*existing); // jupyter_server returns the path's session
        return;
    }
    // Checked before a kernel is started for it, and again once bound (other requests may
    // have added sessions while the kernel started).
    const auto refusal = [ctx, who, req, reply, path = *path](const std::string& kernel_id)
    {
        const auto error =
            session_cap_error(*ctx, who, kernel_id, ctx->sessions.find_by_path(path, who));
        if (error)
        {
            reply(error_response(req, error->first, error->second));
        }
        return error.has_value();
    };
    if (refusal(choice.id.value_or("")))
    {
        return;
    }
    bind_kernel(
        ctx, who, choice, req, reply,
        [ctx, who, path = *path, type, name, created, refusal,
         started_new = !choice.id](const std::string& kernel_id)
        {
            if (refusal(kernel_id))
            {
                if (started_new)
                {
                    ctx->kernels.shutdown(kernel_id, [] {}); // started for nothing
                }
                return;
            }
            if (auto* stale = ctx->sessions.find_by_path(path, who))
            {
                ctx->sessions.remove(stale->id);
            }
            created(ctx->sessions.add({make_kernel_id(), path, name, type, kernel_id, who.user}));
        });
}

void update_session(const std::shared_ptr<api_context>& ctx, const identity& who,
                    const http_request& req, const std::string& id, const json& body,
                    const reply_fn& reply)
{
    auto* s = ctx->sessions.find(id, who);
    if (s == nullptr)
    {
        reply(error_response(req, http::status::not_found, "Session not found: " + id));
        return;
    }
    const auto path = optional_string(body, "path");
    const auto name = optional_string(body, "name");
    const auto type = optional_string(body, "type");
    check_length(path, "path", max_path_bytes);
    check_length(name, "name", max_name_bytes);
    check_length(type, "type", max_name_bytes);
    const kernel_choice choice = kernel_field(body);
    auto apply = [ctx, who, req, reply, id, path, name, type](const std::string& kernel_id)
    {
        auto* s = ctx->sessions.find(id, who);
        if (s == nullptr)
        {
            reply(error_response(req, http::status::not_found, "Session not found: " + id));
            return;
        }
        if (s->kernel_id != kernel_id)
        {
            if (const auto error = session_cap_error(*ctx, who, kernel_id, s))
            {
                reply(error_response(req, error->first, error->second));
                return;
            }
        }
        s->path = path.value_or(s->path);
        s->name = name.value_or(s->name);
        s->type = type.value_or(s->type);
        s->kernel_id = kernel_id;
        ctx->sessions.changed();
        reply(json_response(req, http::status::ok, session_model(*ctx, *s)));
    };
    if (!choice.id && !choice.name)
    {
        apply(s->kernel_id);
        return;
    }
    const std::string previous = s->kernel_id;
    bind_kernel(ctx, who, choice, req, reply,
                [ctx, apply, previous, started_new = !choice.id](const std::string& kernel_id)
                {
                    apply(kernel_id);
                    if (started_new && previous != kernel_id)
                    {
                        // As jupyter_server: a session given a new kernel by name lets its old
                        // kernel go.
                        ctx->kernels.shutdown(previous, [] {});
                    }
                });
}

// `handler` with the request's JSON body ({} when empty; a 400 when not an object), and a 400
// for what it refuses with std::invalid_argument.
http_handler with_body(const std::shared_ptr<api_context>& ctx,
                       std::function<void(api_context&, http_call&, const json&)> handler)
{
    return activity(
        ctx,
        [ctx, handler = std::move(handler)](http_call call)
        {
            const http_request& req = call.req;
            try
            {
                json body = json::object();
                const auto method = req.method();
                if ((method == http::verb::post || method == http::verb::patch) &&
                    !req.body().empty())
                {
                    auto parsed = parse_json_body(req.body());
                    if (!parsed.error.empty())
                    {
                        call.respond->send(
                            error_response(req, http::status::bad_request, parsed.error));
                        return;
                    }
                    body = std::move(parsed.value);
                }
                handler(*ctx, call, body);
            }
            catch (const std::invalid_argument& e)
            {
                call.respond->send(error_response(req, http::status::bad_request, e.what()));
            }
        });
}

void list_sessions(api_context& ctx, http_call& call, const json&)
{
    json out = json::array();
    for (auto* s : ctx.sessions.list(call.who))
    {
        if (kernel_alive(ctx, *s))
        {
            out.push_back(session_model(ctx, *s));
        }
    }
    call.respond->send(json_response(call.req, http::status::ok, out));
}

void one_session(const std::shared_ptr<api_context>& ctx, http_call& call, const json& body)
{
    const http_request& req = call.req;
    const std::string& id = call.captures["session_id"];
    auto* s = ctx->sessions.find(id, call.who);
    if (s == nullptr)
    {
        call.respond->send(
            error_response(req, http::status::not_found, "Session not found: " + id));
        return;
    }
    const auto method = req.method();
    const reply_fn reply = [respond = call.respond](http_response res)
    { respond->send(std::move(res)); };
    if (method == http::verb::get)
    {
        reply(kernel_alive(*ctx, *s)
                  ? json_response(req, http::status::ok, session_model(*ctx, *s))
                  : error_response(req, http::status::not_found, "Session not found: " + id));
    }
    else if (method == http::verb::patch)
    {
        update_session(ctx, call.who, req, id, body, reply);
    }
    else // DELETE
    {
        const std::string kernel_id = s->kernel_id;
        const bool alive = kernel_alive(*ctx, *s);
        ctx->sessions.remove(id);
        if (!alive)
        {
            reply(error_response(req, http::status::gone, "Kernel deleted before session"));
            return;
        }
        ctx->kernels.shutdown(kernel_id, [req, reply]
                              { reply(empty_response(req, http::status::no_content)); });
    }
}

} // namespace

void add_sessions_api(router& routes, const std::shared_ptr<api_context>& ctx)
{
    using verb = http::verb;
    routes.add({verb::get}, "/api/sessions/?", with_body(ctx, list_sessions));
    routes.add({verb::post}, "/api/sessions/?",
               with_body(ctx,
                         [ctx](api_context&, http_call& call, const json& body)
                         {
                             create_session(ctx, call.who, call.req, body,
                                            [respond = call.respond](http_response res)
                                            { respond->send(std::move(res)); });
                         }));
    routes.add({verb::get, verb::patch, verb::delete_}, "/api/sessions/{session_id}",
               with_body(ctx, [ctx](api_context&, http_call& call, const json& body)
                         { one_session(ctx, call, body); }));
}

} // namespace cellbox::gateway
