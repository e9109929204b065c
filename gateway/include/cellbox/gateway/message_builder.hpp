#pragma once

#include "cellbox/gateway/kernel_message.hpp"

#include <nlohmann/json.hpp>
#include <string>

namespace cellbox::gateway
{

// A message the gateway itself sends to a kernel (e.g. the kernel_info nudge on connect).
kernel_message make_request(const std::string& channel, const std::string& msg_type,
                            const nlohmann::json& content, const std::string& session);

// A stream message on stderr from the gateway itself (output limit and rate limit notices),
// answering `parent_header` (raw JSON) so clients show it under that cell.
kernel_message make_stderr_notice(const std::string& parent_header, const std::string& text);

// Current UTC time as the protocol writes it: 2026-11-22T10:58:27.123456Z (always 6 digits,
// which jupyter_server's gateway client requires).
std::string iso8601_now();

} // namespace cellbox::gateway
