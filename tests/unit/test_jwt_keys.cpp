// JWKS documents as the gateway reads them (RFC 7517/7518 keys into OpenSSL keys), and the
// rule that an alg picks its kind of key: a public key is never an HMAC secret, a token
// without configured public keys is HS256 or nothing, and origins claims are checked. RS256
// and ES256 signatures by real keys are tests/security/test_saas_tokens.py's (openssl, PyJWT).
#include "auth/identity.hpp"
#include "auth/jwt.hpp"
#include "auth/jwt_keys.hpp"

#include <catch2/catch.hpp>
#include <chrono>

using namespace cellbox::gateway;
using nlohmann::json;

namespace
{
// A P-256 public key (RFC 7515 appendix A.3's example).
const json ec_jwk = {{"kty", "EC"},
                     {"crv", "P-256"},
                     {"kid", "e1"},
                     {"x", "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"},
                     {"y", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}};
} // namespace

TEST_CASE("JWKS: EC P-256 keys become PEM keys; other keys are skipped or refused")
{
    const auto keys =
        parse_jwks(json{{"keys", {ec_jwk, {{"kty", "oct"}, {"k", "c2VjcmV0"}}}}}.dump());
    REQUIRE(keys.size() == 1);
    CHECK(keys[0].alg == "ES256");
    CHECK(keys[0].kid == "e1");
    CHECK(keys[0].pem.rfind("-----BEGIN PUBLIC KEY-----", 0) == 0);
    json wrong_alg = ec_jwk;
    wrong_alg["alg"] = "RS256";
    CHECK_THROWS_WITH(parse_jwks(json{{"keys", {wrong_alg}}}.dump()), Catch::Contains("fit"));
    json off_curve = ec_jwk;
    off_curve["y"] = off_curve["x"]; // not a point of the curve
    CHECK_THROWS(parse_jwks(json{{"keys", {off_curve}}}.dump()));
    json long_x = ec_jwk;
    long_x["x"] = std::string(44, 'A'); // 33 bytes
    CHECK_THROWS_WITH(parse_jwks(json{{"keys", {long_x}}}.dump()), Catch::Contains("32 bytes"));
    json short_x = ec_jwk;
    short_x["x"] = "AA"; // padded back to 32 bytes: then not a point of the curve
    CHECK_THROWS(parse_jwks(json{{"keys", {short_x}}}.dump()));
    json p384 = ec_jwk;
    p384["crv"] = "P-384";
    CHECK_THROWS_WITH(parse_jwks(json{{"keys", {p384}}}.dump()), Catch::Contains("P-256"));
    const json small_rsa = {{"kty", "RSA"}, {"n", "AQAB"}, {"e", "AQAB"}};
    CHECK_THROWS(parse_jwks(json{{"keys", {small_rsa}}}.dump()));
    for (const std::string bad :
         {"", "[]", "{}", R"({"keys": {}})", R"({"keys": []})", "{\"keys\": [1]}"})
    {
        INFO(bad);
        CHECK_THROWS(parse_jwks(bad));
    }
}

TEST_CASE("an alg picks its kind of key: a public key never verifies HS256")
{
    const auto now = std::chrono::system_clock::now();
    const auto keys = parse_jwks(json{{"keys", {ec_jwk}}}.dump());
    const json claims = {{"sub", "alice"}, {"exp", 4102444800}};
    // HS256 signed with the public key's PEM as the secret: refused, the secret is another.
    const std::string confused = sign_jwt(claims, keys[0].pem);
    CHECK_THROWS_WITH(verify_jwt(confused, jwt_verification_keys{"secret", &keys}, now),
                      Catch::Contains("signature"));
    CHECK(verify_jwt(sign_jwt(claims, "secret"), jwt_verification_keys{"secret", &keys}, now)
              .at("sub") == "alice");
    // An ES256 header without public keys configured names what is accepted.
    const std::string es_head = base64url_encode(R"({"alg":"ES256"})");
    const std::string token = es_head + "." + base64url_encode(claims.dump()) + ".c2ln";
    CHECK_THROWS_WITH(verify_jwt(token, "secret", now), Catch::Contains("no public keys"));
    CHECK_THROWS_WITH(verify_jwt(token, jwt_verification_keys{"secret", &keys}, now),
                      Catch::Contains("signature"));
}

TEST_CASE("origins claims bind a token to page origins")
{
    const auto now = std::chrono::system_clock::now();
    const authenticator auth("admin", "secret");
    const auto with = [&](const json& origins)
    {
        return auth.authenticate(
            sign_jwt({{"sub", "alice"}, {"exp", 4102444800}, {"origins", origins}}, "secret"), now);
    };
    const auto bound = with({"https://App.example", "http://localhost:3000"});
    REQUIRE(std::holds_alternative<identity>(bound));
    const identity& who = std::get<identity>(bound);
    CHECK(origin_allowed(who, "https://app.example"));
    CHECK(origin_allowed(who, "http://localhost:3000"));
    CHECK_FALSE(origin_allowed(who, "https://app.example.evil"));
    CHECK_FALSE(origin_allowed(who, ""));
    CHECK(origin_allowed(identity{}, "https://anything.example"));
    for (const json& bad : {json::array(), json("https://app.example"), json({"app.example"}),
                            json({"https://app.example/x"}), json({5})})
    {
        INFO(bad.dump());
        const auto refused = with(bad);
        REQUIRE(std::holds_alternative<auth_failure>(refused));
        CHECK(std::get<auth_failure>(refused).message.find("origins") != std::string::npos);
    }
}
