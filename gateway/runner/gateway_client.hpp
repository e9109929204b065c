#pragma once
// A small synchronous HTTP/1.1 client (Boost.Beast over TCP) for `cellbox run`, the gateway's
// own client: JSON requests with the token, and responses read whole or line by line (the
// execute API's NDJSON). One connection per request, as the execute API expects of simple
// clients; a cell costs two requests, far below a cell's own time.
#include <cstddef>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cellbox::gateway::runner
{

// The gateway cannot be reached, or answered something this client cannot use.
class gateway_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct http_answer
{
    int status = 0;
    std::string body;
};

class gateway_client
{
public:
    // Largest answer read whole, and longest NDJSON line (an event): a gateway's answers are
    // bounded by its output budgets (4 MiB of text, 8 MiB of images by default).
    static constexpr std::size_t max_body_bytes = 512u << 20u;

    // `url`: http://HOST:PORT[/BASE/]; throws gateway_error for anything else (https is not
    // supported by this client).
    gateway_client(std::string_view url, std::string token);

    http_answer request(const std::string& method, const std::string& path,
                        const std::string& body = {},
                        const std::string& accept = "application/json") const;
    // POST `body` to `path` with Accept: application/x-ndjson and calls `on_line` with every
    // line as it arrives. Returns the HTTP status; a status other than 200 has its body in
    // `error_body`.
    int stream_lines(const std::string& path, const std::string& body,
                     const std::function<void(std::string_view)>& on_line,
                     std::string& error_body) const;

    // `path` relative to the base URL ("api/kernels").
    std::string target(const std::string& path) const { return m_base + path; }
    const std::string& url() const { return m_url; }

private:
    std::string m_url;
    std::string m_host;
    std::string m_port;
    std::string m_base; // "/" or "/base/"
    std::string m_token;
};

// The "message" of a gateway's JSON error body, else the body itself (shortened).
std::string error_text(const http_answer& answer);

} // namespace cellbox::gateway::runner
