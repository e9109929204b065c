#pragma once
// TOML text rewritten to pure ASCII before toml++ reads it. Debian 12's toml++ 3.3 classifies
// some non-ASCII characters with a generated function that reaches __builtin_unreachable
// (undefined behaviour: marzer/tomlplusplus#190, #295, fixed upstream after 3.3) wherever it
// looks for whitespace: between tokens, in keys, in multi-line strings. The fuzzers of the
// config and policy readers found it with a one-character file. Rewritten, the document means
// the same and toml++ never sees a non-ASCII character:
//   - in comments, each non-ASCII character becomes '?' (comments mean nothing);
//   - in basic strings ("..." and """..."""), it becomes its \uXXXX or \UXXXXXXXX escape;
//   - in literal strings ('...' and '''...'''), which have no escapes, it is refused;
//   - anywhere else TOML allows only ASCII anyway: refused.
// Malformed UTF-8 is refused too, with std::invalid_argument("L:C: what", line and column).
#include "cellbox/utf8_decode.hpp"

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace cellbox
{
inline std::string toml_as_ascii(std::string_view text)
{
    enum class state
    {
        normal,
        comment,
        basic,
        multi_basic,
        literal,
        multi_literal
    };
    state now = state::normal;
    std::string out;
    out.reserve(text.size());
    std::size_t line = 1, line_start = 0;
    const auto fail = [&](std::size_t pos, const std::string& why)
    {
        std::size_t column = 1; // in characters, as toml++ counts
        for (std::size_t i = line_start; i < pos; ++i)
        {
            column += (static_cast<std::uint8_t>(text[i]) & 0xC0) != 0x80;
        }
        throw std::invalid_argument(std::to_string(line) + ":" + std::to_string(column) + ": " +
                                    why);
    };
    // How many times `c` repeats from `pos` on.
    const auto run = [&](std::size_t pos, char c)
    {
        std::size_t n = 0;
        while (pos + n < text.size() && text[pos + n] == c)
        {
            ++n;
        }
        return n;
    };
    for (std::size_t i = 0; i < text.size();)
    {
        const char c = text[i];
        if (static_cast<std::uint8_t>(c) >= 0x80)
        {
            const auto [code, length] = decode_utf8(text, i);
            if (length == 0)
            {
                fail(i, "malformed UTF-8");
            }
            if (now == state::comment)
            {
                out += '?';
            }
            else if (now == state::basic || now == state::multi_basic)
            {
                char escape[12];
                std::snprintf(escape, sizeof escape, code < 0x10000 ? "\\u%04X" : "\\U%08X",
                              static_cast<unsigned>(code));
                out += escape;
            }
            else if (now == state::normal)
            {
                fail(i, "a non-ASCII character outside a string or a comment");
            }
            else
            {
                fail(i, "a non-ASCII character in a literal string ('...'): use a basic string "
                        "(\"...\")");
            }
            i += length;
            continue;
        }
        std::size_t used = 1;
        switch (now)
        {
        case state::normal:
            if (c == '#')
            {
                now = state::comment;
            }
            else if (c == '"' || c == '\'')
            {
                const bool multi = run(i, c) >= 3;
                used = multi ? 3 : 1;
                now = c == '"' ? (multi ? state::multi_basic : state::basic)
                               : (multi ? state::multi_literal : state::literal);
            }
            break;
        case state::comment:
            now = c == '\n' ? state::normal : now;
            break;
        case state::basic:
        case state::multi_basic:
            if (c == '\\' && i + 1 < text.size())
            {
                if (static_cast<std::uint8_t>(text[i + 1]) >= 0x80)
                {
                    fail(i + 1, "a non-ASCII character after a backslash");
                }
                used = 2; // an escaped quote or backslash does not end anything
            }
            else if (c == '"' && now == state::basic)
            {
                now = state::normal;
            }
            else if (c == '"')
            {
                used = run(i, '"'); // up to two quotes before the closing three are content
                now = used >= 3 ? state::normal : now;
            }
            else if (c == '\n' && now == state::basic)
            {
                now = state::normal; // unterminated: toml++ says so
            }
            break;
        case state::literal:
            now = c == '\'' || c == '\n' ? state::normal : now;
            break;
        case state::multi_literal:
            if (c == '\'')
            {
                used = run(i, '\'');
                now = used >= 3 ? state::normal : now;
            }
            break;
        }
        for (std::size_t k = i; k < i + used; ++k)
        {
            if (text[k] == '\n')
            {
                ++line;
                line_start = k + 1;
            }
        }
        out.append(text.substr(i, used));
        i += used;
    }
    return out;
}

} // namespace cellbox
