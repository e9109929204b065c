#include "client/http_client.hpp"

#include "cellbox/bounded_json.hpp"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <limits>

namespace cellbox::gateway::client
{

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

struct http_client::connection
{
    net::io_context io;
    beast::tcp_stream stream{io};
    beast::flat_buffer buffer;
};

namespace
{

// A kept connection the gateway closed meanwhile: the request is sent again, once, on a new one.
struct stale_connection
{
};

void fail(const beast::error_code& error, const char* what)
{
    if (error)
    {
        throw gateway_error(std::string(what) + ": " + error.message());
    }
}

void arm(beast::tcp_stream& stream, std::chrono::seconds timeout)
{
    if (timeout.count() > 0)
    {
        stream.expires_after(timeout);
    }
    else
    {
        stream.expires_never();
    }
}

// Calls `on_line` for every complete line in `pending` and keeps the unfinished rest.
void split_lines(std::string& pending, const std::function<void(std::string_view)>& on_line)
{
    std::size_t start = 0;
    for (std::size_t end = pending.find('\n'); end != std::string::npos;
         end = pending.find('\n', start))
    {
        on_line(std::string_view(pending).substr(start, end - start));
        start = end + 1;
    }
    pending.erase(0, start);
    if (pending.size() > http_client::max_body_bytes)
    {
        throw gateway_error("the gateway sent a line longer than " +
                            std::to_string(http_client::max_body_bytes) + " bytes");
    }
}

// One request and its answer on `c`. Returns whether the connection may carry another.
bool exchange(beast::tcp_stream& stream, beast::flat_buffer& buffer,
              const http::request<http::string_body>& req, std::chrono::seconds timeout,
              bool reused, const line_reader* lines, response& res)
{
    beast::error_code error;
    arm(stream, timeout);
    http::write(stream, req, error);
    if (error && reused)
    {
        throw stale_connection{};
    }
    fail(error, "sending a request to the gateway");
    http::response_parser<http::buffer_body> parser;
    // Bounded below, by line or by body. Not boost::none: Boost 1.74 then refuses every body
    // with a Content-Length (it compares the length with an empty optional).
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    arm(stream, timeout);
    http::read_header(stream, buffer, parser, error);
    if (error && reused && !parser.got_some())
    {
        throw stale_connection{};
    }
    fail(error, "reading the gateway's answer");
    res.base() = parser.get().base();
    const bool by_line = lines != nullptr && lines->wanted && lines->wanted(res);
    const bool refusal = res.result_int() >= 400;
    std::string pending;
    std::array<char, 65536> chunk{};
    while (!parser.is_done())
    {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        // read_some, not read: a stream's lines are handed on as they come.
        http::read_some(stream, buffer, parser, error);
        if (error == http::error::need_buffer)
        {
            error = {};
        }
        fail(error, "reading the gateway's answer");
        const std::size_t got = chunk.size() - parser.get().body().size;
        if (by_line)
        {
            pending.append(chunk.data(), got);
            split_lines(pending, lines->on_line);
            continue;
        }
        res.body().append(chunk.data(), got);
        if (refusal && res.body().size() > http_client::max_error_bytes)
        {
            res.body().resize(http_client::max_error_bytes);
            return false; // the rest is never read
        }
        if (res.body().size() > http_client::max_body_bytes)
        {
            throw gateway_error("the gateway's answer is larger than " +
                                std::to_string(http_client::max_body_bytes) + " bytes");
        }
    }
    if (by_line && !pending.empty())
    {
        lines->on_line(pending);
    }
    return res.keep_alive();
}

} // namespace

http_client::http_client(gateway_url url, client_options options)
    : m_url(std::move(url)), m_options(std::move(options))
{
}

http_client::~http_client() = default;

std::unique_ptr<http_client::connection> http_client::open() const
{
    auto c = std::make_unique<connection>();
    beast::error_code error;
    net::ip::tcp::resolver resolver(c->io);
    const auto endpoints = resolver.resolve(m_url.host, m_url.port, error);
    if (!error)
    {
        arm(c->stream, m_options.timeout);
        c->stream.connect(endpoints, error);
    }
    if (error)
    {
        throw gateway_error("cannot connect to " + m_url.authority() + ": " + error.message());
    }
    return c;
}

response http_client::request(http::verb method, const std::string& path, std::string body,
                              const std::map<std::string, std::string>& headers,
                              const line_reader* lines) const
{
    http::request<http::string_body> req{method, m_url.base + path, 11};
    req.set(http::field::host, m_url.authority());
    req.set(http::field::user_agent, m_options.user_agent);
    req.set(http::field::accept, "application/json");
    if (!m_options.token.empty())
    {
        req.set(http::field::authorization, m_options.auth_scheme + " " + m_options.token);
    }
    if (!body.empty() || method == http::verb::post)
    {
        req.set(http::field::content_type, "application/json");
    }
    for (const auto& [name, value] : headers)
    {
        req.set(name, value);
    }
    req.body() = std::move(body);
    req.keep_alive(m_options.keep_alive);
    req.prepare_payload();
    for (int attempt = 0;; ++attempt)
    {
        std::unique_ptr<connection> c;
        if (m_options.keep_alive)
        {
            const std::lock_guard lock(m_mutex);
            c = std::move(m_idle);
        }
        const bool reused = c != nullptr;
        if (!reused)
        {
            c = open();
        }
        try
        {
            response res;
            const bool again =
                exchange(c->stream, c->buffer, req, m_options.timeout, reused, lines, res);
            if (again && m_options.keep_alive)
            {
                const std::lock_guard lock(m_mutex);
                m_idle = std::move(c);
            }
            return res;
        }
        catch (const stale_connection&)
        {
            // Only a reused connection is stale, and only before any answer: never sent twice
            // after a fresh connection failed, when the gateway may have run the request.
        }
        if (attempt > 0)
        {
            throw gateway_error("the gateway at " + m_url.authority() + " closed the connection");
        }
    }
}

std::string error_text(const response& answer)
{
    const nlohmann::json parsed = parse_json_bounded(answer.body());
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
    {
        return parsed["message"].get<std::string>();
    }
    return answer.body().substr(0, 500);
}

} // namespace cellbox::gateway::client
