#pragma once
// The route table, as jupyter_server's default_handlers: each entry is the HTTP methods, a
// path pattern and a handler. http_session authenticates a request, reads its body and asks
// the table; the API's resources (gateway/api) register their routes in it at startup.
// A WebSocket upgrade is a route kind of its own: its handler may take the connection over.
#include "auth/identity.hpp"
#include "http/connection_limits.hpp"
#include "http/http_util.hpp"
#include "http/responder.hpp"
#include "http/transport.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/regex.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cellbox::gateway
{

// What a path pattern captured: every group by position (in the pattern's order), and those
// written {name} or {name:regex} by name as well.
class route_captures
{
public:
    route_captures() = default;
    route_captures(std::vector<std::string> values, std::vector<std::string> names)
        : m_values(std::move(values)), m_names(std::move(names))
    {
    }

    std::size_t size() const { return m_values.size(); }
    const std::string& operator[](std::size_t position) const { return m_values.at(position); }
    // Throws std::out_of_range when the pattern has no capture of that name (a programming
    // error: handlers ask for the names their own pattern declares).
    const std::string& operator[](std::string_view name) const;

private:
    std::vector<std::string> m_values;
    std::vector<std::string> m_names; // per position; "" for a positional-only group
};

// An authenticated request with its body, routed.
struct http_call
{
    http_request req;
    identity who;
    route_captures captures;
    std::shared_ptr<responder> respond;
};

// A WebSocket upgrade's connection as the transport lets it go, with its place under the
// connection limits (held for as long as the connection lives).
struct upgraded_connection
{
    std::variant<plain_stream, tls_stream> stream;
    connection_slot slot;
};

// An authenticated WebSocket upgrade request (its header only), routed. The handler either
// refuses it through `respond`, or calls `take` (once) and runs the WebSocket protocol on the
// connection it returns; the transport is then done with it.
struct upgrade_call
{
    http_request req;
    identity who;
    route_captures captures;
    bool body_pending = false; // the request announced a body, not read: upgrades have none
    std::shared_ptr<responder> respond;
    std::function<upgraded_connection()> take;
};

using http_handler = std::function<void(http_call)>;
using upgrade_handler = std::function<void(upgrade_call)>;

class router
{
public:
    using verb = boost::beast::http::verb;

    // `pattern`: a Perl/ECMAScript regular expression (Boost.Regex: its matcher is not
    // recursive, so a long path cannot exhaust the stack as libstdc++'s std::regex can) that must
    // match the whole path (relative to the base URL, without the query string), in which {name}
    // stands for a named capture of one path segment, ([^/]+), and {name:regex} for a named capture
    // of `regex`. Other groups capture by position only. Throws std::invalid_argument for a bad
    // pattern. `methods` empty: any method.
    void add(std::vector<verb> methods, std::string_view pattern, http_handler handler);
    // A route answered without a token (the landing page, the widget's static files): its
    // handler gets an empty identity and a request without a body. Only paths outside the
    // API's (/api, /kernelspecs, /metrics) can be public; those always need a token.
    void add_public(std::vector<verb> methods, std::string_view pattern, http_handler handler);
    // A WebSocket endpoint (GET with Upgrade: websocket).
    void add_upgrade(std::string_view pattern, upgrade_handler handler);

    // Whether `path` is one of a public route's (whatever the method).
    bool is_public(const std::string& path) const;

    enum class outcome
    {
        found,
        not_found,          // no route's pattern matches the path
        method_not_allowed, // some do, none for this method
    };
    struct match_result
    {
        outcome result = outcome::not_found;
        const http_handler* handler = nullptr;    // found, for a request
        const upgrade_handler* upgrade = nullptr; // found, for an upgrade
        route_captures captures;                  // found
        std::string allow;                        // method_not_allowed: "GET, POST"
    };
    // Upgrade requests match only upgrade routes, and other requests only the others.
    match_result match(verb method, const std::string& path, bool upgrade = false) const;

    // Runs the matching handler, or answers 404 "Not Found" / 405 "Method Not Allowed" (with
    // an Allow header) through `respond`.
    void dispatch(const std::string& path, http_request req, identity who,
                  std::shared_ptr<responder> respond) const;

private:
    struct route
    {
        std::vector<verb> methods;
        std::string pattern;
        boost::regex compiled;
        std::vector<std::string> names;
        http_handler handler;
        upgrade_handler upgrade;
        bool open = false; // add_public
    };
    route& compile(std::string_view pattern);

    std::vector<route> m_routes;
};

// The pattern as a plain regular expression, and the name of each of its groups ("" for a
// positional one), for router::add. Throws std::invalid_argument.
std::pair<std::string, std::vector<std::string>> compile_route_pattern(std::string_view pattern);

} // namespace cellbox::gateway
