// A client's binary frame on the v1.kernel.websocket.jupyter.org protocol, as
// websocket_session::on_read takes it: decode_v1, then check_client_message.
#include "fuzz_support.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/websocket_framing.hpp"

using namespace cellbox::gateway;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view frame = cellbox::fuzz::text_of(data, size);
    kernel_message message;
    try
    {
        message = decode_v1(frame);
    }
    catch (const protocol_error&)
    {
        return 0;
    }
    // A decoded frame re-encodes to the same bytes: the gateway relays parts unchanged.
    require(encode_v1(message) == frame, "decode_v1 then encode_v1 gives the frame back");
    try
    {
        check_client_message(message);
    }
    catch (const protocol_error&)
    {
        return 0;
    }
    // What passed the checks is what the gateway hands the kernel and its own routing.
    const message_info info = describe(message);
    require(!string_field(nlohmann::json::parse(message.header), "msg_id").empty(),
            "a checked message has a msg_id");
    (void)info;
    return 0;
}
