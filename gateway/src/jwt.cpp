#include "cellbox/gateway/jwt.hpp"

#include "cellbox/bounded_json.hpp"

#include <array>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace cellbox::gateway
{
namespace
{

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hmac_sha256(std::string_view key, std::string_view data)
{
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(),
             &length) == nullptr)
    {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    return std::string(reinterpret_cast<const char*>(digest.data()), length);
}

nlohmann::json decode_part(std::string_view part, const char* what)
{
    // The header is read before the signature is checked: anyone can send a deep one.
    const std::string text = base64url_decode(part);
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
    const std::string signing_input =
        base64url_encode(nlohmann::json{{"alg", "HS256"}, {"typ", "JWT"}}.dump()) + "." +
        base64url_encode(claims.dump());
    return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

nlohmann::json verify_jwt(std::string_view token, std::string_view secret,
                          std::chrono::system_clock::time_point now, std::chrono::seconds leeway)
{
    const auto first = token.find('.');
    const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
    if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos)
    {
        throw jwt_error("the token is not a JWT (header.payload.signature)");
    }
    const nlohmann::json header = decode_part(token.substr(0, first), "header");
    // find(), not value(): value() throws a type_error when "alg" is not a string.
    const auto alg = header.find("alg");
    if (alg == header.end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256")
    {
        throw jwt_error("the token must be signed with HS256");
    }
    const std::string expected = hmac_sha256(secret, token.substr(0, second));
    const std::string signature = base64url_decode(token.substr(second + 1));
    if (signature.size() != expected.size() ||
        CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0)
    {
        throw jwt_error("the token's signature is invalid");
    }
    nlohmann::json claims = decode_part(token.substr(first + 1, second - first - 1), "payload");
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
