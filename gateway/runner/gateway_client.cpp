#include "runner/gateway_client.hpp"

#include "cellbox/bounded_json.hpp"

#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <regex>

namespace cellbox::gateway::runner
{
namespace
{

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct connection
{
    net::io_context io;
    tcp::socket socket{io};
};

void open(connection& c, const std::string& host, const std::string& port)
{
    boost::system::error_code error;
    tcp::resolver resolver(c.io);
    const auto endpoints = resolver.resolve(host, port, error);
    if (!error)
    {
        net::connect(c.socket, endpoints, error);
    }
    if (error)
    {
        throw gateway_error("cannot connect to " + host + ":" + port + ": " + error.message());
    }
}

http::request<http::string_body> make_request(http::verb verb, const std::string& target,
                                              const std::string& host, const std::string& token,
                                              const std::string& body, const std::string& accept)
{
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "cellbox-run");
    req.set(http::field::accept, accept);
    if (!token.empty())
    {
        req.set(http::field::authorization, "token " + token);
    }
    if (!body.empty() || verb == http::verb::post)
    {
        req.set(http::field::content_type, "application/json");
        req.body() = body;
    }
    req.keep_alive(false);
    req.prepare_payload();
    return req;
}

void fail(const boost::system::error_code& error, const char* what)
{
    if (error)
    {
        throw gateway_error(std::string(what) + ": " + error.message());
    }
}

} // namespace

gateway_client::gateway_client(std::string_view url, std::string token) : m_token(std::move(token))
{
    static const std::regex form(
        R"(http://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/.*)?)");
    std::match_results<std::string_view::const_iterator> match;
    if (!std::regex_match(url.begin(), url.end(), match, form))
    {
        throw gateway_error("--url must look like http://HOST:PORT/ (https is not supported by "
                            "cellbox run)");
    }
    m_host = match[1].str();
    if (m_host.front() == '[')
    {
        m_host = m_host.substr(1, m_host.size() - 2);
    }
    m_port = match[2].matched ? match[2].str() : "80";
    m_base = match[3].matched ? match[3].str() : "/";
    if (m_base.back() != '/')
    {
        m_base += '/';
    }
    m_url = "http://" + match[1].str() + ":" + m_port + m_base;
}

http_answer gateway_client::request(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& accept) const
{
    connection c;
    open(c, m_host, m_port);
    boost::system::error_code error;
    http::write(
        c.socket,
        make_request(http::string_to_verb(method), target(path), m_host, m_token, body, accept),
        error);
    fail(error, "sending a request to the gateway");
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_body_bytes);
    http::read(c.socket, buffer, parser, error);
    fail(error, "reading the gateway's answer");
    return {static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

int gateway_client::stream_lines(const std::string& path, const std::string& body,
                                 const std::function<void(std::string_view)>& on_line,
                                 std::string& error_body) const
{
    connection c;
    open(c, m_host, m_port);
    boost::system::error_code error;
    http::write(
        c.socket,
        make_request(http::verb::post, target(path), m_host, m_token, body, "application/x-ndjson"),
        error);
    fail(error, "sending a request to the gateway");
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none); // a long cell streams for as long as it runs
    http::read_header(c.socket, buffer, parser, error);
    fail(error, "reading the gateway's answer");
    const int status = static_cast<int>(parser.get().result_int());
    std::string pending;
    std::array<char, 65536> chunk{};
    while (!parser.is_done())
    {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        http::read(c.socket, buffer, parser, error);
        if (error == http::error::need_buffer)
        {
            error = {};
        }
        fail(error, "reading the gateway's stream");
        pending.append(chunk.data(), chunk.size() - parser.get().body().size);
        if (status != 200)
        {
            if (pending.size() > 65536)
            {
                break;
            }
            continue;
        }
        std::size_t start = 0;
        for (std::size_t end = pending.find('\n'); end != std::string::npos;
             end = pending.find('\n', start))
        {
            on_line(std::string_view(pending).substr(start, end - start));
            start = end + 1;
        }
        pending.erase(0, start);
        if (pending.size() > max_body_bytes)
        {
            throw gateway_error("the gateway sent a line longer than " +
                                std::to_string(max_body_bytes) + " bytes");
        }
    }
    if (status != 200)
    {
        error_body = pending;
    }
    else if (!pending.empty())
    {
        on_line(pending);
    }
    return status;
}

std::string error_text(const http_answer& answer)
{
    const nlohmann::json parsed = parse_json_bounded(answer.body);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
    {
        return parsed["message"].get<std::string>();
    }
    return answer.body.substr(0, 500);
}

} // namespace cellbox::gateway::runner
