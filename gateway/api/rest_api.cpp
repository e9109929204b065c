#include "api/rest_api.hpp"

#include "api/kernel_start.hpp"
#include "api/sessions_api.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/metrics.hpp"

#include <fstream>
#include <regex>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;
using json = nlohmann::json;

const std::regex kernel_id_pattern(R"(\w+-\w+-\w+-\w+-\w+)");

// One request, answered through `reply` (at once, or from a kernel event later).
class rest_call : public std::enable_shared_from_this<rest_call>
{
public:
    rest_call(std::shared_ptr<server::context> ctx, std::function<void(http_response)> reply)
        : m_ctx(std::move(ctx)), m_reply(std::move(reply))
    {
    }

    void handle(http_request req, const std::string& path, const identity& who)
    {
        static const std::regex resource(R"(^/kernelspecs/([^/]+)/([^/]+)$)");
        std::smatch match;
        if (std::regex_match(path, match, resource) && req.method() == http::verb::get)
        {
            // kernel.json has the kernel's argv and host paths: a token's business only, as
            // in jupyter_server (JupyterLab puts the token in the logo URLs it loads).
            serve_resource(req, match[1], match[2]);
            return;
        }
        if (path == "/metrics" && req.method() == http::verb::get)
        {
            // It shows every user's activity: the admin's token only.
            send(who.admin ? metrics_response(req)
                           : error_response(req, http::status::forbidden,
                                            "/metrics needs the admin token"));
            return;
        }
        if (path.rfind("/api", 0) != 0)
        {
            send(error_response(req, http::status::not_found, "Not Found"));
            return;
        }
        if (path != "/api/status") // as jupyter_server: looking at the status is no activity
        {
            m_ctx->last_activity = iso8601_now();
        }
        route_api(std::move(req), path, who);
    }

private:
    void serve_resource(const http_request& req, const std::string& name, const std::string& file)
    {
        const auto path = m_ctx->specs.resource_path(name, file);
        if (!path)
        {
            send(error_response(req, http::status::not_found, "no such kernelspec resource"));
            return;
        }
        std::ifstream in(*path, std::ios::binary);
        std::stringstream data;
        data << in.rdbuf();
        http_response res{http::status::ok, req.version()};
        res.set(http::field::content_type,
                file.size() > 4 && file.substr(file.size() - 4) == ".png" ? "image/png"
                : file.size() > 3 && file.substr(file.size() - 3) == ".js"
                    ? "application/javascript"
                    : "application/octet-stream");
        res.body() = data.str();
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        send(std::move(res));
    }

    http_response metrics_response(const http_request& req)
    {
        metric::kernels_by_state(m_ctx->kernels.count_by_state());
        http_response res{http::status::ok, req.version()};
        res.set(http::field::server, "cellbox");
        res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = gateway_metrics().render();
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return res;
    }

    // jupyter_server's /api/status fields, and cellbox's own (version, kernels_by_state).
    // A user's view counts only the user's kernels.
    json status_model(const identity& who) const
    {
        const json kernels = m_ctx->kernels.list(who);
        std::string last_activity = std::max(m_ctx->started, m_ctx->last_activity);
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
        return {{"started", m_ctx->started},
                {"last_activity", last_activity},
                {"connections", connections},
                {"kernels", kernels.size()},
                {"kernels_by_state", by_state},
                {"version", CELLBOX_VERSION},
                {"work", m_ctx->kernels.users().usage_model(who)}};
    }

    void route_api(http_request req, const std::string& path, const identity& who)
    {
        static const std::regex kernelspec(R"(^/api/kernelspecs/([^/]+)$)");
        static const std::regex kernel(R"(^/api/kernels/([^/]+)(/interrupt|/restart)?$)");
        std::smatch match;
        const auto method = req.method();
        if (path == "/api" || path == "/api/")
        {
            send(json_response(req, http::status::ok, {{"version", CELLBOX_VERSION}}));
        }
        else if (path == "/api/status" && method == http::verb::get)
        {
            send(json_response(req, http::status::ok, status_model(who)));
        }
        else if (path == "/api/kernelspecs" && method == http::verb::get)
        {
            json specs = json::object();
            for (const auto& [name, entry] : m_ctx->specs.all())
            {
                specs[name] = m_ctx->specs.model(entry, m_ctx->options.base_url);
            }
            send(json_response(
                req, http::status::ok,
                {{"default", m_ctx->options.default_kernel}, {"kernelspecs", specs}}));
        }
        else if (std::regex_match(path, match, kernelspec) && method == http::verb::get)
        {
            const auto* entry = m_ctx->specs.find(match[1]);
            send(entry != nullptr
                     ? json_response(req, http::status::ok,
                                     m_ctx->specs.model(*entry, m_ctx->options.base_url))
                     : error_response(req, http::status::not_found,
                                      "No such kernel spec: " + std::string(match[1])));
        }
        else if (path.rfind("/api/sessions", 0) == 0)
        {
            auto self = shared_from_this();
            handle_sessions_api(m_ctx, who, std::move(req), path,
                                [self](http_response res) { self->send(std::move(res)); });
        }
        else if (path == "/api/kernels" && method == http::verb::get)
        {
            send(json_response(req, http::status::ok, m_ctx->kernels.list(who)));
        }
        else if (path == "/api/kernels" && method == http::verb::post)
        {
            start_kernel(std::move(req), who);
        }
        else if (std::regex_match(path, match, kernel) &&
                 std::regex_match(std::string(match[1]), kernel_id_pattern))
        {
            kernel_route(std::move(req), match[1], match[2], who);
        }
        else if (path == "/api/kernelspecs" || path == "/api/kernels" ||
                 std::regex_match(path, match, kernelspec))
        {
            send(error_response(req, http::status::method_not_allowed, "Method Not Allowed"));
        }
        else
        {
            send(error_response(req, http::status::not_found, "Not Found"));
        }
    }

    void start_kernel(http_request req, const identity& who)
    {
        auto [body, problem] = parse_json_body(req.body());
        if (!problem.empty())
        {
            send(error_response(req, http::status::bad_request, problem));
            return;
        }
        std::map<std::string, std::string> env;
        try
        {
            env = validate_kernel_env(body.value("env", json()));
        }
        catch (const std::invalid_argument& e)
        {
            send(error_response(req, http::status::bad_request, e.what()));
            return;
        }
        const auto name_field = body.find("name");
        if (name_field != body.end() && !name_field->is_string() && !name_field->is_null())
        {
            send(error_response(req, http::status::bad_request, "name must be a string"));
            return;
        }
        const std::string name = name_field != body.end() && name_field->is_string()
                                     ? name_field->get<std::string>()
                                     : m_ctx->options.default_kernel;
        auto self = shared_from_this();
        start_kernel_for(
            *m_ctx, who, name, std::move(env),
            [self, req = std::move(req)](start_outcome outcome)
            {
                if (!outcome.kernel_id)
                {
                    self->send(error_response(req, outcome.status, outcome.message));
                    return;
                }
                const std::string& id = *outcome.kernel_id;
                http_response res =
                    json_response(req, http::status::created,
                                  self->m_ctx->kernels.model(*self->m_ctx->kernels.find(id)));
                res.set(http::field::location, self->m_ctx->options.base_url + "api/kernels/" + id);
                self->send(std::move(res));
            });
    }

    void kernel_route(http_request req, const std::string& id, const std::string& action,
                      const identity& who)
    {
        auto* k = m_ctx->kernels.find(id, who);
        if (k == nullptr)
        {
            send(error_response(req, http::status::not_found, "Kernel does not exist: " + id));
            return;
        }
        const auto method = req.method();
        auto self = shared_from_this();
        if (action.empty() && method == http::verb::get)
        {
            send(json_response(req, http::status::ok, m_ctx->kernels.model(*k)));
        }
        else if (action.empty() && method == http::verb::delete_)
        {
            m_ctx->kernels.shutdown(id, [self, req = std::move(req)]
                                    { self->send(empty_response(req, http::status::no_content)); });
        }
        else if (action == "/interrupt" && method == http::verb::post)
        {
            m_ctx->kernels.interrupt(id);
            send(empty_response(req, http::status::no_content));
        }
        else if (action == "/restart" && method == http::verb::post)
        {
            m_ctx->kernels.restart(
                id,
                [self, req = std::move(req), id](bool ok)
                {
                    auto* k = self->m_ctx->kernels.find(id);
                    self->send(
                        ok && k != nullptr
                            ? json_response(req, http::status::ok, self->m_ctx->kernels.model(*k))
                            : error_response(req, http::status::internal_server_error,
                                             "Exception restarting kernel"));
                });
        }
        else
        {
            send(error_response(req, http::status::method_not_allowed, "Method Not Allowed"));
        }
    }

    void send(http_response res) { m_reply(std::move(res)); }

    std::shared_ptr<server::context> m_ctx;
    std::function<void(http_response)> m_reply;
};

} // namespace

void handle_rest_api(const std::shared_ptr<server::context>& ctx, const identity& who,
                     http_request req, const std::string& path,
                     std::function<void(http_response)> reply)
{
    std::make_shared<rest_call>(ctx, std::move(reply))->handle(std::move(req), path, who);
}

} // namespace cellbox::gateway
