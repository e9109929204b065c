#include "http/static_path.hpp"

#include "cellbox/percent_decoding.hpp"

#include <array>
#include <utility>

namespace cellbox::gateway
{
namespace
{

// Strict (cellbox/percent_decoding.hpp), and no NUL: it ends a C path early.
std::optional<std::string> decode_path(std::string_view raw)
{
    auto decoded = percent_decode_path(raw);
    if (!decoded || decoded->find('\0') != std::string::npos)
    {
        return std::nullopt;
    }
    return decoded;
}

std::string_view extension_of(std::string_view path)
{
    const auto slash = path.rfind('/');
    const auto dot = path.rfind('.');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash))
    {
        return {};
    }
    return path.substr(dot + 1);
}

} // namespace

static_path parse_static_path(std::string_view raw)
{
    if (raw.empty())
    {
        return {{}, "no file named (directories are not listed)"};
    }
    if (raw.size() > max_static_path_bytes)
    {
        return {{}, "the path is longer than " + std::to_string(max_static_path_bytes) + " bytes"};
    }
    auto decoded = decode_path(raw);
    if (!decoded)
    {
        return {{}, "the path has a bad percent escape"};
    }
    const std::string& path = *decoded;
    std::size_t start = 0;
    while (start <= path.size())
    {
        const auto end = std::min(path.find('/', start), path.size());
        const std::string_view segment(path.data() + start, end - start);
        if (segment.empty())
        {
            return {{}, "the path has an empty segment (directories are not listed)"};
        }
        if (segment.front() == '.')
        {
            return {{}, "a path segment starts with '.'"};
        }
        for (const char c : segment)
        {
            const auto byte = static_cast<unsigned char>(c);
            if (byte < 0x20 || byte == 0x7f || c == '\\')
            {
                return {{}, "the path has a control character or a backslash"};
            }
        }
        start = end + 1;
    }
    return {path, {}};
}

std::string static_content_type(std::string_view relative)
{
    static const std::array<std::pair<std::string_view, std::string_view>, 13> types{{
        {"js", "application/javascript; charset=utf-8"},
        {"mjs", "application/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"html", "text/html; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/plain; charset=utf-8"},
        {"py", "text/plain; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"svg", "image/svg+xml"},
        {"ico", "image/x-icon"},
    }};
    const auto extension = extension_of(relative);
    for (const auto& [ext, type] : types)
    {
        if (ext == extension)
        {
            return std::string(type);
        }
    }
    return "application/octet-stream";
}

} // namespace cellbox::gateway
