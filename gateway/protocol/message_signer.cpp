#include "protocol/message_signer.hpp"

#include <array>
#include <memory>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

namespace cellbox::gateway
{
namespace
{

std::string to_hex(const unsigned char* bytes, std::size_t size)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i)
    {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 0xF];
    }
    return hex;
}

struct mac_ctx_deleter
{
    void operator()(const EVP_MAC_CTX* ctx) const
    {
        EVP_MAC_CTX_free(const_cast<EVP_MAC_CTX*>(ctx));
    }
};
struct mac_deleter
{
    void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};

// The HMAC-SHA256 context keyed with `key`.
std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> keyed_hmac(std::string_view key)
{
    static const std::unique_ptr<EVP_MAC, mac_deleter> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> ctx(mac ? EVP_MAC_CTX_new(mac.get()) : nullptr);
    if (!ctx)
    {
        throw std::runtime_error("OpenSSL HMAC is not available");
    }
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
                                 OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                     params) != 1)
    {
        throw std::runtime_error("HMAC initialisation failed");
    }
    return ctx;
}

std::string hmac_parts(const EVP_MAC_CTX* keyed, std::initializer_list<std::string_view> parts)
{
    // EVP_MAC_CTX_dup takes a non-const pointer but only reads its source.
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> ctx(
        EVP_MAC_CTX_dup(const_cast<EVP_MAC_CTX*>(keyed)));
    if (!ctx)
    {
        throw std::runtime_error("HMAC context copy failed");
    }
    for (std::string_view part : parts)
    {
        EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()), part.size());
    }
    std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
    std::size_t length = 0;
    EVP_MAC_final(ctx.get(), out.data(), &length, out.size());
    return to_hex(out.data(), length);
}

} // namespace

message_signer::message_signer(std::string key)
{
    if (!key.empty())
    {
        m_keyed = std::shared_ptr<const EVP_MAC_CTX>(keyed_hmac(key).release(), mac_ctx_deleter{});
    }
}

std::string message_signer::sign(const kernel_message& message) const
{
    if (!m_keyed)
    {
        return "";
    }
    return hmac_parts(m_keyed.get(),
                      {message.header, message.parent_header, message.metadata, message.content});
}

bool message_signer::verify(const kernel_message& message, std::string_view signature) const
{
    const std::string expected = sign(message);
    return expected.size() == signature.size() &&
           CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
}

std::string message_signer::hmac_sha256_hex(std::string_view key, std::string_view data)
{
    return hmac_parts(keyed_hmac(key).get(), {data});
}

} // namespace cellbox::gateway
