#include "cellbox/kernel/utf8.hpp"

namespace cellbox::kernel
{
namespace
{

// Expected sequence length for a lead byte, 0 for bytes that cannot start a sequence.
std::size_t sequence_length(unsigned char lead)
{
    if (lead < 0x80)
    {
        return 1;
    }
    if (lead >= 0xC2 && lead <= 0xDF)
    {
        return 2;
    }
    if (lead >= 0xE0 && lead <= 0xEF)
    {
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4)
    {
        return 4;
    }
    return 0;
}

bool is_continuation(unsigned char byte)
{
    return (byte & 0xC0) == 0x80;
}

// Whether the second byte is allowed after `lead` (excludes overlongs, surrogates, > U+10FFFF).
bool second_byte_ok(unsigned char lead, unsigned char second)
{
    switch (lead)
    {
    case 0xE0:
        return second >= 0xA0 && second <= 0xBF;
    case 0xED:
        return second >= 0x80 && second <= 0x9F;
    case 0xF0:
        return second >= 0x90 && second <= 0xBF;
    case 0xF4:
        return second >= 0x80 && second <= 0x8F;
    default:
        return is_continuation(second);
    }
}

// Length of the valid sequence starting at `pos`, or 0 if it is invalid or truncated.
std::size_t valid_sequence_at(std::string_view bytes, std::size_t pos)
{
    const auto lead = static_cast<unsigned char>(bytes[pos]);
    const std::size_t length = sequence_length(lead);
    if (length == 0 || pos + length > bytes.size())
    {
        return 0;
    }
    if (length >= 2 && !second_byte_ok(lead, static_cast<unsigned char>(bytes[pos + 1])))
    {
        return 0;
    }
    for (std::size_t i = 2; i < length; ++i)
    {
        if (!is_continuation(static_cast<unsigned char>(bytes[pos + i])))
        {
            return 0;
        }
    }
    return length;
}

} // namespace

std::size_t incomplete_utf8_tail(std::string_view bytes)
{
    // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
    const std::size_t lookback = bytes.size() < 3 ? bytes.size() : 3;
    for (std::size_t back = 1; back <= lookback; ++back)
    {
        const auto byte = static_cast<unsigned char>(bytes[bytes.size() - back]);
        if (is_continuation(byte))
        {
            continue;
        }
        const std::size_t length = sequence_length(byte);
        if (length > back)
        {
            if (back >= 2 &&
                !second_byte_ok(byte, static_cast<unsigned char>(bytes[bytes.size() - back + 1])))
            {
                return 0;
            }
            return back;
        }
        return 0;
    }
    return 0;
}

std::string sanitize_utf8(std::string_view bytes)
{
    static constexpr std::string_view replacement = "\xEF\xBF\xBD";
    std::string out;
    out.reserve(bytes.size());
    std::size_t pos = 0;
    while (pos < bytes.size())
    {
        const std::size_t length = valid_sequence_at(bytes, pos);
        if (length == 0)
        {
            out.append(replacement);
            ++pos;
        }
        else
        {
            out.append(bytes.substr(pos, length));
            pos += length;
        }
    }
    return out;
}

} // namespace cellbox::kernel
