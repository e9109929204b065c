#pragma once
// JSON Web Tokens (RFC 7519), the per-user tokens of `cellbox serve`: a SaaS backend signs
// {"sub": user, "exp": ..., "limits": {...}} with the server's secret (HS256) or with its own
// private key (RS256, ES256: the gateway holds only the public keys, jwt_keys.hpp) and hands the
// token to its user's browser.
#include "auth/jwt_keys.hpp"

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// Why a token was refused; the message is safe to show to the client.
struct jwt_error : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

std::string base64url_encode(std::string_view bytes);
// Throws jwt_error on characters outside the base64url alphabet or a truncated group.
std::string base64url_decode(std::string_view text);

// header.payload.signature with {"alg": "HS256", "typ": "JWT"}.
std::string sign_jwt(const nlohmann::json& claims, std::string_view secret);

// Checks the structure, that alg is HS256 (never "none" or another algorithm), the signature
// (constant time), that `exp` is present and in the future and `nbf`, when present, in the past
// (`leeway` either way). Returns the claims.
nlohmann::json verify_jwt(std::string_view token, std::string_view secret,
                          std::chrono::system_clock::time_point now,
                          std::chrono::seconds leeway = std::chrono::seconds(30));

// What a token may be signed with: the HS256 secret ("" for none), and public keys for RS256
// and ES256 (a header's kid picks among keys that have one).
struct jwt_verification_keys
{
    std::string_view secret;
    const std::vector<public_key>* public_keys = nullptr;
};

// As above, with alg HS256 checked against the secret only and RS256 / ES256 against public
// keys of that kind only (so a public key can never serve as an HMAC secret).
nlohmann::json verify_jwt(std::string_view token, const jwt_verification_keys& keys,
                          std::chrono::system_clock::time_point now,
                          std::chrono::seconds leeway = std::chrono::seconds(30));

} // namespace cellbox::gateway
