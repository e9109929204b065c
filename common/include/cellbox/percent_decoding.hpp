#pragma once
// Strict percent-decoding of a URL path (RFC 3986): '+' stays '+' (unlike query parameters),
// and a '%' without two hex digits after it is an error rather than kept as it is: a lenient
// decoder is how "..%2f" tricks get through. What the decoded bytes may be (NUL, '/', "..")
// is the caller's rule. Used by the static files and the contents API.
#include <optional>
#include <string>
#include <string_view>

namespace cellbox
{

inline int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
    {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f')
    {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F')
    {
        return c - 'A' + 10;
    }
    return -1;
}

// The decoded bytes, or nothing if an escape is malformed.
inline std::optional<std::string> percent_decode_path(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i)
    {
        if (raw[i] != '%')
        {
            out.push_back(raw[i]);
            continue;
        }
        const int high = i + 2 < raw.size() ? hex_digit_value(raw[i + 1]) : -1;
        const int low = i + 2 < raw.size() ? hex_digit_value(raw[i + 2]) : -1;
        if (high < 0 || low < 0)
        {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

} // namespace cellbox
