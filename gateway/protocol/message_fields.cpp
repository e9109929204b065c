#include "protocol/message_fields.hpp"

#include "cellbox/bounded_json.hpp"

namespace cellbox::gateway
{

std::string string_field(const nlohmann::json& object, const char* key)
{
    if (!object.is_object())
    {
        return {};
    }
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void check_json_depth(std::string_view text, const std::string& what)
{
    if (!json_depth_within(text))
    {
        throw protocol_error(what + " nests JSON deeper than " + std::to_string(max_json_depth) +
                             " levels");
    }
}

nlohmann::json parse_object_part(std::string_view text, const std::string& what)
{
    check_json_depth(text, what);
    nlohmann::json value = parse_json_bounded(text);
    if (!value.is_object())
    {
        throw protocol_error(what + " is not a JSON object");
    }
    return value;
}

std::size_t message_bytes(const kernel_message& message)
{
    std::size_t bytes = message.header.size() + message.parent_header.size() +
                        message.metadata.size() + message.content.size();
    for (const auto& buffer : message.buffers)
    {
        bytes += buffer.size();
    }
    return bytes;
}

message_info describe(const kernel_message& message)
{
    message_info info;
    info.msg_type = string_field(parse_json_bounded(message.header), "msg_type");
    const auto parent = parse_json_bounded(message.parent_header);
    info.parent_msg_id = string_field(parent, "msg_id");
    info.parent_session = string_field(parent, "session");
    info.has_parent = parent.is_object();
    if (info.msg_type == "status")
    {
        info.execution_state = string_field(parse_json_bounded(message.content), "execution_state");
    }
    return info;
}

void check_client_message(const kernel_message& message)
{
    const auto header = parse_object_part(message.header, "the header");
    for (const char* key : {"msg_id", "msg_type"})
    {
        if (string_field(header, key).empty())
        {
            throw protocol_error(std::string("the header has no string ") + key);
        }
    }
    for (const auto& [part, name] :
         {std::pair{&message.parent_header, "the parent_header"},
          std::pair{&message.metadata, "the metadata"}, std::pair{&message.content, "the content"}})
    {
        parse_object_part(*part, name);
    }
}

} // namespace cellbox::gateway
