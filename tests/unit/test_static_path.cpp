// What a request for a static file may name (gateway/http/static_path), before any
// filesystem call: the attacks' paths are refused with a reason, the widget's are served.
#include "http/static_path.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace cellbox::gateway;

TEST_CASE("static paths: the files of the static directory are served as named")
{
    CHECK(parse_static_path("embed/cellbox-embed.js").relative == "embed/cellbox-embed.js");
    CHECK(parse_static_path("landing/index.html").error.empty());
    // Percent escapes are decoded, strictly ('+' is not a space in a path).
    CHECK(parse_static_path("a%20b/c+d.js").relative == "a b/c+d.js");
}

TEST_CASE("static paths: escapes, hidden names, directories and odd bytes are refused")
{
    for (const char* raw :
         {"",         "..",       "../x",          "a/../../x",   "%2e%2e/x",      "%2E%2e%2fx",
          "a/%2e%2e", ".hidden",  "a/.git/config", "/etc/passwd", "%2fetc/passwd", "a//b",
          "a/",       "a\\..\\b", "a%5c..",        "x%00.js",     "x%0a",          "x%",
          "x%4",      "x%zz",     "x\x7f"})
    {
        INFO(raw);
        const auto parsed = parse_static_path(raw);
        CHECK(parsed.relative.empty());
        CHECK_FALSE(parsed.error.empty());
    }
    CHECK(parse_static_path(std::string(max_static_path_bytes + 1, 'a')).error ==
          "the path is longer than 512 bytes");
}

TEST_CASE("static paths: the Content-Type follows the extension, unknown ones are bytes")
{
    CHECK(static_content_type("embed/cellbox-embed.js") == "application/javascript; charset=utf-8");
    CHECK(static_content_type("landing/index.html") == "text/html; charset=utf-8");
    CHECK(static_content_type("a.png") == "image/png");
    CHECK(static_content_type("a.exe") == "application/octet-stream");
    CHECK(static_content_type("dir.js/file") == "application/octet-stream");
    CHECK(static_content_type("noextension") == "application/octet-stream");
}
