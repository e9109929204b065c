// An HTTP request as the gateway reads it: Boost.Beast's request parser with the gateway's
// limits (and the 414 or 431 of a header over them), then what the gateway does with a parsed
// request before it touches a kernel: the path and query, the token, CORS, the route table's
// match, the JSON body and a new kernel's env, and the answers it builds from them (which echo
// parts of the request).
#include "app/api_routes.hpp"
#include "auth/cors_policy.hpp"
#include "auth/identity.hpp"
#include "fuzz_support.hpp"
#include "http/http_util.hpp"
#include "kernels/kernel_manager.hpp"

#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

using namespace cellbox::gateway;
namespace http = boost::beast::http;
using cellbox::fuzz::require;

namespace
{

// The parsed request, or nothing when Beast refuses the bytes (the gateway then closes).
std::optional<http_request> parse(std::string_view bytes)
{
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_header_bytes);
    parser.body_limit(1 << 20); // --max-message-bytes, small here to keep runs fast
    parser.eager(true);
    boost::beast::error_code error;
    while (!bytes.empty() && !parser.is_done())
    {
        const std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), error);
        if (error == http::error::need_more)
        {
            break;
        }
        if (error == http::error::header_limit)
        {
            const auto status = oversized_header_status(parser.get().target(), bytes);
            require(status == http::status::uri_too_long ||
                        status == http::status::request_header_fields_too_large,
                    "an oversized header is answered 414 or 431");
        }
        if (error)
        {
            return std::nullopt;
        }
        bytes.remove_prefix(used);
    }
    if (!parser.is_done())
    {
        parser.put_eof(error);
        if (error || !parser.is_done())
        {
            return std::nullopt;
        }
    }
    return parser.release();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const auto req = parse(cellbox::fuzz::text_of(data, size));
    if (!req)
    {
        return 0;
    }
    const std::string target(req->target());
    const std::string path = path_of(target);
    require(path.find('?') == std::string::npos, "the path has no query");
    const std::string token = query_parameter(target, "token");
    (void)query_parameter(target, "session_id");

    static const authenticator auth("admin-token", "jwt-secret");
    const std::string authorization(req->base()[http::field::authorization]);
    for (const auto& candidate : {token, authorization})
    {
        const auto who = auth.authenticate(candidate);
        require(!std::holds_alternative<identity>(who) || candidate == "admin-token" ||
                    !std::get<identity>(who).admin,
                "nothing but the admin token is the admin");
    }

    // The gateway's own route table. Only matched here, never run: registering takes the
    // API's context without using it, and the handlers that would use it need kernels.
    static const router routes = api_routes(nullptr);
    const bool upgrade = boost::beast::websocket::is_upgrade(*req);
    const auto found = routes.match(req->method(), path, upgrade);
    require((found.result == router::outcome::found) ==
                (found.handler != nullptr || found.upgrade != nullptr),
            "a route found has a handler");
    require((found.result == router::outcome::method_not_allowed) == !found.allow.empty(),
            "a 405 says which methods are allowed");
    for (std::size_t i = 0; i < found.captures.size(); ++i)
    {
        require(path.find(found.captures[i]) != std::string::npos, "a capture is of the path");
    }

    static const cors_policy cors("https://a.example, http://localhost:3000");
    const std::string origin(req->base()[http::field::origin]);
    (void)cors.allow_origin_for(origin);
    (void)cors.websocket_allowed(origin, std::string(req->base()[http::field::host]));
    (void)preflight_response(cors, *req);

    const json_body body = parse_json_body(req->body());
    if (body.error.empty())
    {
        try
        {
            for (const auto& [name, value] :
                 validate_kernel_env(body.value.value("env", nlohmann::json())))
            {
                require(name.rfind("KERNEL_", 0) == 0 && value.size() <= 4096,
                        "only KERNEL_* variables of bounded size pass");
            }
        }
        catch (const std::invalid_argument&)
        {
        }
    }
    // Answers quote the path (404s); they must stay JSON whatever bytes it holds.
    const http_response answer = error_response(*req, http::status::not_found, "No " + path);
    require(nlohmann::json::accept(answer.body()), "an error answer is JSON");
    return 0;
}
