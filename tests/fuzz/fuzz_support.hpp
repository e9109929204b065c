#pragma once
// Small helpers shared by the libFuzzer targets of tests/fuzz (one target per parser of
// untrusted bytes). A target feeds its input to a parser exactly as the program does, catches
// only the exceptions that the program's caller catches, and checks the properties it relies
// on with require(): a failed one aborts, and libFuzzer keeps the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::fuzz
{

inline std::string_view text_of(const std::uint8_t* data, std::size_t size)
{
    return {reinterpret_cast<const char*>(data), size};
}

// The input split at NUL bytes: several fields (frames, parts) from one input, easy to write
// as a seed by hand.
inline std::vector<std::string> split_fields(std::string_view text)
{
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= text.size(); ++i)
    {
        if (i == text.size() || text[i] == '\0')
        {
            fields.emplace_back(text.substr(start, i - start));
            start = i + 1;
        }
    }
    return fields;
}

inline void require(bool holds, const char* property)
{
    if (!holds)
    {
        std::fprintf(stderr, "property violated: %s\n", property);
        std::abort();
    }
}

} // namespace cellbox::fuzz
