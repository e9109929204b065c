#pragma once

#include "protocol/kernel_message.hpp"

#include <string>
#include <string_view>

namespace cellbox::gateway
{

// The two WebSocket framings of jupyter_server's /api/kernels/{id}/channels
// (../shared/reference/jupyter-protocol.md §2.2, §2.3). Decoders throw protocol_error on any
// malformed frame: wrong counts, offsets outside the frame or out of order, bad JSON.

// v1.kernel.websocket.jupyter.org: one binary frame, little-endian 64-bit offset table.
std::string encode_v1(const kernel_message& message);
kernel_message decode_v1(std::string_view frame);

// Legacy: a JSON text frame, or (with buffers) a binary frame with a big-endian 32-bit offset
// table in front of the JSON. `binary` tells which one a frame is / must be.
struct legacy_frame
{
    std::string data;
    bool binary = false;
};
legacy_frame encode_legacy(const kernel_message& message);
kernel_message decode_legacy(std::string_view frame, bool binary);

} // namespace cellbox::gateway
