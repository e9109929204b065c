#include "app/http_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <regex>

namespace cellbox::gateway
{

namespace beast = boost::beast;
namespace http = beast::http;

parsed_url parse_http_url(const std::string& url)
{
    static const std::regex form(
        R"(^http://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?(/.*)?$)");
    std::smatch m;
    if (!std::regex_match(url, m, form))
    {
        throw http_client_error("--url must be http://HOST[:PORT][/BASE/] (https: put a TLS "
                                "proxy such as stunnel in front), got " +
                                url.substr(0, 200));
    }
    std::string host = m[1];
    if (host.front() == '[')
    {
        host = host.substr(1, host.size() - 2);
    }
    std::string path = m[3].matched ? std::string(m[3]) : "/";
    if (path.back() != '/')
    {
        path += '/';
    }
    return {host, m[2].matched ? std::string(m[2]) : "80", path};
}

http_client::http_client(std::string host, std::string port, std::chrono::seconds timeout)
    : m_host(std::move(host)), m_port(std::move(port)), m_timeout(timeout)
{
}

void http_client::connect()
{
    boost::asio::ip::tcp::resolver resolver(m_io);
    beast::error_code error;
    const auto endpoints = resolver.resolve(m_host, m_port, error);
    if (error)
    {
        throw http_client_error("cannot resolve " + m_host + ": " + error.message());
    }
    m_stream.emplace(m_io);
    m_stream->expires_after(m_timeout);
    m_stream->connect(endpoints, error);
    if (error)
    {
        m_stream.reset();
        throw http_client_error("cannot connect to " + m_host + ":" + m_port + ": " +
                                error.message());
    }
}

http_client::response http_client::request(http::verb method, const std::string& target,
                                           const std::map<std::string, std::string>& headers,
                                           std::string body, const body_handler& on_body)
{
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, m_host + ":" + m_port);
    req.set(http::field::user_agent, "cellbox-mcp-bridge");
    for (const auto& [name, value] : headers)
    {
        req.set(name, value);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    // A kept connection the server closed meanwhile fails at once: once more, on a new one
    // (never after a fresh connection failed: the server may have run the request).
    for (int attempt = 0; attempt < 2; ++attempt)
    {
        const bool reused = m_stream.has_value();
        if (!reused)
        {
            connect();
        }
        beast::error_code error;
        m_stream->expires_after(m_timeout);
        http::write(*m_stream, req, error);
        if (!error)
        {
            beast::flat_buffer buffer;
            http::response_parser<http::string_body> parser;
            parser.body_limit(std::size_t(256) << 20);
            // A cell may run for long: the read waits as long as the timeout allows.
            m_stream->expires_after(m_timeout);
            http::read_header(*m_stream, buffer, parser, error);
            // The body as it comes: a streamed answer (SSE) is relayed event by event.
            while (!error && !parser.is_done())
            {
                http::read_some(*m_stream, buffer, parser, error);
                if (!error && on_body)
                {
                    on_body(parser.get());
                }
            }
            if (!error)
            {
                response res = parser.release();
                if (!res.keep_alive())
                {
                    m_stream.reset();
                }
                return res;
            }
        }
        m_stream.reset();
        if (!reused || attempt == 1)
        {
            throw http_client_error("request to " + m_host + ":" + m_port +
                                    " failed: " + error.message());
        }
    }
    throw http_client_error("unreachable");
}

} // namespace cellbox::gateway
