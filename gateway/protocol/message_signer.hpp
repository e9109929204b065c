#pragma once

#include "protocol/kernel_message.hpp"

#include <memory>
#include <string>
#include <string_view>

struct evp_mac_ctx_st;

namespace cellbox::gateway
{

// HMAC-SHA256 over header, parent_header, metadata and content, as hex: the signature of the
// Jupyter wire protocol. An empty key means unsigned messages (signature "").
class message_signer
{
public:
    explicit message_signer(std::string key);

    std::string sign(const kernel_message& message) const;
    // Constant-time comparison.
    bool verify(const kernel_message& message, std::string_view signature) const;

    static std::string hmac_sha256_hex(std::string_view key, std::string_view data);

private:
    // The HMAC keyed once (the key schedule, and OpenSSL 3's method fetch, are most of the
    // cost of signing a small message); each signature works on a copy of it. Shared between
    // copies of the signer and read-only after construction, so threads may sign at once.
    std::shared_ptr<const evp_mac_ctx_st> m_keyed;
};

} // namespace cellbox::gateway
