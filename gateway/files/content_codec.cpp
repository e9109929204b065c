#include "files/content_codec.hpp"

#include "cellbox/utf8_decode.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <utility>

namespace cellbox::gateway
{
namespace
{

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c)
{
    const auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

} // namespace

bool valid_utf8(std::string_view bytes)
{
    std::size_t i = 0;
    while (i < bytes.size())
    {
        if (static_cast<unsigned char>(bytes[i]) < 0x80)
        {
            ++i;
            continue;
        }
        const auto [code, length] = decode_utf8(bytes, i);
        if (length == 0)
        {
            return false;
        }
        i += length;
    }
    return true;
}

std::string base64_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3)
    {
        const std::uint32_t group = static_cast<std::uint8_t>(bytes[i]) << 16 |
                                    static_cast<std::uint8_t>(bytes[i + 1]) << 8 |
                                    static_cast<std::uint8_t>(bytes[i + 2]);
        out += alphabet[group >> 18 & 63];
        out += alphabet[group >> 12 & 63];
        out += alphabet[group >> 6 & 63];
        out += alphabet[group & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest > 0)
    {
        std::uint32_t group = static_cast<std::uint8_t>(bytes[i]) << 16;
        if (rest == 2)
        {
            group |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
        }
        out += alphabet[group >> 18 & 63];
        out += alphabet[group >> 12 & 63];
        out += rest == 2 ? alphabet[group >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text)
{
    std::string clean;
    clean.reserve(text.size());
    for (const char c : text)
    {
        if (c != '\n' && c != '\r')
        {
            clean += c;
        }
    }
    if (clean.size() % 4 != 0)
    {
        return std::nullopt;
    }
    std::string out;
    out.reserve(clean.size() / 4 * 3);
    for (std::size_t i = 0; i < clean.size(); i += 4)
    {
        const bool last = i + 4 == clean.size();
        int padding = 0;
        std::uint32_t group = 0;
        for (std::size_t j = 0; j < 4; ++j)
        {
            const char c = clean[i + j];
            if (c == '=' && last && j >= 2 && (j == 3 || clean[i + 3] == '='))
            {
                ++padding;
                group <<= 6;
                continue;
            }
            const int value = sextet(c);
            if (value < 0 || padding > 0)
            {
                return std::nullopt;
            }
            group = group << 6 | static_cast<std::uint32_t>(value);
        }
        out += static_cast<char>(group >> 16 & 0xFF);
        if (padding < 2)
        {
            out += static_cast<char>(group >> 8 & 0xFF);
        }
        if (padding < 1)
        {
            out += static_cast<char>(group & 0xFF);
        }
    }
    return out;
}

std::optional<std::string> guess_mimetype(std::string_view name)
{
    static const std::array<std::pair<std::string_view, std::string_view>, 24> known{{
        {".txt", "text/plain"},
        {".py", "text/x-python"},
        {".md", "text/markdown"},
        {".csv", "text/csv"},
        {".tsv", "text/tab-separated-values"},
        {".html", "text/html"},
        {".htm", "text/html"},
        {".css", "text/css"},
        {".js", "text/javascript"},
        {".json", "application/json"},
        {".xml", "application/xml"},
        {".yaml", "application/yaml"},
        {".yml", "application/yaml"},
        {".sh", "application/x-sh"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".svg", "image/svg+xml"},
        {".webp", "image/webp"},
        {".pdf", "application/pdf"},
        {".zip", "application/zip"},
        {".gz", "application/gzip"},
        {".parquet", "application/vnd.apache.parquet"},
    }};
    const auto dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0)
    {
        return std::nullopt;
    }
    std::string extension(name.substr(dot));
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto& [ext, type] : known)
    {
        if (extension == ext)
        {
            return std::string(type);
        }
    }
    return std::nullopt;
}

std::string iso8601(const timespec& when)
{
    std::tm utc{};
    gmtime_r(&when.tv_sec, &utc);
    char text[40];
    const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    char fraction[32];
    std::snprintf(fraction, sizeof fraction, ".%06ldZ", when.tv_nsec / 1000);
    return std::string(text, length) + fraction;
}

} // namespace cellbox::gateway
