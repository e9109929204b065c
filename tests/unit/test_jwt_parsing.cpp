// What a token's header and claims may hold before anything reads them: refusals are
// jwt_errors (a 403), never another exception or a deep walk.
#include "auth/identity.hpp"
#include "auth/jwt.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

using namespace cellbox::gateway;
using nlohmann::json;

namespace
{
std::string nested(int depth)
{
    return std::string(static_cast<std::size_t>(depth), '[') +
           std::string(static_cast<std::size_t>(depth), ']');
}
} // namespace

TEST_CASE("a token with a deep header is refused before its signature is checked")
{
    const auto now = std::chrono::system_clock::now();
    const std::string token = base64url_encode(R"({"alg":"HS256","x":)" + nested(5000) + "}") +
                              "." + base64url_encode(R"({"sub":"a"})") + ".c2ln";
    CHECK_THROWS_WITH(verify_jwt(token, "secret", now), Catch::Contains("deeper than 256"));
    // Signed claims nested too deep (a backend that put a user's data in a claim).
    const json claims = {{"sub", "a"}, {"exp", 4102444800}, {"x", json::parse(nested(300))}};
    const std::string signed_deep = sign_jwt(claims, "secret");
    CHECK_THROWS_WITH(verify_jwt(signed_deep, "secret", now),
                      Catch::Contains("payload nests JSON deeper than 256"));
}

TEST_CASE("a token header whose alg is not a string is a refusal, not an exception")
{
    // Found by fuzz_jwt: value("alg", "") threw nlohmann's type_error past the authenticator,
    // and the client got no answer at all.
    const auto now = std::chrono::system_clock::now();
    for (const std::string head : {R"({"alg":5})", R"({"alg":null})", R"({"alg":["HS256"]})", "{}"})
    {
        CAPTURE(head);
        const std::string token = base64url_encode(head) + "." + base64url_encode("{}") + ".c2ln";
        CHECK_THROWS_AS(verify_jwt(token, "secret", now), jwt_error);
        const auto outcome = authenticator("admin", "secret").authenticate(token, now);
        REQUIRE(std::holds_alternative<auth_failure>(outcome));
        CHECK(std::get<auth_failure>(outcome).status == 403);
    }
}
