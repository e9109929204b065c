#pragma once

#include "protocol/kernel_message.hpp"

#include <string>
#include <string_view>

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
    std::string m_key;
};

} // namespace cellbox::gateway
