// A client's frame on the legacy framing (JSON text, or binary with buffers), as
// websocket_session::on_read takes it: decode_legacy, check_client_message; then the other
// direction, encode_legacy, as the gateway frames a kernel's message for a legacy client.
#include "fuzz_support.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/websocket_framing.hpp"

using namespace cellbox::gateway;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
    {
        return 0;
    }
    const bool binary = (data[0] & 1) != 0; // which kind of WebSocket frame it came in
    const std::string_view frame = cellbox::fuzz::text_of(data + 1, size - 1);
    kernel_message message;
    try
    {
        message = decode_legacy(frame, binary);
        check_client_message(message);
    }
    catch (const protocol_error&)
    {
        return 0;
    }
    // Framed back for a legacy client, it decodes to the same message.
    legacy_frame out;
    try
    {
        out = encode_legacy(message);
    }
    catch (const protocol_error&)
    {
        require(false, "a checked message can be framed for a legacy client");
    }
    const kernel_message back = decode_legacy(out.data, out.binary);
    require(back.channel == message.channel, "the channel survives");
    require(nlohmann::json::parse(back.header) == nlohmann::json::parse(message.header),
            "the header survives");
    require(nlohmann::json::parse(back.content) == nlohmann::json::parse(message.content),
            "the content survives");
    require(back.buffers == message.buffers, "the buffers survive");
    return 0;
}
