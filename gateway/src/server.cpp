#include "cellbox/gateway/server.hpp"

#include "cellbox/gateway/websocket_framing.hpp"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <fstream>
#include <iostream>
#include <openssl/crypto.h>
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
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

constexpr const char* v1_protocol = "v1.kernel.websocket.jupyter.org";
const std::regex kernel_id_pattern(R"(\w+-\w+-\w+-\w+-\w+)");

std::atomic<std::uint64_t> next_connection{1};

// Query parameter `key` of a target, URL-decoded enough for tokens and uuids.
std::string query_parameter(const std::string& target, const std::string& key)
{
    const auto query = target.find('?');
    if (query == std::string::npos)
    {
        return "";
    }
    std::istringstream pairs(target.substr(query + 1));
    std::string pair;
    while (std::getline(pairs, pair, '&'))
    {
        const auto equals = pair.find('=');
        if (pair.substr(0, equals) == key && equals != std::string::npos)
        {
            return pair.substr(equals + 1);
        }
    }
    return "";
}

std::string path_of(const std::string& target)
{
    return target.substr(0, target.find('?'));
}

bool same_secret(const std::string& a, const std::string& b)
{
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool authorized(const server::context& ctx, const request& req)
{
    if (ctx.options.token.empty())
    {
        return true;
    }
    const std::string from_query = query_parameter(std::string(req.target()), "token");
    if (!from_query.empty())
    {
        return same_secret(from_query, ctx.options.token);
    }
    const std::string header(req[http::field::authorization]);
    static const std::regex scheme(R"(^\s*(token|bearer)\s+(\S+)\s*$)", std::regex::icase);
    std::smatch match;
    return std::regex_match(header, match, scheme) && same_secret(match[2], ctx.options.token);
}

response json_response(const request& req, http::status status, const json& body)
{
    response res{status, req.version()};
    res.set(http::field::server, "cellbox");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = body.dump();
    res.prepare_payload();
    return res;
}

response error_response(const request& req, http::status status, const std::string& message)
{
    return json_response(
        req, status,
        {{"reason", std::string(http::obsolete_reason(status))}, {"message", message}});
}

response empty_response(const request& req, http::status status)
{
    response res{status, req.version()};
    res.set(http::field::server, "cellbox");
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// ---- WebSocket: /api/kernels/{id}/channels ---------------------------------------------

class websocket_session : public std::enable_shared_from_this<websocket_session>
{
public:
    websocket_session(tcp::socket&& socket, std::shared_ptr<server::context> ctx,
                      std::string kernel_id)
        : m_ws(std::move(socket)), m_ctx(std::move(ctx)), m_kernel_id(std::move(kernel_id)),
          m_connection(next_connection++)
    {
    }

    void run(request req)
    {
        const std::string offered(req[http::field::sec_websocket_protocol]);
        m_v1 = offered.find(v1_protocol) != std::string::npos;
        m_session_id = query_parameter(std::string(req.target()), "session_id");
        if (m_session_id.empty())
        {
            m_session_id = "cellbox-" + std::to_string(m_connection);
        }
        m_ws.read_message_max(m_ctx->options.max_message_bytes);
        m_ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        const bool v1 = m_v1;
        m_ws.set_option(websocket::stream_base::decorator(
            [v1](websocket::response_type& res)
            {
                res.set(http::field::server, "cellbox");
                if (v1)
                {
                    res.set(http::field::sec_websocket_protocol, v1_protocol);
                }
            }));
        m_ws.async_accept(
            req, beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code error)
    {
        if (error)
        {
            return;
        }
        std::weak_ptr<websocket_session> weak = shared_from_this();
        auto executor = m_ws.get_executor();
        const bool attached =
            m_ctx->kernels.attach(m_kernel_id, m_connection, m_session_id,
                                  [weak, executor](kernel_message message)
                                  {
                                      net::post(executor,
                                                [weak, message = std::move(message)]() mutable
                                                {
                                                    if (auto self = weak.lock())
                                                    {
                                                        self->queue(std::move(message));
                                                    }
                                                });
                                  });
        if (!attached)
        {
            m_ws.async_close(websocket::close_code::policy_error,
                             [self = shared_from_this()](beast::error_code) {});
            return;
        }
        m_attached = true;
        read();
    }

    void read()
    {
        m_ws.async_read(m_buffer,
                        beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code error, std::size_t)
    {
        if (error)
        {
            close();
            return;
        }
        const std::string frame = beast::buffers_to_string(m_buffer.data());
        m_buffer.consume(m_buffer.size());
        try
        {
            kernel_message message =
                m_v1 ? decode_v1(frame) : decode_legacy(frame, !m_ws.got_text());
            if (message.channel != "shell" && message.channel != "control" &&
                message.channel != "stdin")
            {
                throw protocol_error("unknown channel \"" + message.channel + "\"");
            }
            m_ctx->kernels.send(m_kernel_id, m_connection, std::move(message));
        }
        catch (const protocol_error& e)
        {
            std::cerr << "cellbox serve: dropped a WebSocket frame for kernel " << m_kernel_id
                      << ": " << e.what() << "\n";
        }
        read();
    }

    void queue(kernel_message message)
    {
        try
        {
            if (m_v1)
            {
                m_outbox.push_back({encode_v1(message), true});
            }
            else
            {
                legacy_frame frame = encode_legacy(message);
                m_outbox.push_back({std::move(frame.data), frame.binary});
            }
        }
        catch (const protocol_error& e)
        {
            std::cerr << "cellbox serve: cannot relay a kernel message: " << e.what() << "\n";
            return;
        }
        if (m_outbox.size() == 1)
        {
            write();
        }
    }

    void write()
    {
        m_ws.binary(m_outbox.front().binary);
        m_ws.async_write(
            net::buffer(m_outbox.front().data),
            beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code error, std::size_t)
    {
        if (error)
        {
            close();
            return;
        }
        m_outbox.pop_front();
        if (!m_outbox.empty())
        {
            write();
        }
    }

    void close()
    {
        if (m_attached)
        {
            m_attached = false;
            m_ctx->kernels.detach(m_kernel_id, m_connection);
        }
    }

    struct outgoing
    {
        std::string data;
        bool binary;
    };

    websocket::stream<beast::tcp_stream> m_ws;
    std::shared_ptr<server::context> m_ctx;
    std::string m_kernel_id;
    std::uint64_t m_connection;
    std::string m_session_id;
    bool m_v1 = false;
    bool m_attached = false;
    beast::flat_buffer m_buffer;
    std::deque<outgoing> m_outbox;
};

// ---- HTTP ------------------------------------------------------------------------------

class http_session : public std::enable_shared_from_this<http_session>
{
public:
    http_session(tcp::socket&& socket, std::shared_ptr<server::context> ctx)
        : m_stream(std::move(socket)), m_ctx(std::move(ctx))
    {
    }

    void run() { read(); }

private:
    void read()
    {
        m_parser.emplace();
        m_parser->body_limit(m_ctx->options.max_message_bytes);
        m_stream.expires_after(std::chrono::seconds(60));
        http::async_read(m_stream, m_buffer, *m_parser,
                         beast::bind_front_handler(&http_session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code error, std::size_t)
    {
        if (error == http::error::end_of_stream)
        {
            m_stream.socket().shutdown(tcp::socket::shutdown_send, error);
            return;
        }
        if (error)
        {
            if (error == http::error::body_limit)
            {
                request req;
                send(error_response(req, http::status::payload_too_large,
                                    "request body larger than the configured maximum"));
            }
            return;
        }
        request req = m_parser->release();
        const std::string path = path_of(std::string(req.target()));
        std::cerr << "cellbox serve: " << req.method_string() << " " << path << "\n";
        if (websocket::is_upgrade(req))
        {
            upgrade(std::move(req), path);
            return;
        }
        handle(std::move(req), path);
    }

    void upgrade(request req, const std::string& path)
    {
        static const std::regex channels(R"(^/api/kernels/([^/]+)/channels$)");
        std::smatch match;
        const std::string relative = relative_path(path);
        if (!std::regex_match(relative, match, channels))
        {
            send(error_response(req, http::status::not_found, "no WebSocket endpoint here"));
            return;
        }
        if (!authorized(*m_ctx, req))
        {
            send(error_response(req, http::status::forbidden, "invalid or missing token"));
            return;
        }
        const std::string id = match[1];
        if (m_ctx->kernels.find(id) == nullptr)
        {
            send(error_response(req, http::status::not_found, "Kernel does not exist: " + id));
            return;
        }
        std::make_shared<websocket_session>(m_stream.release_socket(), m_ctx, id)
            ->run(std::move(req));
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

    void handle(request req, const std::string& full_path)
    {
        const std::string path = relative_path(full_path);
        if (req.method() == http::verb::options)
        {
            send(empty_response(req, http::status::no_content));
            return;
        }
        static const std::regex resource(R"(^/kernelspecs/([^/]+)/([^/]+)$)");
        std::smatch match;
        if (req.method() == http::verb::get && std::regex_match(path, match, resource))
        {
            serve_resource(req, match[1], match[2]);
            return;
        }
        if (path.rfind("/api", 0) != 0)
        {
            send(error_response(req, http::status::not_found, "Not Found"));
            return;
        }
        if (!authorized(*m_ctx, req))
        {
            send(error_response(req, http::status::forbidden, "invalid or missing token"));
            return;
        }
        route_api(std::move(req), path);
    }

    void serve_resource(const request& req, const std::string& name, const std::string& file)
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
        response res{http::status::ok, req.version()};
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

    void route_api(request req, const std::string& path)
    {
        static const std::regex kernelspec(R"(^/api/kernelspecs/([^/]+)$)");
        static const std::regex kernel(R"(^/api/kernels/([^/]+)(/interrupt|/restart)?$)");
        std::smatch match;
        const auto method = req.method();
        if (path == "/api" || path == "/api/")
        {
            send(json_response(req, http::status::ok, {{"version", CELLBOX_VERSION}}));
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
        else if (path == "/api/kernels" && method == http::verb::get)
        {
            send(json_response(req, http::status::ok, m_ctx->kernels.list()));
        }
        else if (path == "/api/kernels" && method == http::verb::post)
        {
            start_kernel(std::move(req));
        }
        else if (std::regex_match(path, match, kernel) &&
                 std::regex_match(std::string(match[1]), kernel_id_pattern))
        {
            kernel_route(std::move(req), match[1], match[2]);
        }
        else
        {
            send(error_response(req, http::status::not_found, "Not Found"));
        }
    }

    void start_kernel(request req)
    {
        json body = req.body().empty() ? json::object() : json::parse(req.body(), nullptr, false);
        if (body.is_discarded() || !body.is_object())
        {
            send(error_response(req, http::status::bad_request, "the body must be a JSON object"));
            return;
        }
        if (body.contains("env") && !body["env"].is_object())
        {
            send(error_response(req, http::status::bad_request, "env must be an object"));
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
        if (m_ctx->specs.find(name) == nullptr)
        {
            send(error_response(req, http::status::not_found, "No such kernel: " + name));
            return;
        }
        auto self = shared_from_this();
        m_ctx->kernels.start(
            name,
            [self, req = std::move(req)](std::optional<std::string> id, std::string error)
            {
                if (!id)
                {
                    self->send(error_response(req, http::status::internal_server_error, error));
                    return;
                }
                auto* k = self->m_ctx->kernels.find(*id);
                response res =
                    json_response(req, http::status::created, self->m_ctx->kernels.model(*k));
                res.set(http::field::location,
                        self->m_ctx->options.base_url + "api/kernels/" + *id);
                self->send(std::move(res));
            });
    }

    void kernel_route(request req, const std::string& id, const std::string& action)
    {
        auto* k = m_ctx->kernels.find(id);
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

    void send(response res)
    {
        if (!m_ctx->options.allow_origin.empty())
        {
            res.set(http::field::access_control_allow_origin, m_ctx->options.allow_origin);
            res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
            res.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
        }
        auto shared = std::make_shared<response>(std::move(res));
        http::async_write(m_stream, *shared,
                          [self = shared_from_this(), shared](beast::error_code error, std::size_t)
                          {
                              if (!error && shared->keep_alive())
                              {
                                  self->read();
                              }
                              else
                              {
                                  beast::error_code ignored;
                                  self->m_stream.socket().shutdown(tcp::socket::shutdown_send,
                                                                   ignored);
                              }
                          });
    }

    beast::tcp_stream m_stream;
    beast::flat_buffer m_buffer;
    std::optional<http::request_parser<http::string_body>> m_parser;
    std::shared_ptr<server::context> m_ctx;
};

} // namespace

server::server(net::io_context& io, const tcp::endpoint& endpoint, server_options options,
               const kernelspec_catalog& specs, kernel_manager& kernels)
    : m_io(io), m_acceptor(io),
      m_context(std::make_shared<context>(context{std::move(options), specs, kernels}))
{
    m_acceptor.open(endpoint.protocol());
    m_acceptor.set_option(net::socket_base::reuse_address(true));
    m_acceptor.bind(endpoint);
    m_acceptor.listen(net::socket_base::max_listen_connections);
}

unsigned short server::port() const
{
    return m_acceptor.local_endpoint().port();
}

void server::start()
{
    accept();
}

void server::accept()
{
    m_acceptor.async_accept(
        net::make_strand(m_io),
        [this](beast::error_code error, tcp::socket socket)
        {
            if (!error)
            {
                // Small frames (status, replies) go out at once instead of waiting for the
                // client's delayed ACK (~40 ms).
                beast::error_code ignored;
                socket.set_option(tcp::no_delay(true), ignored);
                std::make_shared<http_session>(std::move(socket), m_context)->run();
            }
            accept();
        });
}

} // namespace cellbox::gateway
