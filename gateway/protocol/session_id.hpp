#pragma once
// A client's session id: the `session_id` query parameter of /api/kernels/{id}/channels. It
// becomes the ZeroMQ routing id of the gateway's sockets to the kernel for that session, and
// ZeroMQ refuses 0 or more than 255 bytes, or a first byte of zero; a refused routing id would
// take the kernel's I/O down with it. Jupyter clients send a UUID (32 hex digits, or 36 with
// dashes), so the gateway accepts 1 to max_session_id_length printable ASCII characters
// without spaces, and answers 400 to anything else.
#include <cstddef>
#include <string_view>

namespace cellbox::gateway
{

constexpr std::size_t max_session_id_length = 128;

bool valid_session_id(std::string_view id);

} // namespace cellbox::gateway
