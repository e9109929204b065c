#pragma once
// Small HTTP helpers shared by the gateway's HTTP and WebSocket sessions.
#include "auth/cors_policy.hpp"

#include <boost/beast/http.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cellbox::gateway
{

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// Limits on a request's header, applied before anything reads it; past them the request is
// answered 414 or 431 and the connection closed. The whole header (request line and fields) is
// Boost.Beast's default, stated here so that answers can quote it. Its target (path and query)
// may take 6 KiB of it: Jupyter clients send ids of 36 characters and tokens under 1 KiB, an
// unknown path of 5000 characters is still a plain 404, and a request with the longest target
// keeps 2 KiB for its fields (Host, Authorization).
constexpr std::uint32_t max_header_bytes = 8192;
constexpr std::size_t max_target_bytes = 6144;
// The answer to a request whose header went over max_header_bytes: 414 URI Too Long when its
// target is to blame, else 431 Request Header Fields Too Large. `parsed_target` is the target
// Beast's parser got, `received` the bytes it left unconsumed. The parser consumes the request
// line as soon as it has it whole; once it had to wait for more, it waits for the whole header
// and then consumed nothing: the target is looked for at the front of `received`.
boost::beast::http::status oversized_header_status(boost::beast::string_view parsed_target,
                                                   std::string_view received);

// Query parameter `key` of a request target ("" when absent), percent-decoded.
std::string query_parameter(const std::string& target, const std::string& key);
// The target without its query string.
std::string path_of(const std::string& target);
// The token of a request: `Authorization: token|Bearer T`, else `?token=T` ("" for none).
std::string request_token(const http_request& req);
// Paths (relative to the base URL) that answer only with a token: the API's and the MCP
// endpoint's. Outside them
// only the router's public routes answer (the landing page, static files); the rest is 404.
bool needs_token(const std::string& path);
// Constant-time comparison of two secrets.
bool same_secret(const std::string& a, const std::string& b);

// A request body that must be a JSON object: `value` ({} for an empty body), or `error` saying
// why it is refused (not JSON, not an object, nested deeper than max_json_depth).
struct json_body
{
    nlohmann::json value;
    std::string error; // "" when `value` is the body
};
json_body parse_json_body(const std::string& body);

http_response json_response(const http_request& req, boost::beast::http::status status,
                            const nlohmann::json& body);
// jupyter_server's error body: {"reason": ..., "message": ...}.
http_response error_response(const http_request& req, boost::beast::http::status status,
                             const std::string& message);
http_response empty_response(const http_request& req, boost::beast::http::status status);

// CORS headers of any response to a request with this Origin header (`Vary: Origin` as the
// answer depends on it).
void add_cors_headers(const cors_policy& cors, std::string_view origin,
                      boost::beast::http::fields& res);
// 204 to an OPTIONS preflight: which methods and headers an allowed origin may use, and for
// how long the browser may cache that. Needs no token: browsers send none with a preflight.
http_response preflight_response(const cors_policy& cors, const http_request& req);

} // namespace cellbox::gateway
