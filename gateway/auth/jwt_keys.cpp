#include "auth/jwt_keys.hpp"

#include "auth/jwt.hpp"
#include "cellbox/bounded_json.hpp"

#include <fstream>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sstream>
#include <stdexcept>

namespace cellbox::gateway
{
namespace
{

template <typename T, void (*Free)(T*)> struct openssl_deleter
{
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BIGNUM, BN_free>>;
using param_bld_ptr =
    std::unique_ptr<OSSL_PARAM_BLD, openssl_deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, openssl_deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using pkey_ctx_ptr =
    std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

std::string read_file(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
    {
        throw std::runtime_error("cannot read " + path);
    }
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The algorithm a key verifies, or a reason it cannot be used.
std::string algorithm_of(EVP_PKEY* key)
{
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA)
    {
        if (EVP_PKEY_get_bits(key) < 2048)
        {
            throw std::runtime_error("an RSA key of fewer than 2048 bits");
        }
        return "RS256";
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC)
    {
        char group[64] = {};
        std::size_t length = 0;
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &length) != 1 ||
            std::string(group) != "prime256v1")
        {
            throw std::runtime_error("an EC key not on P-256 (ES256 needs prime256v1)");
        }
        return "ES256";
    }
    throw std::runtime_error("a key that is neither RSA nor EC P-256");
}

std::string pem_of(EVP_PKEY* key)
{
    const bio_ptr out(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_PUBKEY(out.get(), key) != 1)
    {
        throw std::runtime_error("cannot write a public key");
    }
    char* data = nullptr;
    const long size = BIO_get_mem_data(out.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
}

public_key key_of(EVP_PKEY* key, std::string kid)
{
    return {std::move(kid), algorithm_of(key), pem_of(key)};
}

// A JWK's string member, or `fallback` when absent; a member of another type is an error
// (value() would throw a type_error that is not the runtime_error callers expect).
std::string string_field(const nlohmann::json& jwk, const char* field, std::string fallback = "")
{
    const auto value = jwk.find(field);
    if (value == jwk.end())
    {
        return fallback;
    }
    if (!value->is_string())
    {
        throw std::runtime_error(std::string("a JWK whose \"") + field + "\" is not a string");
    }
    return value->get<std::string>();
}

bn_ptr big_number(const nlohmann::json& jwk, const char* field)
{
    const auto value = jwk.find(field);
    if (value == jwk.end() || !value->is_string())
    {
        throw std::runtime_error(std::string("a JWK without \"") + field + "\"");
    }
    const std::string bytes = base64url_decode(value->get<std::string>());
    return bn_ptr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                            static_cast<int>(bytes.size()), nullptr));
}

std::string coordinate(const nlohmann::json& jwk, const char* field)
{
    const auto value = jwk.find(field);
    if (value == jwk.end() || !value->is_string())
    {
        throw std::runtime_error(std::string("a JWK without \"") + field + "\"");
    }
    std::string bytes = base64url_decode(value->get<std::string>());
    // RFC 7518 asks for the full 32 bytes, but widely used minting libraries (PyJWT before
    // 2.8) write the coordinate as a minimal integer, without its leading zero bytes: one key
    // in 128 would be refused at random. The integer is the same once padded back; OpenSSL
    // still refuses a point that is not on the curve.
    if (bytes.empty() || bytes.size() > 32)
    {
        throw std::runtime_error(std::string("a P-256 JWK whose ") + field +
                                 " is not 1 to 32 bytes");
    }
    return std::string(32 - bytes.size(), '\0') + bytes;
}

pkey_ptr from_params(const char* type, OSSL_PARAM_BLD* builder)
{
    const params_ptr params(OSSL_PARAM_BLD_to_param(builder));
    const pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* key = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    {
        throw std::runtime_error(std::string("OpenSSL refused a ") + type + " JWK");
    }
    return pkey_ptr(key);
}

// An RSA or EC P-256 JWK as an OpenSSL key (RFC 7518 section 6).
pkey_ptr jwk_key(const nlohmann::json& jwk)
{
    const std::string kty = string_field(jwk, "kty");
    const param_bld_ptr builder(OSSL_PARAM_BLD_new());
    if (kty == "RSA")
    {
        const bn_ptr n = big_number(jwk, "n");
        const bn_ptr e = big_number(jwk, "e");
        if (!n || !e ||
            OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1)
        {
            throw std::runtime_error("an RSA JWK OpenSSL cannot read");
        }
        return from_params("RSA", builder.get());
    }
    if (string_field(jwk, "crv") != "P-256")
    {
        throw std::runtime_error("an EC JWK not on P-256");
    }
    const std::string point = "\x04" + coordinate(jwk, "x") + coordinate(jwk, "y");
    if (OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1",
                                        0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                         point.size()) != 1)
    {
        throw std::runtime_error("an EC JWK OpenSSL cannot read");
    }
    return from_params("EC", builder.get());
}

} // namespace

std::vector<public_key> load_pem_keys(const std::string& path)
{
    const std::string text = read_file(path);
    const bio_ptr in(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    std::vector<public_key> keys;
    while (true)
    {
        char* name = nullptr;
        char* header = nullptr;
        unsigned char* data = nullptr;
        long length = 0;
        if (PEM_read_bio(in.get(), &name, &header, &data, &length) != 1)
        {
            break;
        }
        const std::string kind = name;
        const unsigned char* cursor = data;
        pkey_ptr key;
        if (kind == "PUBLIC KEY")
        {
            key.reset(d2i_PUBKEY(nullptr, &cursor, length));
        }
        else if (kind == "CERTIFICATE")
        {
            const x509_ptr certificate(d2i_X509(nullptr, &cursor, length));
            key.reset(certificate ? X509_get_pubkey(certificate.get()) : nullptr);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        if (!key)
        {
            throw std::runtime_error(path + ": a \"" + kind +
                                     "\" block is not a public key or certificate");
        }
        try
        {
            keys.push_back(key_of(key.get(), ""));
        }
        catch (const std::runtime_error& e)
        {
            throw std::runtime_error(path + ": " + e.what());
        }
    }
    if (keys.empty())
    {
        throw std::runtime_error(path + ": no PEM public key or certificate in it");
    }
    return keys;
}

std::vector<public_key> parse_jwks(const std::string& text)
{
    const nlohmann::json document = parse_json_bounded(text);
    const auto listed = document.is_object() ? document.find("keys") : document.end();
    if (!document.is_object() || listed == document.end() || !listed->is_array())
    {
        throw std::runtime_error("not a JWKS document ({\"keys\": [...]})");
    }
    std::vector<public_key> keys;
    for (const auto& jwk : *listed)
    {
        if (!jwk.is_object())
        {
            throw std::runtime_error("a JWK that is not a JSON object");
        }
        const std::string kty = string_field(jwk, "kty");
        if (string_field(jwk, "use", "sig") != "sig" || (kty != "RSA" && kty != "EC"))
        {
            continue; // encryption keys, symmetric keys: not ours to use
        }
        const pkey_ptr key = jwk_key(jwk);
        public_key k = key_of(key.get(), string_field(jwk, "kid"));
        const std::string alg = string_field(jwk, "alg", k.alg);
        if (alg != k.alg)
        {
            throw std::runtime_error("a JWK whose alg " + alg + " does not fit its key (" + k.alg +
                                     ")");
        }
        keys.push_back(std::move(k));
    }
    if (keys.empty())
    {
        throw std::runtime_error("no RSA or EC P-256 signing key in it");
    }
    return keys;
}

std::vector<public_key> load_jwks(const std::string& path)
{
    try
    {
        return parse_jwks(read_file(path));
    }
    catch (const jwt_error& e)
    {
        throw std::runtime_error(path + ": " + e.what());
    }
    catch (const std::runtime_error& e)
    {
        const std::string message = e.what();
        throw std::runtime_error(message.rfind(path, 0) == 0 ? message : path + ": " + message);
    }
}

jwt_key_store::jwt_key_store(std::string pem_path, std::string jwks_path)
    : m_pem_path(std::move(pem_path)), m_jwks_path(std::move(jwks_path)),
      m_keys(std::make_shared<const std::vector<public_key>>(load()))
{
}

std::vector<public_key> jwt_key_store::load() const
{
    std::vector<public_key> keys;
    if (!m_pem_path.empty())
    {
        keys = load_pem_keys(m_pem_path);
    }
    if (!m_jwks_path.empty())
    {
        for (auto& k : load_jwks(m_jwks_path))
        {
            keys.push_back(std::move(k));
        }
    }
    return keys;
}

std::shared_ptr<const std::vector<public_key>> jwt_key_store::keys() const
{
    const std::lock_guard<std::mutex> lock(m_mutex);
    return m_keys;
}

void jwt_key_store::reload()
{
    auto fresh = std::make_shared<const std::vector<public_key>>(load());
    const std::lock_guard<std::mutex> lock(m_mutex);
    m_keys = std::move(fresh);
}

std::string jwt_key_store::describe() const
{
    const auto keys = this->keys();
    std::string text = std::to_string(keys->size()) + (keys->size() == 1 ? " key:" : " keys:");
    for (const auto& k : *keys)
    {
        text += " " + k.alg + (k.kid.empty() ? "" : " (kid " + k.kid + ")");
    }
    return text;
}

} // namespace cellbox::gateway
