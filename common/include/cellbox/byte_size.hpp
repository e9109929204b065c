#pragma once

#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace cellbox
{

// "1073741824", "512M", "512MiB", "1G", "1.5GiB", "64k": binary units, case-insensitive.
// Throws std::invalid_argument with a message meant for the user.
inline std::uint64_t parse_byte_size(std::string_view text)
{
    std::size_t pos = 0;
    while (pos < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
    {
        ++pos;
    }
    const std::string number(text.substr(0, pos));
    std::string unit;
    for (char c : text.substr(pos))
    {
        unit.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (number.empty() || number.front() == '.')
    {
        throw std::invalid_argument("expected a size such as 1073741824, 512M or 1GiB, got '" +
                                    std::string(text) + "'");
    }
    double multiplier = 0;
    if (unit.empty() || unit == "b")
    {
        multiplier = 1;
    }
    else if (unit == "k" || unit == "kb" || unit == "kib")
    {
        multiplier = 1024.0;
    }
    else if (unit == "m" || unit == "mb" || unit == "mib")
    {
        multiplier = 1024.0 * 1024;
    }
    else if (unit == "g" || unit == "gb" || unit == "gib")
    {
        multiplier = 1024.0 * 1024 * 1024;
    }
    else if (unit == "t" || unit == "tb" || unit == "tib")
    {
        multiplier = 1024.0 * 1024 * 1024 * 1024;
    }
    else
    {
        throw std::invalid_argument("unknown size unit '" + unit + "' in '" + std::string(text) +
                                    "'");
    }
    const double bytes = std::stod(number) * multiplier;
    if (!(bytes >= 1) || bytes > static_cast<double>(std::numeric_limits<std::int64_t>::max()))
    {
        throw std::invalid_argument("size out of range: '" + std::string(text) + "'");
    }
    return static_cast<std::uint64_t>(bytes);
}

// "16 MiB", "512 KiB" or "1000 bytes": a limit as the user set it (the largest unit that
// divides it exactly, so the text is never rounded).
inline std::string format_byte_size(std::uint64_t bytes)
{
    constexpr std::uint64_t kib = 1024, mib = kib * 1024, gib = mib * 1024;
    for (auto [unit, name] : {std::pair{gib, "GiB"}, std::pair{mib, "MiB"}, std::pair{kib, "KiB"}})
    {
        if (bytes >= unit && bytes % unit == 0)
        {
            return std::to_string(bytes / unit) + " " + name;
        }
    }
    return std::to_string(bytes) + " bytes";
}

} // namespace cellbox
