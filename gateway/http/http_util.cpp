#include "http/http_util.hpp"

#include "cellbox/bounded_json.hpp"

#include <boost/regex.hpp>
#include <openssl/crypto.h>
#include <sstream>

namespace cellbox::gateway
{

namespace http = boost::beast::http;

namespace
{

std::string percent_decode(const std::string& text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
    {
        if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(text[i + 1]) != 0 &&
            std::isxdigit(text[i + 2]) != 0)
        {
            out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
            i += 2;
        }
        else
        {
            out.push_back(text[i] == '+' ? ' ' : text[i]);
        }
    }
    return out;
}

} // namespace

http::status oversized_header_status(boost::beast::string_view parsed_target,
                                     std::string_view received)
{
    std::size_t target = parsed_target.size();
    if (target == 0)
    {
        const auto line_end = received.find('\n');
        if (line_end == std::string_view::npos)
        {
            return http::status::uri_too_long; // the request line alone is over the limit
        }
        // "METHOD TARGET VERSION": the target is between the first and the last space.
        const std::string_view line = received.substr(0, line_end);
        const auto first = line.find(' ');
        const auto last = line.rfind(' ');
        target = first == std::string_view::npos || last <= first ? line.size() : last - first - 1;
    }
    return target > max_target_bytes ? http::status::uri_too_long
                                     : http::status::request_header_fields_too_large;
}

std::string query_parameter(const std::string& target, const std::string& key)
{
    const auto query = target.find('?');
    if (query == std::string::npos)
    {
        return "";
    }
    std::istringstream pairs(target.substr(query + 1));
    std::string pair;
    while (std::getline(pairs, pair, '&'))
    {
        const auto equals = pair.find('=');
        if (equals != std::string::npos && pair.substr(0, equals) == key)
        {
            return percent_decode(pair.substr(equals + 1));
        }
    }
    return "";
}

std::string request_token(const http_request& req)
{
    const std::string header(req[http::field::authorization]);
    // Boost.Regex: libstdc++'s std::regex recurses once per character of a token.
    static const boost::regex scheme(R"(^\s*(token|bearer)\s+(\S+)\s*$)", boost::regex::icase);
    boost::smatch match;
    if (boost::regex_match(header, match, scheme))
    {
        return match[2];
    }
    return query_parameter(std::string(req.target()), "token");
}

bool needs_token(const std::string& path)
{
    return path == "/metrics" || path == "/mcp" || path.rfind("/api", 0) == 0 ||
           path.rfind("/kernelspecs/", 0) == 0;
}

std::string path_of(const std::string& target)
{
    return target.substr(0, target.find('?'));
}

bool same_secret(const std::string& a, const std::string& b)
{
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

json_body parse_json_body(const std::string& body)
{
    if (body.empty())
    {
        return {nlohmann::json::object(), ""};
    }
    if (!json_depth_within(body))
    {
        return {nullptr,
                "the body nests JSON deeper than " + std::to_string(max_json_depth) + " levels"};
    }
    nlohmann::json value = parse_json_bounded(body);
    if (!value.is_object())
    {
        return {nullptr, "the body must be a JSON object"};
    }
    return {std::move(value), ""};
}

http_response json_response(const http_request& req, http::status status,
                            const nlohmann::json& body)
{
    http_response res{status, req.version()};
    res.set(http::field::server, "cellbox");
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    res.prepare_payload();
    return res;
}

http_response error_response(const http_request& req, http::status status,
                             const std::string& message)
{
    return json_response(
        req, status,
        {{"reason", std::string(http::obsolete_reason(status))}, {"message", message}});
}

http_response empty_response(const http_request& req, http::status status)
{
    http_response res{status, req.version()};
    res.set(http::field::server, "cellbox");
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

void add_cors_headers(const cors_policy& cors, std::string_view origin, http::fields& res)
{
    if (!cors.enabled())
    {
        return;
    }
    // Added to what the handler said varies (static files: Accept-Encoding).
    const std::string vary(res[http::field::vary]);
    res.set(http::field::vary, vary.empty() ? "Origin" : vary + ", Origin");
    const std::string allowed = cors.allow_origin_for(origin);
    if (!allowed.empty())
    {
        res.set(http::field::access_control_allow_origin, allowed);
    }
}

http_response preflight_response(const cors_policy& cors, const http_request& req)
{
    http_response res = empty_response(req, http::status::no_content);
    if (cors.enabled() && !cors.allow_origin_for(std::string(req[http::field::origin])).empty())
    {
        res.set(http::field::access_control_allow_methods, "GET, POST, DELETE, OPTIONS");
        res.set(http::field::access_control_allow_headers,
                "Accept, Authorization, Content-Type, X-XSRFToken, X-Requested-With");
        res.set(http::field::access_control_max_age, "7200"); // Chromium's cap
    }
    return res;
}

} // namespace cellbox::gateway
