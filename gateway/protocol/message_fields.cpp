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

namespace
{

// Keeps the string values of the wanted members of a top-level object; every other event
// only tracks the depth.
class member_reader final : public nlohmann::json_sax<nlohmann::json>
{
public:
    explicit member_reader(std::initializer_list<const char*> keys)
        : m_keys(keys), m_values(keys.size())
    {
    }
    bool object() const { return m_object; }
    std::vector<std::string>& values() { return m_values; }

    bool null() override { return other(); }
    bool boolean(bool) override { return other(); }
    bool number_integer(number_integer_t) override { return other(); }
    bool number_unsigned(number_unsigned_t) override { return other(); }
    bool number_float(number_float_t, const string_t&) override { return other(); }
    bool binary(binary_t&) override { return other(); }
    bool string(string_t& value) override
    {
        if (m_depth == 1 && m_pending >= 0)
        {
            m_values[static_cast<std::size_t>(m_pending)] = value;
            m_pending = -1;
        }
        return true;
    }
    bool start_object(std::size_t) override
    {
        if (m_depth == 0)
        {
            m_object = true;
        }
        other();
        ++m_depth;
        return true;
    }
    bool start_array(std::size_t) override
    {
        other();
        ++m_depth;
        return true;
    }
    bool end_object() override { return --m_depth, true; }
    bool end_array() override { return --m_depth, true; }
    bool key(string_t& name) override
    {
        if (m_depth == 1)
        {
            m_pending = -1;
            for (std::size_t i = 0; i < m_keys.size(); ++i)
            {
                if (name == m_keys.begin()[i])
                {
                    m_pending = static_cast<int>(i);
                }
            }
        }
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override
    {
        return false;
    }

private:
    // A value that is not a string: a wanted member holding it reads as "".
    bool other()
    {
        if (m_depth == 1 && m_pending >= 0)
        {
            m_values[static_cast<std::size_t>(m_pending)].clear();
            m_pending = -1;
        }
        return true;
    }

    std::initializer_list<const char*> m_keys;
    std::vector<std::string> m_values;
    int m_depth = 0;
    int m_pending = -1; // the wanted key whose value comes next
    bool m_object = false;
};

} // namespace

std::optional<std::vector<std::string>> string_members(std::string_view text,
                                                       std::initializer_list<const char*> keys)
{
    if (!json_depth_within(text) || text.find('\0') != std::string_view::npos)
    {
        return std::nullopt;
    }
    member_reader reader(keys);
    if (!nlohmann::json::sax_parse(text.begin(), text.end(), &reader) || !reader.object())
    {
        return std::nullopt;
    }
    return std::move(reader.values());
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
    if (auto header = string_members(message.header, {"msg_type"}))
    {
        info.msg_type = std::move((*header)[0]);
    }
    if (auto parent = string_members(message.parent_header, {"msg_id", "session"}))
    {
        info.parent_msg_id = std::move((*parent)[0]);
        info.parent_session = std::move((*parent)[1]);
        info.has_parent = true;
    }
    if (info.msg_type == "status")
    {
        if (auto content = string_members(message.content, {"execution_state"}))
        {
            info.execution_state = std::move((*content)[0]);
        }
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
