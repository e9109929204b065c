// TOML documents reach toml++ as pure ASCII with the same meaning (toml++ 3.3 has undefined
// behaviour on some non-ASCII characters: found by fuzz_config and fuzz_policy).
#include "app/config.hpp"
#include "cellbox/sandbox/policy.hpp"
#include "cellbox/toml_ascii.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <toml++/toml.h>

using cellbox::toml_as_ascii;

TEST_CASE("TOML is rewritten to ASCII with the same meaning")
{
    CHECK(toml_as_ascii("a = 1 # caf\xc3\xa9\n") == "a = 1 # caf?\n");
    CHECK(toml_as_ascii("a = \"caf\xc3\xa9 \xf0\x9f\x98\x80\"") == R"(a = "caf\u00E9 \U0001F600")");
    CHECK(toml_as_ascii("\"k\xc3\xa9y\" = 1") == R"("k\u00E9y" = 1)");
    const std::string multi = "s = \"\"\"\\\n\xc2\xa7 \"\" \xc3\xa9\"\"\"\"\n# \xc3\xa9";
    CHECK(toml_as_ascii(multi) == "s = \"\"\"\\\n\\u00A7 \"\" \\u00E9\"\"\"\"\n# ?");
    // Quotes and '#' inside strings neither end them nor start comments.
    CHECK(toml_as_ascii(R"(a = "x \" # y" # z)") == R"(a = "x \" # y" # z)");
    CHECK(toml_as_ascii("a = 'x # \"' # \xc3\xa9") == "a = 'x # \"' # ?");
    CHECK(toml_as_ascii("a = '''x '' y''' # \xc3\xa9") == "a = '''x '' y''' # ?");
    // The meaning is kept: toml++ reads the same values from both texts.
    const std::string text =
        "[t]\n\"\xc3\xa9\" = \"\xce\xa3\\n\"\ns = \"\"\"\n\xe2\x82\xac\"\"\"\n";
    const auto table = toml::parse(toml_as_ascii(text));
    CHECK(table["t"]["\xc3\xa9"].value<std::string>() == "\xce\xa3\n");
    CHECK(table["t"]["s"].value<std::string>() == "\xe2\x82\xac");
}

TEST_CASE("TOML with non-ASCII outside strings and comments, or bad UTF-8, is refused")
{
    CHECK_THROWS_WITH(toml_as_ascii("\xce\xa3 = 1"), "1:1: a non-ASCII character outside a "
                                                     "string or a comment");
    CHECK_THROWS_WITH(toml_as_ascii("a = 1\nfir\xef\xbb\x9fuix"), Catch::StartsWith("2:4: "));
    CHECK_THROWS_WITH(toml_as_ascii("a = '\xc3\xa9'"), Catch::Contains("literal string"));
    CHECK_THROWS_WITH(toml_as_ascii("a = \"\\\xc3\xa9\""), Catch::Contains("after a backslash"));
    CHECK_THROWS_WITH(toml_as_ascii("# \xc3"), "1:3: malformed UTF-8");
    CHECK_THROWS_WITH(toml_as_ascii("a = \"\xed\xa0\x80\""), Catch::Contains("malformed UTF-8"));
    CHECK_THROWS_WITH(toml_as_ascii("a = \"\xc0\xaf\""), Catch::Contains("malformed UTF-8"));
}

TEST_CASE("the config and policy readers report a refused character with its place")
{
    cellbox::gateway::serve_settings settings;
    CHECK_THROWS_WITH(cellbox::gateway::apply_config_text(settings, "\xce\xa3 = 1", "c.toml"),
                      Catch::StartsWith("c.toml:1:1: a non-ASCII character"));
    cellbox::gateway::apply_config_text(settings, "memory = \"2G\" # \xe2\x80\x94 two", "c.toml");
    CHECK(settings.manager.memory_limit == "2G");
    CHECK_THROWS_WITH(cellbox::sandbox::parse_policy("hostname = '\xc3\xa9'", "p.toml"),
                      Catch::StartsWith("p.toml:1:13: a non-ASCII character in a literal"));
    CHECK(cellbox::sandbox::parse_policy("hostname = \"b\xc3\xb6x\"", "p.toml").hostname ==
          "b\xc3\xb6x");
}
