#include "http/http_session.hpp"

#include "http/http_util.hpp"
#include "http/response_stream.hpp"
#include "http/session_responder.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cassert>
#include <limits>
#include <optional>
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

// Reading a request, and writing its answer, must not take longer than this: a client that
// stalls on purpose holds a connection, and connections are limited.
std::chrono::steady_clock::duration seconds(double s)
{
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
}

// One connection. Each request is read in two steps: its header, on which the caller is
// authenticated, then (for an authenticated caller only) its body, up to max_message_bytes;
// then the route table answers it. A request answered before its body was read (401, 403,
// 404, 413...) closes the connection: the unread body would otherwise be taken for the next
// request.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>>
{
public:
    http_session(Stream&& stream, std::shared_ptr<const http_context> ctx, connection_slot slot)
        : m_remote(remote_of(stream)), m_stream(std::move(stream)), m_ctx(std::move(ctx)),
          m_slot(std::move(slot))
    {
    }

    void run() { read_header(); }

    auto executor() { return m_stream.get_executor(); }

    // The answer to the request being handled (session_responder::send).
    void send(http_response res)
    {
        if (m_handed_over)
        {
            return; // an upgrade's handler took the connection: nothing to answer on
        }
        log_request(res.result_int());
        add_cors_headers(m_ctx->cors, m_origin, res);
        if (m_body_unread)
        {
            // The rest of this request may still be coming: the connection cannot carry
            // another one. Closed once the answer is out (discard_input).
            res.keep_alive(false);
            m_discard_input = true;
        }
        beast::get_lowest_layer(m_stream).expires_after(seconds(m_ctx->write_timeout_s));
        auto shared = std::make_shared<http_response>(std::move(res));
        http::async_write(
            m_stream, *shared,
            [self = this->shared_from_this(), shared](beast::error_code error, std::size_t)
            {
                if (!error && shared->keep_alive())
                {
                    self->read_header();
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

    // A streamed answer (session_responder::start): its header now, its body as it comes.
    // The connection closes after it (response_stream reads the client's side meanwhile).
    std::shared_ptr<response_stream<Stream>> start_stream(http::status status, http::fields headers)
    {
        assert(!m_handed_over); // upgrade handlers refuse with send() only
        log_request(static_cast<unsigned>(status));
        typename response_stream<Stream>::header_type head;
        static_cast<http::fields&>(head) = std::move(headers);
        head.result(status);
        head.version(m_version);
        head.set(http::field::server, "cellbox");
        head.keep_alive(false);
        add_cors_headers(m_ctx->cors, m_origin, head);
        auto self = this->shared_from_this();
        auto stream = std::make_shared<response_stream<Stream>>(
            m_stream, self, m_ctx->max_stream_queue_bytes, seconds(m_ctx->write_timeout_s),
            [self](bool complete)
            {
                if (complete)
                {
                    self->close_write();
                }
            });
        stream->start(std::move(head));
        return stream;
    }

private:
    void expire_after(double timeout_s)
    {
        if (timeout_s > 0)
        {
            beast::get_lowest_layer(m_stream).expires_after(seconds(timeout_s));
        }
        else
        {
            beast::get_lowest_layer(m_stream).expires_never();
        }
    }

    void read_header()
    {
        m_header.emplace();
        // The body's limit is applied once the caller is known (read_body): here, an oversized
        // Content-Length would be answered 413 before the missing token's 401. (Not
        // boost::none: Beast 1.74 compares a length with it as larger.)
        m_header->body_limit(std::numeric_limits<std::uint64_t>::max());
        m_header->header_limit(max_header_bytes);
        m_body.reset();
        m_body_unread = false;
        // Also how long an idle keep-alive connection stays open.
        expire_after(m_ctx->header_timeout_s);
        http::async_read_header(
            m_stream, m_buffer, *m_header,
            beast::bind_front_handler(&http_session::on_header, this->shared_from_this()));
    }

    void on_header(beast::error_code error, std::size_t)
    {
        // For the CORS headers of whatever answers this request, even an error.
        m_origin = std::string(m_header->get()[http::field::origin]);
        if (error == http::error::end_of_stream)
        {
            close_write();
            return;
        }
        if (error == http::error::header_limit)
        {
            refuse_oversized_header();
            return;
        }
        if (error)
        {
            // Garbage, or too slow (the stream closed the socket): nothing worth an answer.
            log::debug("request not read", {{"error", error.message()}, {"remote", m_remote}});
            return;
        }
        m_body_unread = !m_header->is_done();
        http_request head(m_header->get().base()); // the header only: no body read yet
        m_version = head.version();
        if (head.target().size() > max_target_bytes)
        {
            begin_request(std::string(head.method_string()), "-");
            refuse_header(head, http::status::uri_too_long);
            return;
        }
        const std::string path = path_of(std::string(head.target()));
        begin_request(std::string(head.method_string()), path);
        const auto relative = relative_path(path);
        if (!relative)
        {
            log::warn("request refused: outside base_url",
                      {{"path", path}, {"base_url", m_ctx->base_url}, {"remote", m_remote}});
            send(error_response(head, http::status::not_found, "Not Found"));
            return;
        }
        if (websocket::is_upgrade(head))
        {
            upgrade(std::move(head), *relative);
            return;
        }
        dispatch(std::move(head), *relative);
    }

    // A header over max_header_bytes. The client may still be sending the rest of it: send()
    // reads and drops that before closing, so that the answer is not lost in a reset.
    void refuse_oversized_header()
    {
        const auto target = m_header->get().target(); // "" if not parsed (yet)
        begin_request(target.empty() ? "-" : std::string(m_header->get().method_string()), "-");
        m_body_unread = true;
        m_version = 11;    // HTTP/1.1, whatever the request line said
        http_request head; // HTTP/1.1 too
        const std::string_view received(static_cast<const char*>(m_buffer.data().data()),
                                        m_buffer.size());
        refuse_header(head, oversized_header_status(target, received));
    }

    // 414 or 431, with a log line saying which limit: the target is not logged (it is what
    // is too long, and may hold a token).
    void refuse_header(const http_request& head, http::status status)
    {
        const bool target = status == http::status::uri_too_long;
        log::warn("request refused: header over a limit",
                  {{"limit", target ? "request target" : "request header"},
                   {"max_bytes", target ? max_target_bytes : std::size_t{max_header_bytes}},
                   {"remote", m_remote}});
        http_response res =
            error_response(head, status,
                           target ? "the request target (path and query) is longer than " +
                                        std::to_string(max_target_bytes) + " bytes"
                                  : "the request header is larger than " +
                                        std::to_string(max_header_bytes) + " bytes");
        res.keep_alive(false);
        send(std::move(res));
    }

    void dispatch(http_request head, const std::string& path)
    {
        if (head.method() == http::verb::options)
        {
            send(preflight_response(m_ctx->cors, head)); // browsers send no token with it
            return;
        }
        if (!needs_token(path))
        {
            serve_public(std::move(head), path);
            return;
        }
        auto who = authenticate(head);
        if (!who)
        {
            return;
        }
        read_body(std::move(head), path, std::move(*who));
    }

    // Outside the API: the public routes (landing page, static files) answer anyone, and
    // take no body (an unauthenticated caller must not make the gateway read megabytes).
    void serve_public(http_request head, const std::string& path)
    {
        if (!m_ctx->routes.is_public(path))
        {
            send(error_response(head, http::status::not_found, "Not Found"));
            return;
        }
        if (m_body_unread)
        {
            log::warn("request refused: a body sent to a public page",
                      {{"path", path}, {"remote", m_remote}});
            http_response res = error_response(head, http::status::bad_request,
                                               "pages and static files take no request body");
            res.keep_alive(false);
            send(std::move(res));
            return;
        }
        handle(std::move(head), path, identity{});
    }

    void read_body(http_request head, const std::string& path, identity who)
    {
        if (!m_body_unread)
        {
            handle(std::move(head), path, who);
            return;
        }
        const auto length = m_header->content_length();
        if (length && *length > m_ctx->max_message_bytes)
        {
            send(too_large(head));
            return;
        }
        m_body.emplace(std::move(*m_header));
        m_body->body_limit(m_ctx->max_message_bytes); // a chunked body's total
        auto self = this->shared_from_this();
        auto then = [self, path, who = std::move(who)](beast::error_code error, std::size_t)
        { self->on_body(error, path, who); };
        if (beast::iequals(head[http::field::expect], "100-continue"))
        {
            // The client waits for this before sending its body (curl does for large ones).
            auto go_on = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                            head.version());
            expire_after(m_ctx->body_timeout_s);
            http::async_write(
                m_stream, *go_on,
                [self, go_on, then = std::move(then)](beast::error_code error, std::size_t) mutable
                {
                    if (!error)
                    {
                        self->read_rest(std::move(then));
                    }
                });
            return;
        }
        read_rest(std::move(then));
    }

    template <class Handler> void read_rest(Handler then)
    {
        expire_after(m_ctx->body_timeout_s);
        http::async_read(m_stream, m_buffer, *m_body, std::move(then));
    }

    void on_body(beast::error_code error, const std::string& path, const identity& who)
    {
        if (error == http::error::body_limit)
        {
            http_request head(m_body->get().base());
            send(too_large(head));
            return;
        }
        if (error)
        {
            return; // the client went away, or was too slow (the socket is closed)
        }
        m_body_unread = false;
        handle(m_body->release(), path, who);
    }

    http_response too_large(const http_request& head)
    {
        return error_response(head, http::status::payload_too_large,
                              "request body larger than the configured maximum (" +
                                  std::to_string(m_ctx->max_message_bytes) +
                                  " bytes, max_message_bytes)");
    }

    // Authenticated first, so that nothing about the kernels is said to a caller without a
    // token; then the route's handler checks the rest (channels_api) and takes the connection.
    void upgrade(http_request req, const std::string& path)
    {
        auto who = authenticate(req);
        if (!who)
        {
            return;
        }
        auto found = m_ctx->routes.match(req.method(), path, true);
        if (found.result != router::outcome::found)
        {
            send(error_response(req, http::status::not_found, "no WebSocket endpoint here"));
            return;
        }
        auto self = this->shared_from_this();
        (*found.upgrade)(
            upgrade_call{std::move(req), std::move(*who), std::move(found.captures), m_body_unread,
                         std::make_shared<session_responder<http_session, Stream>>(self),
                         [self] { return self->hand_over(); }});
    }

    // The connection leaves this session for a WebSocket session, which sets its own
    // timeouts.
    upgraded_connection hand_over()
    {
        assert(!m_handed_over);
        m_handed_over = true;
        log_request(static_cast<unsigned>(http::status::switching_protocols));
        beast::get_lowest_layer(m_stream).expires_never();
        return {
            std::variant<plain_stream, tls_stream>(std::in_place_type<Stream>, std::move(m_stream)),
            std::move(m_slot)};
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

    // The path below base_url ("/api/kernels" for "/cb/api/kernels" under "/cb/"); nothing
    // for a path outside it, which jupyter_server answers 404 too (it used to be routed as if
    // it were under it).
    std::optional<std::string> relative_path(const std::string& path) const
    {
        const std::string& base = m_ctx->base_url; // always ends with '/'
        if (base.size() <= 1)
        {
            return path;
        }
        if (path.rfind(base, 0) == 0)
        {
            return "/" + path.substr(base.size());
        }
        if (path.size() + 1 == base.size() && base.rfind(path, 0) == 0)
        {
            return std::string("/"); // "/cb" for "/cb/": the landing page
        }
        return std::nullopt;
    }

    // An authenticated request, its body read.
    void handle(http_request req, const std::string& path, const identity& who)
    {
        m_ctx->routes.dispatch(
            path, std::move(req), who,
            std::make_shared<session_responder<http_session, Stream>>(this->shared_from_this()));
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
        identity who = std::get<identity>(std::move(result));
        // A token bound to page origins works from those pages only, on every request and
        // WebSocket: one copied into another site's page is refused there.
        if (!origin_allowed(who, m_origin))
        {
            log::warn("token used from an origin it is not bound to",
                      {{"user", who.user}, {"origin", m_origin}, {"remote", m_remote}});
            send(error_response(
                req, http::status::forbidden,
                "this token is bound to other origins than " +
                    (m_origin.empty() ? std::string("a request without Origin") : m_origin)));
            return std::nullopt;
        }
        return who;
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
    std::optional<http::request_parser<http::empty_body>> m_header;
    std::optional<http::request_parser<http::string_body>> m_body; // from m_header, once allowed
    std::shared_ptr<const http_context> m_ctx;
    connection_slot m_slot;  // handed on with the stream to a WebSocket session
    unsigned m_version = 11; // of the request being answered
    std::string m_origin;    // of the request being answered
    // The request being answered has bytes not read (yet): its body, or the rest of a header
    // over the limit.
    bool m_body_unread = false;
    bool m_discard_input = false;
    bool m_discard_deadline_set = false;
    bool m_handed_over = false; // to a WebSocket session, with m_stream
};

} // namespace

void run_http_session(plain_stream&& stream, std::shared_ptr<const http_context> ctx,
                      connection_slot slot)
{
    std::make_shared<http_session<plain_stream>>(std::move(stream), std::move(ctx), std::move(slot))
        ->run();
}

void run_http_session(tls_stream&& stream, std::shared_ptr<const http_context> ctx,
                      connection_slot slot)
{
    std::make_shared<http_session<tls_stream>>(std::move(stream), std::move(ctx), std::move(slot))
        ->run();
}

} // namespace cellbox::gateway
