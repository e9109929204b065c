#pragma once

#include "protocol/kernel_message.hpp"

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cellbox::gateway
{

// A message the gateway itself sends to a kernel (e.g. the kernel_info nudge on connect).
kernel_message make_request(const std::string& channel, const std::string& msg_type,
                            const nlohmann::json& content, const std::string& session);

// A stream message on stderr from the gateway itself (output limit and rate limit notices),
// answering `parent_header` (raw JSON) so clients show it under that cell.
kernel_message make_stderr_notice(const std::string& parent_header, const std::string& text);

// A message from the gateway itself answering `parent_header` (a request's raw header).
kernel_message make_reply(const std::string& channel, const std::string& msg_type,
                          const std::string& parent_header, const nlohmann::json& content);

// The idle status the gateway sends in place of one its kernel lost (iopub dropped it at its
// high-water mark), answering `parent_header`; marked in its metadata as the gateway's.
kernel_message make_lost_idle_status(const std::string& parent_header);
bool is_lost_idle_status(const kernel_message& message);

// What a client gets when the gateway answers `request` itself with an error (the kernel is
// gone or cannot take it): for an execute_request the error, its execute_reply and the idle
// status; for another shell or control *_request its *_reply with status "error"; for
// anything that waits for no answer, nothing.
std::vector<kernel_message> make_error_answer(const kernel_message& request,
                                              const std::string& ename, const std::string& evalue);

// Current UTC time as the protocol writes it: 2026-11-22T10:58:27.123456Z (always 6 digits,
// which jupyter_server's gateway client requires).
std::string iso8601_now();

} // namespace cellbox::gateway
