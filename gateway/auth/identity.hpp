#pragma once
// Who is calling: the admin (the server's token) or a user named by an HS256 JWT.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

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
    authenticator(std::string admin_token, std::string jwt_secret);

    // `token`: what the request carried ("" for none).
    std::variant<identity, auth_failure> authenticate(
        const std::string& token,
        std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

    bool required() const { return !m_admin_token.empty(); }

private:
    std::string m_admin_token;
    std::string m_jwt_secret;
};

// User names become directory names and log fields: 1-64 of [A-Za-z0-9._@-], not starting
// with a dot, and not "admin".
bool valid_user_name(const std::string& name);

} // namespace cellbox::gateway
