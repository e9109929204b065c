#pragma once
// A string in double quotes with C-style escapes (\" \\ \n \r \t, \xNN for the other control
// characters), other bytes as they are: one line whatever the text holds. Read back the same by
// logfmt readers (the gateway's log) and by Python as a string literal (cellbox run's
// parameters), so text from outside can neither break a log line nor end a literal early.
#include <array>
#include <cstdio>
#include <string>
#include <string_view>

namespace cellbox
{

inline std::string quoted_string(std::string_view text)
{
    std::string out = "\"";
    for (const char c : text)
    {
        switch (c)
        {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        default:
            if (static_cast<unsigned char>(c) < 0x20)
            {
                std::array<char, 8> escaped{};
                std::snprintf(escaped.data(), escaped.size(), "\\x%02x",
                              static_cast<unsigned>(static_cast<unsigned char>(c)));
                out += escaped.data();
            }
            else
            {
                out += c;
            }
        }
    }
    return out + "\"";
}

} // namespace cellbox
