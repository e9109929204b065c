#pragma once
// Public keys for the RS256 and ES256 tokens a SaaS backend mints with its own private key, so
// that it never holds the gateway's secret: from a PEM file (public keys or certificates) and
// from a JWKS file (RFC 7517: RSA keys by n and e, EC P-256 keys by x and y, turned into keys
// with OpenSSL). Reloaded on SIGHUP; a reload that fails keeps the keys in use.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cellbox::gateway
{

struct public_key
{
    std::string kid; // "" when the file does not name it (PEM)
    std::string alg; // "RS256" (RSA, 2048 bits or more) or "ES256" (EC P-256)
    std::string pem; // SubjectPublicKeyInfo, for libjwt
};

// Throw std::runtime_error naming the file and what is wrong with it.
std::vector<public_key> load_pem_keys(const std::string& path);
std::vector<public_key> load_jwks(const std::string& path);
// The keys of a JWKS document (keys of other types or uses are skipped).
std::vector<public_key> parse_jwks(const std::string& text);

class jwt_key_store
{
public:
    // Loads both files ("" for none); throws std::runtime_error.
    jwt_key_store(std::string pem_path, std::string jwks_path);

    std::shared_ptr<const std::vector<public_key>> keys() const;
    // Reads the files again; throws std::runtime_error and keeps the old keys if they fail.
    void reload();
    // "2 keys: RS256, ES256 (kid k1)" for the log.
    std::string describe() const;

private:
    std::vector<public_key> load() const;

    std::string m_pem_path;
    std::string m_jwks_path;
    mutable std::mutex m_mutex;
    std::shared_ptr<const std::vector<public_key>> m_keys;
};

} // namespace cellbox::gateway
