// The route table (gateway/http/router): patterns, captures, 404 against 405, method lists.
#include "http/router.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::gateway;
namespace http = boost::beast::http;
using verb = http::verb;

namespace
{

// Records what a dispatch answered, instead of a connection.
class recording_responder : public responder
{
public:
    void send(http_response res) override { sent.push_back(std::move(res)); }
    void start(http::status, http::fields) override {}
    void write(std::string, std::function<void(bool)>) override {}
    void finish() override {}
    void on_client_gone(std::function<void()>) override {}
    bool client_gone() const override { return false; }

    std::vector<http_response> sent;
};

http_request request(verb method, const std::string& target)
{
    return http_request{method, target, 11};
}

} // namespace

TEST_CASE("route patterns: {name} captures one segment, {name:regex} what the regex says")
{
    const auto [plain, plain_names] = compile_route_pattern("/api/kernels/{kernel_id}");
    CHECK(plain == "/api/kernels/([^/]+)");
    CHECK(plain_names == std::vector<std::string>{"kernel_id"});

    const auto [custom, custom_names] = compile_route_pattern(R"(/k/{id:\w+-\w{2,3}}/(a|b)/?)");
    CHECK(custom == R"(/k/(\w+-\w{2,3})/(a|b)/?)");
    CHECK(custom_names == std::vector<std::string>{"id", ""});

    // Escapes, bracket expressions and non-capturing groups are no captures.
    const auto [other, other_names] = compile_route_pattern(R"(/x\(/[(]/(?:y)/{n})");
    CHECK(other == R"(/x\(/[(]/(?:y)/([^/]+))");
    CHECK(other_names == std::vector<std::string>{"n"});
}

TEST_CASE("bad route patterns are refused when registered")
{
    router routes;
    const auto nothing = [](http_call) {};
    CHECK_THROWS_AS(routes.add({verb::get}, "/a/{", nothing), std::invalid_argument);
    CHECK_THROWS_AS(routes.add({verb::get}, "/a/{x:[}", nothing), std::invalid_argument);
    CHECK_THROWS_AS(routes.add({verb::get}, "/a/}", nothing), std::invalid_argument);
    CHECK_THROWS_AS(routes.add({verb::get}, "/{a}/{a}", nothing), std::invalid_argument);
    CHECK_THROWS_AS(routes.add({verb::get}, "/a/(", nothing), std::invalid_argument);
    CHECK_THROWS_AS(routes.add({verb::get}, "/a\\", nothing), std::invalid_argument);
}

TEST_CASE("a match gives the route's captures by name and by position")
{
    router routes;
    routes.add({verb::get}, R"(/api/kernels/{kernel_id:\w+-\w+}/(interrupt|restart))",
               [](http_call) {});
    const auto found = routes.match(verb::get, "/api/kernels/ab-cd/restart");
    REQUIRE(found.result == router::outcome::found);
    REQUIRE(found.handler != nullptr);
    CHECK(found.upgrade == nullptr);
    REQUIRE(found.captures.size() == 2);
    CHECK(found.captures["kernel_id"] == "ab-cd");
    CHECK(found.captures[0] == "ab-cd");
    CHECK(found.captures[1] == "restart");
    CHECK_THROWS_AS(found.captures["session_id"], std::out_of_range);
    CHECK_THROWS_AS(found.captures[2], std::out_of_range);
}

TEST_CASE("the whole path must match: no prefix, no suffix, no slash inside a {name}")
{
    router routes;
    routes.add({verb::get}, "/api/kernelspecs/{name}", [](http_call) {});
    CHECK(routes.match(verb::get, "/api/kernelspecs/python").result == router::outcome::found);
    CHECK(routes.match(verb::get, "/api/kernelspecs/").result == router::outcome::not_found);
    CHECK(routes.match(verb::get, "/api/kernelspecs/a/b").result == router::outcome::not_found);
    CHECK(routes.match(verb::get, "/x/api/kernelspecs/a").result == router::outcome::not_found);
    CHECK(routes.match(verb::get, "/api/kernelspecs").result == router::outcome::not_found);
}

TEST_CASE("a path matched only by other methods' routes is a 405 listing them all, once")
{
    router routes;
    routes.add({verb::get}, "/api/sessions/?", [](http_call) {});
    routes.add({verb::post, verb::get}, "/api/sessions/?", [](http_call) {});
    routes.add({verb::get, verb::patch, verb::delete_}, "/api/sessions/{id}", [](http_call) {});

    const auto put = routes.match(verb::put, "/api/sessions");
    CHECK(put.result == router::outcome::method_not_allowed);
    CHECK(put.allow == "GET, POST");
    CHECK(put.handler == nullptr);

    CHECK(routes.match(verb::post, "/api/sessions/").result == router::outcome::found);
    CHECK(routes.match(verb::post, "/api/sessions/x").allow == "GET, PATCH, DELETE");
    CHECK(routes.match(verb::post, "/api/nothing").result == router::outcome::not_found);
    CHECK(routes.match(verb::post, "/api/nothing").allow.empty());
}

TEST_CASE("the first route that matches path and method answers")
{
    router routes;
    std::string which;
    routes.add({verb::get}, "/api/kernels/{id}", [&](http_call) { which = "first"; });
    routes.add({verb::get, verb::delete_}, "/api/kernels/{id}",
               [&](http_call) { which = "second"; });
    routes.dispatch("/api/kernels/k", request(verb::get, "/api/kernels/k"), identity{},
                    std::make_shared<recording_responder>());
    CHECK(which == "first");
    routes.dispatch("/api/kernels/k", request(verb::delete_, "/api/kernels/k"), identity{},
                    std::make_shared<recording_responder>());
    CHECK(which == "second");
}

TEST_CASE("a route without methods takes any method")
{
    router routes;
    routes.add({}, "/api/?", [](http_call) {});
    CHECK(routes.match(verb::put, "/api").result == router::outcome::found);
    CHECK(routes.match(verb::delete_, "/api/").result == router::outcome::found);
}

TEST_CASE("upgrade routes match only upgrade requests, and other routes only the others")
{
    router routes;
    routes.add_upgrade("/api/kernels/{kernel_id}/channels", [](upgrade_call) {});
    routes.add({verb::get}, "/api/kernels/{kernel_id}", [](http_call) {});

    const auto upgrade = routes.match(verb::get, "/api/kernels/k/channels", true);
    REQUIRE(upgrade.result == router::outcome::found);
    CHECK(upgrade.upgrade != nullptr);
    CHECK(upgrade.handler == nullptr);
    CHECK(upgrade.captures["kernel_id"] == "k");

    CHECK(routes.match(verb::get, "/api/kernels/k/channels").result == router::outcome::not_found);
    CHECK(routes.match(verb::get, "/api/kernels/k", true).result == router::outcome::not_found);
}

TEST_CASE("dispatch runs the handler with the request, caller, captures and responder")
{
    router routes;
    std::optional<http_call> seen;
    routes.add({verb::post}, "/api/kernels/{id}/interrupt",
               [&](http_call call) { seen = std::move(call); });
    auto respond = std::make_shared<recording_responder>();
    http_request req = request(verb::post, "/api/kernels/k1/interrupt?x=1");
    req.body() = "{}";
    routes.dispatch("/api/kernels/k1/interrupt", std::move(req), identity{"alice", false, {}},
                    respond);
    REQUIRE(seen);
    CHECK(seen->req.body() == "{}");
    CHECK(seen->req.target() == "/api/kernels/k1/interrupt?x=1");
    CHECK(seen->who.user == "alice");
    CHECK(seen->captures["id"] == "k1");
    CHECK(seen->respond == respond);
    CHECK(respond->sent.empty()); // the handler answers, not the table
}

TEST_CASE("dispatch answers 404 Not Found, and 405 Method Not Allowed with an Allow header")
{
    router routes;
    routes.add({verb::get, verb::delete_}, "/api/kernels/{id}", [](http_call) { FAIL(); });

    auto respond = std::make_shared<recording_responder>();
    routes.dispatch("/api/nothing", request(verb::get, "/api/nothing"), identity{}, respond);
    routes.dispatch("/api/kernels/k", request(verb::patch, "/api/kernels/k"), identity{}, respond);
    REQUIRE(respond->sent.size() == 2);

    const auto& missing = respond->sent[0];
    CHECK(missing.result() == http::status::not_found);
    CHECK(missing.body().find("\"Not Found\"") != std::string::npos);
    CHECK(missing[http::field::allow].empty());

    const auto& wrong_method = respond->sent[1];
    CHECK(wrong_method.result() == http::status::method_not_allowed);
    CHECK(wrong_method.body().find("Method Not Allowed") != std::string::npos);
    CHECK(wrong_method[http::field::allow] == "GET, DELETE");
}

TEST_CASE("public routes: only the paths of routes added with add_public")
{
    router routes;
    int private_calls = 0;
    int public_calls = 0;
    routes.add({verb::get}, "/api/status", [&](http_call) { ++private_calls; });
    routes.add_public({verb::get, verb::head}, "/static/{file:.*}",
                      [&](http_call) { ++public_calls; });
    CHECK(routes.is_public("/static/embed/cellbox-embed.js"));
    CHECK(routes.is_public("/static/"));
    CHECK_FALSE(routes.is_public("/static"));
    CHECK_FALSE(routes.is_public("/api/status"));
    CHECK_FALSE(routes.is_public("/"));

    // A public route is an ordinary one once dispatched: its methods still apply.
    auto respond = std::make_shared<recording_responder>();
    routes.dispatch("/static/a.js", request(verb::post, "/static/a.js"), identity{}, respond);
    REQUIRE(respond->sent.size() == 1);
    CHECK(respond->sent[0].result() == http::status::method_not_allowed);
    routes.dispatch("/static/a.js", request(verb::head, "/static/a.js"), identity{}, respond);
    CHECK(public_calls == 1);
    CHECK(private_calls == 0);
}
