#include "http_session.hpp"

#include "cellbox/gateway/message_builder.hpp"
#include "http_util.hpp"
#include "kernel_start.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "sessions_api.hpp"
#include "websocket_session.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using json = nlohmann::json;

const std::regex kernel_id_pattern(R"(\w+-\w+-\w+-\w+-\w+)");

// The token of a request: `Authorization: token|Bearer T`, else `?token=T`.
std::string request_token(const http_request& req)
{
    const std::string header(req[http::field::authorization]);
    static const std::regex scheme(R"(^\s*(token|bearer)\s+(\S+)\s*$)", std::regex::icase);
    std::smatch match;
    if (std::regex_match(header, match, scheme))
    {
        return match[2];
    }
    return query_parameter(std::string(req.target()), "token");
}

template <class Stream> std::string remote_of(Stream& stream)
{
    beast::error_code error;
    const auto endpoint = beast::get_lowest_layer(stream).socket().remote_endpoint(error);
    if (error)
    {
        return "-";
    }
    std::ostringstream text;
    text << endpoint;
    return text.str();
}

template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>>
{
public:
    http_session(Stream&& stream, std::shared_ptr<server::context> ctx)
        : m_remote(remote_of(stream)), m_stream(std::move(stream)), m_ctx(std::move(ctx))
    {
    }

    void run() { read(); }

private:
    void read()
    {
        m_parser.emplace();
        m_parser->body_limit(m_ctx->options.max_message_bytes);
        beast::get_lowest_layer(m_stream).expires_after(std::chrono::seconds(60));
        http::async_read(
            m_stream, m_buffer, *m_parser,
            beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
    }

    void on_read(beast::error_code error, std::size_t)
    {
        // For the CORS headers of whatever answers this request, even an error.
        m_origin = std::string(m_parser->get()[http::field::origin]);
        if (error == http::error::end_of_stream)
        {
            close_write();
            return;
        }
        if (error)
        {
            if (error == http::error::body_limit)
            {
                begin_request(std::string(m_parser->get().method_string()),
                              path_of(std::string(m_parser->get().target())));
                http_request req;
                http_response res =
                    error_response(req, http::status::payload_too_large,
                                   "request body larger than the configured maximum");
                res.keep_alive(false);
                m_discard_input = true; // the client may still be sending that body
                send(std::move(res));
            }
            return;
        }
        http_request req = m_parser->release();
        const std::string path = path_of(std::string(req.target()));
        begin_request(std::string(req.method_string()), path);
        if (websocket::is_upgrade(req))
        {
            upgrade(std::move(req), path);
            return;
        }
        handle(std::move(req), path);
    }

    void upgrade(http_request req, const std::string& path)
    {
        static const std::regex channels(R"(^/api/kernels/([^/]+)/channels$)");
        std::smatch match;
        const std::string relative = relative_path(path);
        if (!std::regex_match(relative, match, channels))
        {
            send(error_response(req, http::status::not_found, "no WebSocket endpoint here"));
            return;
        }
        // Browsers let any page open WebSockets anywhere: the Origin check is what keeps
        // other sites' pages off the kernels (jupyter_server does the same).
        if (!m_ctx->cors.websocket_allowed(std::string(req[http::field::origin]),
                                           std::string(req[http::field::host])))
        {
            send(error_response(req, http::status::forbidden,
                                "Cross-origin WebSocket from " +
                                    std::string(req[http::field::origin]) + " is not allowed"));
            return;
        }
        const auto who = authenticate(req);
        if (!who)
        {
            return;
        }
        const std::string id = match[1];
        if (m_ctx->kernels.find(id, *who) == nullptr)
        {
            send(error_response(req, http::status::not_found, "Kernel does not exist: " + id));
            return;
        }
        log_request(static_cast<unsigned>(http::status::switching_protocols));
        // The WebSocket session sets its own timeouts.
        beast::get_lowest_layer(m_stream).expires_never();
        run_websocket_session(std::move(m_stream), m_ctx, id, std::move(req));
    }

    // What the request log line says; the path never has the query string (tokens).
    void begin_request(std::string method, std::string path)
    {
        m_method = std::move(method);
        m_path = std::move(path);
        m_started = std::chrono::steady_clock::now();
    }

    void log_request(unsigned status)
    {
        metric::http_request(status);
        const std::chrono::duration<double, std::milli> duration =
            std::chrono::steady_clock::now() - m_started;
        log::info("request", {{"method", m_method},
                              {"path", m_path},
                              {"status", status},
                              {"duration_ms", duration.count()},
                              {"remote", m_remote}});
    }

    std::string relative_path(const std::string& path) const
    {
        const std::string& base = m_ctx->options.base_url;
        if (base.size() > 1 && path.rfind(base, 0) == 0)
        {
            return "/" + path.substr(base.size());
        }
        return path;
    }

    void handle(http_request req, const std::string& full_path)
    {
        const std::string path = relative_path(full_path);
        if (req.method() == http::verb::options)
        {
            send(preflight_response(m_ctx->cors, req));
            return;
        }
        static const std::regex resource(R"(^/kernelspecs/([^/]+)/([^/]+)$)");
        std::smatch match;
        if (req.method() == http::verb::get && std::regex_match(path, match, resource))
        {
            serve_resource(req, match[1], match[2]);
            return;
        }
        if (path == "/metrics" && req.method() == http::verb::get)
        {
            // It shows every user's activity: the admin's token only.
            if (const auto who = authenticate(req))
            {
                send(who->admin ? metrics_response(req)
                                : error_response(req, http::status::forbidden,
                                                 "/metrics needs the admin token"));
            }
            return;
        }
        if (path.rfind("/api", 0) != 0)
        {
            send(error_response(req, http::status::not_found, "Not Found"));
            return;
        }
        const auto who = authenticate(req);
        if (!who)
        {
            return;
        }
        if (path != "/api/status") // as jupyter_server: looking at the status is no activity
        {
            m_ctx->last_activity = iso8601_now();
        }
        route_api(std::move(req), path, *who);
    }

    // The caller, or nothing after answering 401/403.
    std::optional<identity> authenticate(const http_request& req)
    {
        auto result = m_ctx->auth.authenticate(request_token(req));
        if (auto* failure = std::get_if<auth_failure>(&result))
        {
            http_response res =
                error_response(req, static_cast<http::status>(failure->status), failure->message);
            if (failure->status == 401)
            {
                res.set(http::field::www_authenticate, "token");
            }
            send(std::move(res));
            return std::nullopt;
        }
        return std::get<identity>(std::move(result));
    }

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
            auto self = this->shared_from_this();
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
        json body = req.body().empty() ? json::object() : json::parse(req.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object())
        {
            send(error_response(req, http::status::bad_request, "the body must be a JSON object"));
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
        auto self = this->shared_from_this();
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
        auto self = this->shared_from_this();
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

    void send(http_response res)
    {
        log_request(res.result_int());
        add_cors_headers(m_ctx->cors, m_origin, res);
        auto shared = std::make_shared<http_response>(std::move(res));
        http::async_write(
            m_stream, *shared,
            [self = this->shared_from_this(), shared](beast::error_code error, std::size_t)
            {
                if (!error && shared->keep_alive())
                {
                    self->read();
                }
                else if (self->m_discard_input)
                {
                    if constexpr (!is_tls_stream<Stream>)
                    {
                        beast::error_code ignored;
                        self->m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
                    }
                    self->discard_input();
                }
                else
                {
                    self->close_write();
                }
            });
    }

    // Ends our side of the connection: a TCP half-close, or TLS's close_notify exchange
    // (bounded by the stream's timeout) before the socket closes.
    void close_write()
    {
        if constexpr (is_tls_stream<Stream>)
        {
            beast::get_lowest_layer(m_stream).expires_after(std::chrono::seconds(10));
            m_stream.async_shutdown([self = this->shared_from_this()](beast::error_code)
                                    { beast::get_lowest_layer(self->m_stream).close(); });
        }
        else
        {
            beast::error_code ignored;
            m_stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        }
    }

    // Reads and drops what the client still sends (for a while) before the socket closes:
    // closing with unread input resets the connection, and the client would lose the response.
    void discard_input()
    {
        if (!m_discard_deadline_set)
        {
            m_discard_deadline_set = true;
            beast::get_lowest_layer(m_stream).expires_after(std::chrono::seconds(10));
        }
        m_buffer.consume(m_buffer.size());
        m_stream.async_read_some(
            m_buffer.prepare(64 * 1024),
            [self = this->shared_from_this()](beast::error_code error, std::size_t)
            {
                if (!error)
                {
                    self->discard_input();
                }
            });
    }

    std::string m_remote; // before m_stream, which takes the socket
    std::string m_method = "-";
    std::string m_path = "-";
    std::chrono::steady_clock::time_point m_started = std::chrono::steady_clock::now();
    Stream m_stream;
    beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    std::shared_ptr<server::context> m_ctx;
    std::string m_origin; // of the request being answered
    bool m_discard_input = false;
    bool m_discard_deadline_set = false;
};

} // namespace

void run_http_session(plain_stream&& stream, std::shared_ptr<server::context> ctx)
{
    std::make_shared<http_session<plain_stream>>(std::move(stream), std::move(ctx))->run();
}

void run_http_session(tls_stream&& stream, std::shared_ptr<server::context> ctx)
{
    std::make_shared<http_session<tls_stream>>(std::move(stream), std::move(ctx))->run();
}

} // namespace cellbox::gateway
