#include "auth/jwt.hpp"

#include "cellbox/bounded_json.hpp"

#include <cstdlib>
#include <jwt.h>
#include <memory>

namespace cellbox::gateway
{
namespace
{

// libjwt (Debian's libjwt 1.10, with the constant-time signature comparison of
// CVE-2024-25189's fix) checks the structure and the signature and parses the claims; this file
// adds what a gateway token needs on top: HS256 with the secret, RS256 / ES256 with public keys
// only, a mandatory expiry, nbf, clear reasons.
struct jwt_free_deleter
{
    void operator()(jwt_t* token) const { jwt_free(token); }
};
using jwt_handle = std::unique_ptr<jwt_t, jwt_free_deleter>;

struct c_free_deleter
{
    void operator()(char* text) const { std::free(text); }
};
using c_string = std::unique_ptr<char, c_free_deleter>;

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

nlohmann::json object_or_throw(const std::string& text, const char* what)
{
    // The header is read before the signature is checked: anyone can send a deep one.
    if (!json_depth_within(text))
    {
        throw jwt_error(std::string("the token's ") + what + " nests JSON deeper than " +
                        std::to_string(max_json_depth) + " levels");
    }
    auto parsed = parse_json_bounded(text);
    if (!parsed.is_object())
    {
        throw jwt_error(std::string("the token's ") + what + " is not a JSON object");
    }
    return parsed;
}

std::int64_t seconds_since_epoch(std::chrono::system_clock::time_point t)
{
    return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

const unsigned char* key_bytes(std::string_view secret)
{
    return reinterpret_cast<const unsigned char*>(secret.data());
}

} // namespace

std::string base64url_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t bits = 0;
    int count = 0;
    for (unsigned char c : bytes)
    {
        bits = (bits << 8) | c;
        count += 8;
        while (count >= 6)
        {
            count -= 6;
            out.push_back(alphabet[(bits >> count) & 0x3f]);
        }
    }
    if (count > 0)
    {
        out.push_back(alphabet[(bits << (6 - count)) & 0x3f]);
    }
    return out;
}

std::string base64url_decode(std::string_view text)
{
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t bits = 0;
    int count = 0;
    for (char c : text)
    {
        const auto value = alphabet.find(c);
        if (value == std::string_view::npos)
        {
            throw jwt_error("the token is not base64url");
        }
        bits = (bits << 6) | static_cast<std::uint32_t>(value);
        count += 6;
        if (count >= 8)
        {
            count -= 8;
            out.push_back(static_cast<char>((bits >> count) & 0xff));
        }
    }
    if (count >= 6) // one character cannot hold a whole byte
    {
        throw jwt_error("the token is not base64url");
    }
    return out;
}

std::string sign_jwt(const nlohmann::json& claims, std::string_view secret)
{
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0)
    {
        throw std::runtime_error("cannot create a JWT");
    }
    const jwt_handle token(raw);
    if (jwt_set_alg(token.get(), JWT_ALG_HS256, key_bytes(secret),
                    static_cast<int>(secret.size())) != 0 ||
        jwt_add_grants_json(token.get(), claims.dump().c_str()) != 0)
    {
        throw std::runtime_error("cannot sign the token (is the secret empty?)");
    }
    const c_string encoded(jwt_encode_str(token.get()));
    if (!encoded)
    {
        throw std::runtime_error("cannot encode the token");
    }
    return encoded.get();
}

nlohmann::json verify_jwt(std::string_view token, std::string_view secret,
                          std::chrono::system_clock::time_point now, std::chrono::seconds leeway)
{
    return verify_jwt(token, jwt_verification_keys{secret, nullptr}, now, leeway);
}

namespace
{

// The decoded token if `key` (an HMAC secret or a PEM public key) verifies it with `alg`.
jwt_handle decode_with(const std::string& text, std::string_view key, jwt_alg_t alg)
{
    jwt_t* raw = nullptr;
    if (key.empty() ||
        jwt_decode(&raw, text.c_str(), key_bytes(key), static_cast<int>(key.size())) != 0)
    {
        return nullptr;
    }
    jwt_handle decoded(raw);
    return jwt_get_alg(decoded.get()) == alg ? std::move(decoded) : nullptr;
}

jwt_handle decode_with_public_keys(const std::string& text, const nlohmann::json& header,
                                   const std::string& alg, const std::vector<public_key>& keys)
{
    const auto kid = header.find("kid");
    const std::string wanted =
        kid != header.end() && kid->is_string() ? kid->get<std::string>() : std::string();
    bool named = false; // some key has the header's kid: only those are tried
    for (const auto& k : keys)
    {
        named = named || (!wanted.empty() && k.kid == wanted);
    }
    const jwt_alg_t code = alg == "RS256" ? JWT_ALG_RS256 : JWT_ALG_ES256;
    for (const auto& k : keys)
    {
        if (k.alg != alg || (named && k.kid != wanted))
        {
            continue;
        }
        if (jwt_handle decoded = decode_with(text, k.pem, code))
        {
            return decoded;
        }
    }
    return nullptr;
}

} // namespace

nlohmann::json verify_jwt(std::string_view token, const jwt_verification_keys& keys,
                          std::chrono::system_clock::time_point now, std::chrono::seconds leeway)
{
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos ||
        token.find('\0') != std::string_view::npos)
    {
        throw jwt_error("the token is not a JWT (header.payload.signature)");
    }
    // The algorithm first, from the header alone: "none" or another algorithm is refused
    // whatever the library would make of it, and the client is told why.
    const nlohmann::json header =
        object_or_throw(base64url_decode(token.substr(0, first)), "header");
    // find(), not value(): value() throws a type_error when "alg" is not a string.
    const auto alg_field = header.find("alg");
    const std::string alg = alg_field != header.end() && alg_field->is_string()
                                ? alg_field->get<std::string>()
                                : std::string();
    const bool asymmetric = alg == "RS256" || alg == "ES256";
    if (alg != "HS256" && !asymmetric)
    {
        throw jwt_error("the token must be signed with HS256, RS256 or ES256");
    }
    if (asymmetric && (keys.public_keys == nullptr || keys.public_keys->empty()))
    {
        throw jwt_error("the token must be signed with HS256 (no public keys are configured "
                        "for RS256 or ES256)");
    }
    const std::string text(token);
    // The secret only ever verifies HS256 and public keys only RS256 / ES256: a public key
    // used as an HMAC secret (algorithm confusion) verifies nothing.
    const jwt_handle decoded = asymmetric
                                   ? decode_with_public_keys(text, header, alg, *keys.public_keys)
                                   : decode_with(text, keys.secret, JWT_ALG_HS256);
    if (!decoded)
    {
        throw jwt_error("the token's signature is invalid");
    }
    const c_string grants(jwt_get_grants_json(decoded.get(), nullptr));
    nlohmann::json claims = object_or_throw(grants ? grants.get() : "", "payload");
    const auto now_s = seconds_since_epoch(now);
    const auto exp = claims.find("exp");
    if (exp == claims.end() || !exp->is_number())
    {
        throw jwt_error("the token has no expiry (exp)");
    }
    if (exp->get<double>() + static_cast<double>(leeway.count()) <= static_cast<double>(now_s))
    {
        throw jwt_error("the token has expired");
    }
    const auto nbf = claims.find("nbf");
    if (nbf != claims.end() &&
        (!nbf->is_number() ||
         nbf->get<double>() - static_cast<double>(leeway.count()) > static_cast<double>(now_s)))
    {
        throw jwt_error("the token is not valid yet (nbf)");
    }
    return claims;
}

} // namespace cellbox::gateway
