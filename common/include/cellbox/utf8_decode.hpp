#pragma once
// Decoding one UTF-8 sequence, shared by the readers that must refuse malformed text before a
// library sees it (json_check, toml_ascii).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace cellbox
{

// The code point of the UTF-8 sequence at text[pos] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) and its length; length 0 when malformed.
inline std::pair<char32_t, std::size_t> decode_utf8(std::string_view text, std::size_t pos)
{
    const auto byte = [&](std::size_t i)
    { return static_cast<std::uint8_t>(pos + i < text.size() ? text[pos + i] : 0); };
    const std::uint8_t lead = byte(0);
    std::size_t length = 0;
    std::uint8_t low = 0x80, high = 0xBF; // range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF)
    {
        length = 2;
    }
    else if (lead >= 0xE0 && lead <= 0xEF)
    {
        length = 3;
        low = lead == 0xE0 ? 0xA0 : 0x80;
        high = lead == 0xED ? 0x9F : 0xBF;
    }
    else if (lead >= 0xF0 && lead <= 0xF4)
    {
        length = 4;
        low = lead == 0xF0 ? 0x90 : 0x80;
        high = lead == 0xF4 ? 0x8F : 0xBF;
    }
    if (length == 0 || byte(1) < low || byte(1) > high)
    {
        return {0, 0};
    }
    char32_t code = lead & (0xFF >> (length + 1));
    for (std::size_t i = 1; i < length; ++i)
    {
        if (i > 1 && (byte(i) < 0x80 || byte(i) > 0xBF))
        {
            return {0, 0};
        }
        code = (code << 6) | (byte(i) & 0x3F);
    }
    return {code, length};
}

} // namespace cellbox
