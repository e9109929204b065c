#include "auth/identity.hpp"

#include "auth/jwt.hpp"
#include "cellbox/byte_size.hpp"

#include <cmath>
#include <openssl/crypto.h>
#include <regex>

namespace cellbox::gateway
{
namespace
{

const std::string admin_user = "admin";

user_limits parse_limits(const nlohmann::json& claims)
{
    user_limits limits;
    const auto field = claims.find("limits");
    if (field == claims.end() || field->is_null())
    {
        return limits;
    }
    if (!field->is_object())
    {
        throw jwt_error("the token's limits must be an object");
    }
    for (const auto& [key, value] : field->items())
    {
        if (key == "kernels" && value.is_number_integer() && value.get<int>() >= 0)
        {
            limits.kernels = value.get<int>();
        }
        else if (key == "cell_timeout" && value.is_number() && value.get<double>() > 0 &&
                 std::isfinite(value.get<double>()))
        {
            limits.cell_timeout_s = value.get<double>();
        }
        else if ((key == "memory" || key == "disk") && value.is_number_unsigned() &&
                 value.get<std::uint64_t>() > 0)
        {
            (key == "memory" ? limits.memory_bytes : limits.disk_bytes) =
                value.get<std::uint64_t>();
        }
        else if ((key == "memory" || key == "disk") && value.is_string())
        {
            try
            {
                (key == "memory" ? limits.memory_bytes : limits.disk_bytes) =
                    parse_byte_size(value.get<std::string>());
            }
            catch (const std::invalid_argument& e)
            {
                throw jwt_error("the token's limits." + key + ": " + e.what());
            }
        }
        else
        {
            throw jwt_error("the token's limits." + key +
                            " is unknown or invalid (kernels: integer >= 0, cell_timeout: "
                            "seconds > 0, memory and disk: bytes or \"512M\")");
        }
    }
    return limits;
}

} // namespace

bool valid_user_name(const std::string& name)
{
    static const std::regex pattern(R"([A-Za-z0-9_@-][A-Za-z0-9._@-]{0,63})");
    return name != admin_user && std::regex_match(name, pattern);
}

authenticator::authenticator(std::string admin_token, std::string jwt_secret)
    : m_admin_token(std::move(admin_token)), m_jwt_secret(std::move(jwt_secret))
{
    if (m_jwt_secret.empty())
    {
        m_jwt_secret = m_admin_token;
    }
}

std::variant<identity, auth_failure>
authenticator::authenticate(const std::string& token,
                            std::chrono::system_clock::time_point now) const
{
    if (m_admin_token.empty())
    {
        return identity{admin_user, true, {}};
    }
    if (token.empty())
    {
        return auth_failure{401, "authentication required: send the token in an "
                                 "'Authorization: token ...' header or a ?token= parameter"};
    }
    if (token.size() == m_admin_token.size() &&
        CRYPTO_memcmp(token.data(), m_admin_token.data(), token.size()) == 0)
    {
        return identity{admin_user, true, {}};
    }
    if (token.find('.') == std::string::npos)
    {
        return auth_failure{403, "invalid token"};
    }
    try
    {
        const nlohmann::json claims = verify_jwt(token, m_jwt_secret, now);
        const auto sub = claims.find("sub");
        if (sub == claims.end() || !sub->is_string() || !valid_user_name(sub->get<std::string>()))
        {
            return auth_failure{403, "the token's sub must name a user: 1-64 of A-Z a-z 0-9 . _ @ "
                                     "- (and not \"admin\")"};
        }
        return identity{sub->get<std::string>(), false, parse_limits(claims)};
    }
    catch (const jwt_error& e)
    {
        return auth_failure{403, e.what()};
    }
}

} // namespace cellbox::gateway
