// --allow-origin: which origins get Access-Control-Allow-Origin and may open WebSockets.
#include "auth/cors_policy.hpp"

#include <catch2/catch.hpp>

using cellbox::gateway::cors_policy;

TEST_CASE("without --allow-origin nothing is cross-origin, WebSockets only from the same origin")
{
    const cors_policy none("");
    CHECK_FALSE(none.enabled());
    CHECK(none.allow_origin_for("https://a.example").empty());
    CHECK_FALSE(none.websocket_allowed("https://evil.example", "127.0.0.1:8888"));
    CHECK_FALSE(none.websocket_allowed("http://127.0.0.1:9999", "127.0.0.1:8888"));
    CHECK_FALSE(none.websocket_allowed("null", "127.0.0.1:8888")); // sandboxed frames, file://
    CHECK(none.websocket_allowed("http://127.0.0.1:8888", "127.0.0.1:8888"));
    CHECK(none.websocket_allowed("HTTPS://GW.example/", "gw.example"));
    CHECK(none.websocket_allowed("", "127.0.0.1:8888")); // not a browser
}

TEST_CASE("* allows every origin")
{
    const cors_policy any("*");
    CHECK(any.enabled());
    CHECK(any.allow_origin_for("https://a.example") == "*");
    CHECK(any.allow_origin_for("") == "*");
    CHECK(any.websocket_allowed("https://evil.example", "127.0.0.1:8888"));
}

TEST_CASE("a list echoes the matching origin only")
{
    const cors_policy list(" https://a.example , http://localhost:3000/,");
    CHECK(list.enabled());
    CHECK(list.allow_origin_for("https://a.example") == "https://a.example");
    CHECK(list.allow_origin_for("HTTPS://A.example") == "HTTPS://A.example");
    CHECK(list.allow_origin_for("http://localhost:3000") == "http://localhost:3000");
    CHECK(list.allow_origin_for("https://b.example").empty());
    CHECK(list.allow_origin_for("https://a.example.evil").empty());
    CHECK(list.allow_origin_for("").empty());
}

TEST_CASE("a list refuses WebSockets from other origins but not the server's own or non-browsers")
{
    const cors_policy list("https://a.example");
    CHECK(list.websocket_allowed("https://a.example", "gw.example"));
    CHECK_FALSE(list.websocket_allowed("https://evil.example", "gw.example"));
    CHECK(list.websocket_allowed("", "gw.example"));
    CHECK(list.websocket_allowed("https://gw.example:8888", "gw.example:8888"));
    CHECK_FALSE(list.websocket_allowed("https://gw.example:9999", "gw.example:8888"));
}
