#include "protocol/wire_codec.hpp"

#include "protocol/message_fields.hpp"

#include <algorithm>

namespace cellbox::gateway
{
namespace
{
constexpr const char* delimiter = "<IDS|MSG>";
}

std::vector<std::string> encode_wire(const kernel_message& message,
                                     const std::vector<std::string>& identities,
                                     const message_signer& signer)
{
    std::vector<std::string> frames(identities);
    frames.reserve(identities.size() + 6 + message.buffers.size());
    frames.emplace_back(delimiter);
    frames.push_back(signer.sign(message));
    frames.push_back(message.header);
    frames.push_back(message.parent_header);
    frames.push_back(message.metadata);
    frames.push_back(message.content);
    frames.insert(frames.end(), message.buffers.begin(), message.buffers.end());
    return frames;
}

kernel_message decode_wire(const std::vector<std::string>& frames, const std::string& channel,
                           const message_signer& signer, std::vector<std::string>* identities)
{
    const auto marker = std::find(frames.begin(), frames.end(), delimiter);
    if (marker == frames.end())
    {
        throw protocol_error("message without the <IDS|MSG> delimiter");
    }
    if (frames.end() - marker < 6)
    {
        throw protocol_error("message with fewer than the five parts after the delimiter");
    }
    if (identities != nullptr)
    {
        identities->assign(frames.begin(), marker);
    }
    kernel_message message;
    message.channel = channel;
    message.header = marker[2];
    message.parent_header = marker[3];
    message.metadata = marker[4];
    message.content = marker[5];
    message.buffers.assign(marker + 6, frames.end());
    if (!signer.verify(message, marker[1]))
    {
        throw protocol_error("message with an invalid signature");
    }
    // A kernel runs the tenant's code and knows the key: its messages are as hostile as a
    // client's. Every part is parsed later (routing, the legacy framing, the clients).
    check_json_depth(message.header, "header");
    check_json_depth(message.parent_header, "parent_header");
    check_json_depth(message.metadata, "metadata");
    check_json_depth(message.content, "content");
    return message;
}

} // namespace cellbox::gateway
