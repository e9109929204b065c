#pragma once
// Small HTTP helpers shared by the gateway's HTTP and WebSocket sessions.
#include "auth/cors_policy.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace cellbox::gateway
{

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;

// Query parameter `key` of a request target ("" when absent), percent-decoded.
std::string query_parameter(const std::string& target, const std::string& key);
// The target without its query string.
std::string path_of(const std::string& target);
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
