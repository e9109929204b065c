// What a token's header and claims may hold before anything reads them: refusals are
// jwt_errors (a 403), never another exception or a deep walk.
#include "cellbox/gateway/jwt.hpp"

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
