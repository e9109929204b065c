#pragma once
// HS256 JSON Web Tokens (RFC 7519), the per-user tokens of `cellbox serve`: a SaaS backend
// signs {"sub": user, "exp": ..., "limits": {...}} with the server's secret and hands the
// token to its user's browser.
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>

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

} // namespace cellbox::gateway
