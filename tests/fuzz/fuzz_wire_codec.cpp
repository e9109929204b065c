// A kernel's ZeroMQ message, as kernel_io receives it: decode_wire, then what the gateway does
// with a kernel's message (describe it for routing, frame it for v1 and legacy clients). A
// kernel runs the tenant's code and holds the key, so the target signs what it sends.
//
// Input: one flags byte, then the frames separated by NUL bytes. Flag 1: replace the frame
// after "<IDS|MSG>" by the correct signature under the key "fuzz" (else the message is unsigned
// and checked under an empty key).
#include "fuzz_support.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/websocket_framing.hpp"
#include "protocol/wire_codec.hpp"

#include <algorithm>

using namespace cellbox::gateway;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
    {
        return 0;
    }
    const bool keyed = (data[0] & 1) != 0;
    const message_signer signer(keyed ? "fuzz" : "");
    std::vector<std::string> frames =
        cellbox::fuzz::split_fields(cellbox::fuzz::text_of(data + 1, size - 1));
    const auto marker = std::find(frames.begin(), frames.end(), "<IDS|MSG>");
    if (keyed && frames.end() - marker >= 6)
    {
        const kernel_message unsigned_message{"iopub",   marker[2], marker[3],
                                              marker[4], marker[5], {}};
        marker[1] = signer.sign(unsigned_message);
    }
    kernel_message message;
    std::vector<std::string> identities;
    try
    {
        message = decode_wire(frames, "iopub", signer, &identities);
    }
    catch (const protocol_error&)
    {
        return 0;
    }
    require(encode_wire(message, identities, signer) == frames, "a decoded message re-encodes");
    const message_info info = describe(message);
    (void)info;
    require(decode_v1(encode_v1(message)).content == message.content, "v1 relays it unchanged");
    try
    {
        const legacy_frame legacy = encode_legacy(message);
        const kernel_message back = decode_legacy(legacy.data, legacy.binary);
        require(back.buffers == message.buffers, "legacy framing keeps the buffers");
    }
    catch (const protocol_error&)
    {
        // Parts that are not JSON objects cannot be framed for a legacy client: dropped.
    }
    return 0;
}
