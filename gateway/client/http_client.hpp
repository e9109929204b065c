#pragma once
// The synchronous HTTP/1.1 client (Boost.Beast over plain TCP) of a gateway's clients,
// `cellbox run` and `cellbox mcp`: one request at a time per caller, answers read whole or,
// for streams (the execute API's NDJSON, MCP's SSE), line by line as they arrive. Every read
// is bounded, whatever the gateway sends: a whole body and a line by max_body_bytes, an error
// body cut at max_error_bytes; a stream may last as long as its cell runs.
#include "client/gateway_url.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace cellbox::gateway::client
{

using response = boost::beast::http::response<boost::beast::http::string_body>;
using verb = boost::beast::http::verb;

struct client_options
{
    std::string token;                 // sent as "Authorization: SCHEME TOKEN" when not empty
    std::string auth_scheme = "token"; // jupyter_server's; MCP clients say "Bearer"
    std::string user_agent = "cellbox";
    std::chrono::seconds timeout{0}; // for one answer, its stream included; 0: none
    // One connection kept between requests (and opened again when the gateway closed it).
    // Without it, a connection per request: callers on many threads never wait on each other.
    bool keep_alive = false;
};

// How an answer's body is read: line by line, when `wanted` says so from its status and
// headers; else whole, into the response's body.
struct line_reader
{
    std::function<bool(const response& head)> wanted;
    std::function<void(std::string_view line)> on_line; // without its '\n'
};

class http_client
{
public:
    // The largest body read whole, and the longest line of a stream: a gateway's answers are
    // bounded by its output budgets (4 MiB of text, 8 MiB of images by default).
    static constexpr std::size_t max_body_bytes = 512u << 20u;
    // An error answer (4xx, 5xx) is kept this far only, the rest never read: it is shown to a
    // user, and a hostile gateway could stream it forever.
    static constexpr std::size_t max_error_bytes = 64u << 10u;

    http_client(gateway_url url, client_options options);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // `path` is relative to the base URL ("api/kernels"). `headers` add to, or replace, the
    // defaults (Accept: application/json, Content-Type: application/json for a body or a
    // POST, Authorization). With `lines` and a streamed answer, the body returned is empty.
    // Throws gateway_error when the gateway cannot be reached, or its answer is too large.
    // Thread-safe.
    response request(boost::beast::http::verb method, const std::string& path,
                     std::string body = {}, const std::map<std::string, std::string>& headers = {},
                     const line_reader* lines = nullptr) const;

    const gateway_url& url() const { return m_url; }

private:
    struct connection;
    std::unique_ptr<connection> open() const;

    gateway_url m_url;
    client_options m_options;
    mutable std::mutex m_mutex;                 // guards m_idle
    mutable std::unique_ptr<connection> m_idle; // the kept connection, when not in use
};

// The "message" of a gateway's JSON error body, else the body itself (shortened).
std::string error_text(const response& answer);

} // namespace cellbox::gateway::client
