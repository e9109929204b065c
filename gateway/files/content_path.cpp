#include "files/content_path.hpp"

#include "cellbox/percent_decoding.hpp"

#include <cctype>
#include <utility>

namespace cellbox::gateway
{
namespace
{

std::string percent_decode(std::string_view segment)
{
    auto decoded = percent_decode_path(segment);
    if (!decoded)
    {
        throw content_path_error("malformed percent-encoding in the path");
    }
    return std::move(*decoded);
}

// One name, decoded: what may never become a file name beneath /work.
void check_name(const std::string& name)
{
    if (name == "." || name == "..")
    {
        throw content_path_error("'.' and '..' are not allowed in a contents path");
    }
    if (name.find('/') != std::string::npos)
    {
        throw content_path_error("an encoded '/' (%2F) is not allowed in a path segment");
    }
    if (name.find('\0') != std::string::npos)
    {
        throw content_path_error("a NUL byte is not allowed in a contents path");
    }
    if (name.size() > max_content_name_bytes)
    {
        throw content_path_error("a name in the path is longer than 255 bytes");
    }
}

} // namespace

content_path content_path::parse(std::string_view text, bool percent_encoded)
{
    if (text.size() > max_content_path_bytes)
    {
        throw content_path_error("the path is longer than 4096 bytes");
    }
    content_path path;
    std::size_t start = 0;
    while (start <= text.size())
    {
        std::size_t end = text.find('/', start);
        if (end == std::string_view::npos)
        {
            end = text.size();
        }
        const std::string_view segment = text.substr(start, end - start);
        if (!segment.empty())
        {
            std::string name = percent_encoded ? percent_decode(segment) : std::string(segment);
            check_name(name);
            path.m_parts.push_back(std::move(name));
        }
        start = end + 1;
    }
    return path;
}

content_path content_path::from_url(std::string_view encoded)
{
    return parse(encoded, true);
}

content_path content_path::from_api(std::string_view text)
{
    return parse(text, false);
}

std::string content_path::api() const
{
    std::string out;
    for (const auto& part : m_parts)
    {
        if (!out.empty())
        {
            out += '/';
        }
        out += part;
    }
    return out;
}

std::string content_path::name() const
{
    return m_parts.empty() ? std::string() : m_parts.back();
}

content_path content_path::parent() const
{
    content_path up = *this;
    if (!up.m_parts.empty())
    {
        up.m_parts.pop_back();
    }
    return up;
}

content_path content_path::child(const std::string& name) const
{
    check_name(name);
    if (name.empty())
    {
        throw content_path_error("an empty name");
    }
    content_path down = *this;
    down.m_parts.push_back(name);
    return down;
}

std::string content_path::relative() const
{
    return m_parts.empty() ? std::string(".") : api();
}

std::string url_escape_path(std::string_view text)
{
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (const char c : text)
    {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
        {
            out += c;
        }
        else
        {
            out += '%';
            out += digits[byte >> 4];
            out += digits[byte & 15];
        }
    }
    return out;
}

} // namespace cellbox::gateway
