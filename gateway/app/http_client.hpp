#pragma once
// A small synchronous HTTP/1.1 client for `cellbox mcp`: one request at a time on a
// connection kept open between them (plain TCP; reconnects when the server closed it).
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace cellbox::gateway
{

// A URL the client cannot use, or a request that failed on the wire.
class http_client_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct parsed_url
{
    std::string host;
    std::string port;
    std::string path; // ends with '/'
};

// "http://host:port/base/" ; throws http_client_error for anything else (https included).
parsed_url parse_http_url(const std::string& url);

class http_client
{
public:
    using response = boost::beast::http::response<boost::beast::http::string_body>;

    http_client(std::string host, std::string port, std::chrono::seconds timeout);

    // Told the response (header and the body so far) each time more of its body came.
    using body_handler = std::function<void(const response& so_far)>;

    // Sends one request and reads the whole answer, telling `on_body` (may be empty) as it
    // comes. Throws http_client_error.
    response request(boost::beast::http::verb method, const std::string& target,
                     const std::map<std::string, std::string>& headers, std::string body,
                     const body_handler& on_body = nullptr);

private:
    void connect();

    std::string m_host;
    std::string m_port;
    std::chrono::seconds m_timeout;
    boost::asio::io_context m_io;
    std::optional<boost::beast::tcp_stream> m_stream;
};

} // namespace cellbox::gateway
