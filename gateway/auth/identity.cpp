#include "auth/identity.hpp"

#include "auth/jwt.hpp"
#include "cellbox/byte_size.hpp"

#include <algorithm>
#include <boost/regex.hpp>
#include <cctype>
#include <cmath>
#include <openssl/crypto.h>

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

// "https://app.example" or "http://localhost:3000": a scheme, a host, maybe a port, nothing
// else (browsers send exactly this form in Origin).
bool valid_origin(const std::string& origin)
{
    static const boost::regex pattern(R"(https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)");
    return origin.size() <= 256 && boost::regex_match(origin, pattern);
}

std::vector<std::string> parse_origins(const nlohmann::json& claims)
{
    std::vector<std::string> origins;
    const auto field = claims.find("origins");
    if (field == claims.end() || field->is_null())
    {
        return origins;
    }
    if (!field->is_array() || field->empty() || field->size() > 64)
    {
        throw jwt_error("the token's origins must be a list of 1 to 64 origins");
    }
    for (const auto& origin : *field)
    {
        if (!origin.is_string() || !valid_origin(origin.get<std::string>()))
        {
            throw jwt_error("the token's origins must be origins like https://app.example "
                            "(scheme, host and port only)");
        }
        std::string lower = origin.get<std::string>();
        std::transform(lower.begin(), lower.end(), lower.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        origins.push_back(std::move(lower));
    }
    return origins;
}

// "aud" may be one string or a list of them (RFC 7519 section 4.1.3).
bool audience_includes(const nlohmann::json& claims, const std::string& audience)
{
    const auto aud = claims.find("aud");
    if (aud == claims.end())
    {
        return false;
    }
    if (aud->is_string())
    {
        return aud->get<std::string>() == audience;
    }
    return aud->is_array() &&
           std::any_of(aud->begin(), aud->end(),
                       [&](const nlohmann::json& a)
                       { return a.is_string() && a.get<std::string>() == audience; });
}

} // namespace

bool origin_allowed(const identity& who, std::string_view origin)
{
    if (who.origins.empty())
    {
        return true;
    }
    std::string lower(origin);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return std::find(who.origins.begin(), who.origins.end(), lower) != who.origins.end();
}

bool valid_user_name(const std::string& name)
{
    static const boost::regex pattern(R"([A-Za-z0-9_@-][A-Za-z0-9._@-]{0,63})");
    return name != admin_user && boost::regex_match(name, pattern);
}

authenticator::authenticator(std::string admin_token, std::string jwt_secret, jwt_options options)
    : m_admin_token(std::move(admin_token)), m_jwt_secret(std::move(jwt_secret)),
      m_options(std::move(options))
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
        return identity{admin_user, true, {}, {}};
    }
    if (token.empty())
    {
        return auth_failure{401, "authentication required: send the token in an "
                                 "'Authorization: token ...' header or a ?token= parameter"};
    }
    if (token.size() == m_admin_token.size() &&
        CRYPTO_memcmp(token.data(), m_admin_token.data(), token.size()) == 0)
    {
        return identity{admin_user, true, {}, {}};
    }
    if (token.find('.') == std::string::npos)
    {
        return auth_failure{403, "invalid token"};
    }
    try
    {
        // Held for the call: a SIGHUP reload may swap the keys meanwhile.
        const auto public_keys = m_options.public_keys ? m_options.public_keys->keys() : nullptr;
        const nlohmann::json claims =
            verify_jwt(token, jwt_verification_keys{m_jwt_secret, public_keys.get()}, now);
        if (!m_options.audience.empty() && !audience_includes(claims, m_options.audience))
        {
            return auth_failure{403, "the token's audience (aud) is not this server's"};
        }
        const auto iss = claims.find("iss");
        if (!m_options.issuer.empty() && (iss == claims.end() || !iss->is_string() ||
                                          iss->get<std::string>() != m_options.issuer))
        {
            return auth_failure{403, "the token's issuer (iss) is not the one this server trusts"};
        }
        const auto sub = claims.find("sub");
        if (sub == claims.end() || !sub->is_string() || !valid_user_name(sub->get<std::string>()))
        {
            return auth_failure{403, "the token's sub must name a user: 1-64 of A-Z a-z 0-9 . _ @ "
                                     "- (and not \"admin\")"};
        }
        return identity{sub->get<std::string>(), false, parse_limits(claims),
                        parse_origins(claims)};
    }
    catch (const jwt_error& e)
    {
        return auth_failure{403, e.what()};
    }
}

} // namespace cellbox::gateway
