#include "protocol/websocket_framing.hpp"

#include "protocol/message_fields.hpp"
#include "protocol/spliced_frame.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace cellbox::gateway
{
namespace
{

using json = nlohmann::json;

// Largest number of parts a frame may announce: a sanity bound, far above real messages.
constexpr std::uint64_t max_parts = 4096;

template <class Int> Int read_int(std::string_view bytes, std::size_t pos, bool little_endian)
{
    Int value = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i)
    {
        const auto byte = static_cast<unsigned char>(bytes[pos + i]);
        const std::size_t shift = little_endian ? 8 * i : 8 * (sizeof(Int) - 1 - i);
        value |= static_cast<Int>(byte) << shift;
    }
    return value;
}

// Reads the offset table and checks it: offsets start right after the table, never go
// backwards and stay inside the frame.
template <class Int>
std::vector<std::size_t> read_offsets(std::string_view frame, bool little_endian,
                                      std::uint64_t min_count, const char* what)
{
    if (frame.size() < sizeof(Int))
    {
        throw protocol_error(std::string(what) + " frame too short for its offset count");
    }
    const std::uint64_t count = read_int<Int>(frame, 0, little_endian);
    if (count < min_count || count > max_parts || frame.size() < sizeof(Int) * (count + 1))
    {
        throw protocol_error(std::string(what) + " frame announces " + std::to_string(count) +
                             " offsets, which do not fit");
    }
    std::vector<std::size_t> offsets;
    for (std::uint64_t i = 0; i < count; ++i)
    {
        const std::uint64_t offset = read_int<Int>(frame, sizeof(Int) * (i + 1), little_endian);
        const std::uint64_t floor = i == 0 ? sizeof(Int) * (count + 1) : offsets.back();
        if (offset < floor || offset > frame.size() || (i == 0 && offset != floor))
        {
            throw protocol_error(std::string(what) + " frame has offset " + std::to_string(i) +
                                 " out of range");
        }
        offsets.push_back(static_cast<std::size_t>(offset));
    }
    return offsets;
}

} // namespace

std::string encode_v1(const kernel_message& message)
{
    return spliced_frame::v1(message).flatten();
}

kernel_message decode_v1(std::string_view frame)
{
    // channel + four dicts: at least 6 offsets.
    const auto offsets = read_offsets<std::uint64_t>(frame, true, 6, "v1");
    if (offsets.back() != frame.size())
    {
        throw protocol_error("v1 frame's last offset is not its length");
    }
    const auto part = [&](std::size_t i)
    { return std::string(frame.substr(offsets[i], offsets[i + 1] - offsets[i])); };
    kernel_message message;
    message.channel = part(0);
    message.header = part(1);
    message.parent_header = part(2);
    message.metadata = part(3);
    message.content = part(4);
    // Relayed as they came, but parsed on the way (metadata of an execute_request is rewritten)
    // and by the kernel: refused here when nested too deep.
    check_json_depth(message.header, "v1 header");
    check_json_depth(message.parent_header, "v1 parent_header");
    check_json_depth(message.metadata, "v1 metadata");
    check_json_depth(message.content, "v1 content");
    // Relayed as they came, but parsed on the way (metadata of an execute_request is rewritten)
    // and by the kernel: refused here when nested too deep.
    check_json_depth(message.header, "v1 header");
    check_json_depth(message.parent_header, "v1 parent_header");
    check_json_depth(message.metadata, "v1 metadata");
    check_json_depth(message.content, "v1 content");
    for (std::size_t i = 5; i + 1 < offsets.size(); ++i)
    {
        message.buffers.push_back(part(i));
    }
    return message;
}

legacy_frame encode_legacy(const kernel_message& message)
{
    const spliced_frame frame = spliced_frame::legacy(message);
    return {frame.flatten(), frame.binary()};
}

kernel_message decode_legacy(std::string_view frame, bool binary)
{
    std::string_view text = frame;
    std::vector<std::string> buffers;
    if (binary)
    {
        const auto offsets = read_offsets<std::uint32_t>(frame, false, 1, "legacy binary");
        for (std::size_t i = 0; i < offsets.size(); ++i)
        {
            const std::size_t end = i + 1 < offsets.size() ? offsets[i + 1] : frame.size();
            if (i == 0)
            {
                text = frame.substr(offsets[0], end - offsets[0]);
            }
            else
            {
                buffers.emplace_back(frame.substr(offsets[i], end - offsets[i]));
            }
        }
    }
    // Checked for depth before anything parses it: the parts below are re-serialised (a
    // recursive walk), and the kernel would walk them again.
    const json doc = parse_object_part(text, "message");
    kernel_message message;
    const auto channel = doc.find("channel");
    if (channel != doc.end() && !channel->is_string())
    {
        throw protocol_error("channel must be a string");
    }
    message.channel = channel != doc.end() ? channel->get<std::string>() : "shell";
    const auto part = [&doc](const char* key)
    {
        const auto it = doc.find(key);
        if (it == doc.end() || it->is_null())
        {
            return std::string("{}");
        }
        if (!it->is_object())
        {
            throw protocol_error(std::string(key) + " must be a JSON object");
        }
        return it->dump();
    };
    if (!doc.contains("header") || !doc["header"].is_object())
    {
        throw protocol_error("message without a header object");
    }
    message.header = part("header");
    message.parent_header = part("parent_header");
    message.metadata = part("metadata");
    message.content = part("content");
    message.buffers = std::move(buffers);
    return message;
}

} // namespace cellbox::gateway
