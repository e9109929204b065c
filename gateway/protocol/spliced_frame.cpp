#include "protocol/spliced_frame.hpp"

#include "protocol/json_check.hpp"
#include "protocol/message_fields.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <variant>

namespace cellbox::gateway
{
namespace
{

template <class Int> std::string encode_ints(const std::vector<std::uint64_t>& values, bool le)
{
    std::string out;
    out.reserve(values.size() * sizeof(Int));
    for (const std::uint64_t value : values)
    {
        for (std::size_t i = 0; i < sizeof(Int); ++i)
        {
            const std::size_t shift = le ? 8 * i : 8 * (sizeof(Int) - 1 - i);
            out.push_back(static_cast<char>((static_cast<Int>(value) >> shift) & 0xFF));
        }
    }
    return out;
}

// A piece before it is placed: added bytes, or a part of the message.
using item = std::variant<std::string, const std::string*>;

std::size_t item_size(const item& i)
{
    return std::holds_alternative<std::string>(i) ? std::get<std::string>(i).size()
                                                  : std::get<const std::string*>(i)->size();
}

} // namespace

std::vector<std::string_view> spliced_frame::pieces() const
{
    std::vector<std::string_view> out;
    out.reserve(m_pieces.size());
    for (const piece& p : m_pieces)
    {
        out.push_back(p.part != nullptr ? std::string_view(*p.part)
                                        : std::string_view(m_glue).substr(p.offset, p.size));
    }
    return out;
}

std::string spliced_frame::flatten() const
{
    std::string out;
    out.reserve(m_size);
    for (const std::string_view p : pieces())
    {
        out.append(p);
    }
    return out;
}

void spliced_frame::add_glue(std::string_view bytes)
{
    // By offset, not pointer: m_glue may reallocate, and moving a frame moves it.
    m_pieces.push_back({nullptr, m_glue.size(), bytes.size()});
    m_glue.append(bytes);
    m_size += bytes.size();
}

void spliced_frame::add_part(const std::string& part)
{
    if (!part.empty())
    {
        m_pieces.push_back({&part, 0, part.size()});
        m_size += part.size();
    }
}

spliced_frame spliced_frame::v1(const kernel_message& message)
{
    std::vector<const std::string*> parts = {&message.channel, &message.header,
                                             &message.parent_header, &message.metadata,
                                             &message.content};
    for (const auto& buffer : message.buffers)
    {
        parts.push_back(&buffer);
    }
    // The count, then the offset of each part's start and of the end.
    const std::uint64_t count = parts.size() + 1;
    std::vector<std::uint64_t> table = {count};
    std::uint64_t offset = 8 * (count + 1);
    for (const std::string* part : parts)
    {
        table.push_back(offset);
        offset += part->size();
    }
    table.push_back(offset);
    spliced_frame frame;
    frame.m_binary = true;
    frame.m_glue.reserve(8 * table.size());
    frame.add_glue(encode_ints<std::uint64_t>(table, true));
    for (const std::string* part : parts)
    {
        frame.add_part(*part);
    }
    return frame;
}

spliced_frame spliced_frame::legacy(const kernel_message& message)
{
    // The four dicts are spliced in as they came (checked to be JSON objects, not parsed and
    // re-serialised: output can be megabytes); only the small header is parsed, for the
    // top-level msg_id and msg_type.
    const auto header = nlohmann::json::parse(message.header, nullptr, false);
    if (!header.is_object())
    {
        throw protocol_error("header is not a JSON object");
    }
    const std::pair<const char*, const std::string*> dicts[] = {
        {"parent_header", &message.parent_header},
        {"metadata", &message.metadata},
        {"content", &message.content}};
    std::vector<item> text = {std::string(R"({"header":)"), &message.header};
    for (const auto& [name, part] : dicts)
    {
        if (!is_json_object(*part))
        {
            throw protocol_error(std::string(name) + " is not a JSON object");
        }
        text.emplace_back(",\"" + std::string(name) + "\":");
        text.emplace_back(part);
    }
    const auto quoted = [](const std::string& s) { return nlohmann::json(s).dump(); };
    text.emplace_back(R"(,"channel":)" + quoted(message.channel) + R"(,"msg_id":)" +
                      quoted(string_field(header, "msg_id")) + R"(,"msg_type":)" +
                      quoted(string_field(header, "msg_type")) +
                      (message.buffers.empty() ? R"(,"buffers":[]})" : "}"));

    spliced_frame frame;
    if (!message.buffers.empty())
    {
        // Binary: a big-endian 32-bit table (count, then where the JSON and each buffer
        // start), the JSON, the buffers.
        std::size_t text_size = 0;
        for (const item& i : text)
        {
            text_size += item_size(i);
        }
        const std::uint64_t count = 1 + message.buffers.size();
        std::vector<std::uint64_t> table = {count, 4 * (count + 1)};
        std::uint64_t offset = table.back() + text_size;
        for (const auto& buffer : message.buffers)
        {
            table.push_back(offset);
            offset += buffer.size();
        }
        frame.m_binary = true;
        frame.add_glue(encode_ints<std::uint32_t>(table, false));
    }
    for (const item& i : text)
    {
        if (const auto* added = std::get_if<std::string>(&i))
        {
            frame.add_glue(*added);
        }
        else
        {
            frame.add_part(*std::get<const std::string*>(i));
        }
    }
    for (const auto& buffer : message.buffers)
    {
        frame.add_part(buffer);
    }
    return frame;
}

} // namespace cellbox::gateway
