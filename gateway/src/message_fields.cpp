#include "cellbox/gateway/message_fields.hpp"

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
    info.msg_type = string_field(nlohmann::json::parse(message.header, nullptr, false), "msg_type");
    const auto parent = nlohmann::json::parse(message.parent_header, nullptr, false);
    info.parent_msg_id = string_field(parent, "msg_id");
    info.parent_session = string_field(parent, "session");
    if (info.msg_type == "status")
    {
        info.execution_state =
            string_field(nlohmann::json::parse(message.content, nullptr, false), "execution_state");
    }
    return info;
}

void check_client_message(const kernel_message& message)
{
    const auto header = nlohmann::json::parse(message.header, nullptr, false);
    if (!header.is_object())
    {
        throw protocol_error("the header is not a JSON object");
    }
    for (const char* key : {"msg_id", "msg_type"})
    {
        if (string_field(header, key).empty())
        {
            throw protocol_error(std::string("the header has no string ") + key);
        }
    }
    for (const auto& [part, name] :
         {std::pair{&message.parent_header, "parent_header"},
          std::pair{&message.metadata, "metadata"}, std::pair{&message.content, "content"}})
    {
        if (!nlohmann::json::parse(*part, nullptr, false).is_object())
        {
            throw protocol_error(std::string("the ") + name + " is not a JSON object");
        }
    }
}

} // namespace cellbox::gateway
