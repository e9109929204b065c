#pragma once

#include "protocol/kernel_message.hpp"
#include "protocol/message_signer.hpp"

#include <string>
#include <vector>

namespace cellbox::gateway
{

// The ZeroMQ wire form of a message:
//   [identities...] "<IDS|MSG>" signature header parent_header metadata content [buffers...]
struct wire_frames
{
    std::vector<std::string> identities;
    std::vector<std::string> frames; // from the delimiter on
};

std::vector<std::string> encode_wire(const kernel_message& message,
                                     const std::vector<std::string>& identities,
                                     const message_signer& signer);

// Throws protocol_error for a missing delimiter, missing parts, a bad signature or a part
// nested deeper than max_json_depth. The channel is not on the wire: the caller knows which
// socket the frames came from.
kernel_message decode_wire(const std::vector<std::string>& frames, const std::string& channel,
                           const message_signer& signer,
                           std::vector<std::string>* identities = nullptr);

} // namespace cellbox::gateway
