#pragma once
// Who is calling: the admin (the server's token) or a user named by a JWT (HS256 with the
// server's secret, or RS256 / ES256 with a SaaS's key, see jwt_keys.hpp).
#include "auth/jwt_keys.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cellbox::gateway
{

// A user's own limits, from the token's "limits" claim. They can only lower the server's.
struct user_limits
{
    std::optional<int> kernels;
    std::optional<double> cell_timeout_s;
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> disk_bytes; // the user's /work quota
};

struct identity
{
    std::string user; // "admin" for the admin token
    bool admin = false;
    user_limits limits;
    // The token's "origins" claim: the page origins it may be used from ("https://app.example");
    // empty: any.
    std::vector<std::string> origins = {};
};

// Whether a request with this Origin header ("" when it has none) may use `who`'s token: a
// token bound to origins needs one of them.
bool origin_allowed(const identity& who, std::string_view origin);

// What users' tokens are checked against besides the HS256 secret.
struct jwt_options
{
    std::shared_ptr<jwt_key_store> public_keys; // RS256 / ES256 (none: HS256 only)
    std::string audience;                       // required in "aud" when set
    std::string issuer;                         // required as "iss" when set
};

struct auth_failure
{
    int status; // 401: no credentials, 403: refused
    std::string message;
};

class authenticator
{
public:
    // An empty admin token disables authentication (every caller is the admin). User tokens
    // are checked against `jwt_secret`, or against the admin token when it is empty.
    authenticator(std::string admin_token, std::string jwt_secret, jwt_options options = {});

    // `token`: what the request carried ("" for none).
    std::variant<identity, auth_failure> authenticate(
        const std::string& token,
        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

    bool required() const { return !m_admin_token.empty(); }
    // The RS256 / ES256 key files, for their reload on SIGHUP (null when none).
    const std::shared_ptr<jwt_key_store>& public_keys() const { return m_options.public_keys; }

private:
    std::string m_admin_token;
    std::string m_jwt_secret;
    jwt_options m_options;
};

// User names become directory names and log fields: 1-64 of [A-Za-z0-9._@-], not starting
// with a dot, and not "admin".
bool valid_user_name(const std::string& name);

} // namespace cellbox::gateway
