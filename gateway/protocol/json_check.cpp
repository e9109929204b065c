// A strict JSON recogniser: one pass, no allocation, no recursion on the C++ stack (an
// explicit stack of open containers), so that hostile nesting costs nothing but a refusal.
#include "protocol/json_check.hpp"

#include "cellbox/utf8_decode.hpp"

#include <cstdint>
#include <vector>

namespace cellbox::gateway
{
namespace
{

class checker
{
public:
    checker(std::string_view text, int max_depth) : m_text(text), m_max_depth(max_depth) {}

    bool document()
    {
        skip_space();
        if (!at('{') || !value())
        {
            return false;
        }
        skip_space();
        return m_pos == m_text.size();
    }

private:
    bool at(char c) const { return m_pos < m_text.size() && m_text[m_pos] == c; }

    void skip_space()
    {
        while (m_pos < m_text.size() && (m_text[m_pos] == ' ' || m_text[m_pos] == '\n' ||
                                         m_text[m_pos] == '\r' || m_text[m_pos] == '\t'))
        {
            ++m_pos;
        }
    }

    bool literal(std::string_view word)
    {
        if (m_text.substr(m_pos, word.size()) != word)
        {
            return false;
        }
        m_pos += word.size();
        return true;
    }

    bool digits()
    {
        const std::size_t start = m_pos;
        while (m_pos < m_text.size() && m_text[m_pos] >= '0' && m_text[m_pos] <= '9')
        {
            ++m_pos;
        }
        return m_pos > start;
    }

    bool number()
    {
        if (at('-'))
        {
            ++m_pos;
        }
        if (at('0'))
        {
            ++m_pos;
        }
        else if (!digits())
        {
            return false;
        }
        if (at('.'))
        {
            ++m_pos;
            if (!digits())
            {
                return false;
            }
        }
        if (at('e') || at('E'))
        {
            ++m_pos;
            if (at('+') || at('-'))
            {
                ++m_pos;
            }
            if (!digits())
            {
                return false;
            }
        }
        return true;
    }

    // Four hex digits after "\u"; -1 if malformed.
    long hex4()
    {
        if (m_pos + 4 > m_text.size())
        {
            return -1;
        }
        long value = 0;
        for (int i = 0; i < 4; ++i)
        {
            const char c = m_text[m_pos++];
            value <<= 4;
            if (c >= '0' && c <= '9')
            {
                value |= c - '0';
            }
            else if (c >= 'a' && c <= 'f')
            {
                value |= c - 'a' + 10;
            }
            else if (c >= 'A' && c <= 'F')
            {
                value |= c - 'A' + 10;
            }
            else
            {
                return -1;
            }
        }
        return value;
    }

    bool escape()
    {
        if (m_pos >= m_text.size())
        {
            return false;
        }
        switch (m_text[m_pos++])
        {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            return true;
        case 'u':
            break;
        default:
            return false;
        }
        const long unit = hex4();
        if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF))
        {
            return false; // malformed, or a low surrogate without its high half
        }
        if (unit >= 0xD800 && unit <= 0xDBFF)
        {
            if (!literal("\\u"))
            {
                return false;
            }
            const long low = hex4();
            return low >= 0xDC00 && low <= 0xDFFF;
        }
        return true;
    }

    // One UTF-8 sequence starting with a byte >= 0x80 (RFC 3629: no overlong forms, no
    // surrogates, nothing above U+10FFFF).
    bool utf8_sequence()
    {
        const std::size_t length = decode_utf8(m_text, m_pos).second;
        m_pos += length;
        return length != 0;
    }

    bool string()
    {
        ++m_pos; // the opening quote
        while (m_pos < m_text.size())
        {
            const auto c = static_cast<std::uint8_t>(m_text[m_pos]);
            if (c == '"')
            {
                ++m_pos;
                return true;
            }
            if (c == '\\')
            {
                ++m_pos;
                if (!escape())
                {
                    return false;
                }
            }
            else if (c < 0x20)
            {
                return false;
            }
            else if (c < 0x80)
            {
                ++m_pos;
            }
            else if (!utf8_sequence())
            {
                return false;
            }
        }
        return false; // unterminated
    }

    // A scalar, or the opening of a container (pushed on the stack).
    bool begin_value()
    {
        if (m_pos >= m_text.size())
        {
            return false;
        }
        switch (m_text[m_pos])
        {
        case '{':
        case '[':
            if (static_cast<int>(m_open.size()) >= m_max_depth)
            {
                return false;
            }
            m_open.push_back(m_text[m_pos]);
            m_fresh = true;
            ++m_pos;
            return true;
        case '"':
            return string();
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            return number();
        }
    }

    // Values until the container opened first is closed.
    bool value()
    {
        if (!begin_value())
        {
            return false;
        }
        while (!m_open.empty())
        {
            skip_space();
            const char container = m_open.back();
            const char closing = container == '{' ? '}' : ']';
            if (at(closing) && m_fresh)
            {
                ++m_pos; // an empty container
                m_open.pop_back();
                m_fresh = false;
                continue;
            }
            if (!m_fresh)
            {
                if (at(closing))
                {
                    ++m_pos;
                    m_open.pop_back();
                    continue;
                }
                if (!at(','))
                {
                    return false;
                }
                ++m_pos;
                skip_space();
            }
            m_fresh = false;
            if (container == '{')
            {
                if (!at('"') || !string())
                {
                    return false;
                }
                skip_space();
                if (!at(':'))
                {
                    return false;
                }
                ++m_pos;
                skip_space();
            }
            if (!begin_value())
            {
                return false;
            }
        }
        return true;
    }

    std::string_view m_text;
    int m_max_depth;
    std::size_t m_pos = 0;
    std::vector<char> m_open; // '{' or '[' per open container
    bool m_fresh = false;     // the innermost container was just opened
};

} // namespace

bool is_json_object(std::string_view text, int max_depth)
{
    return checker(text, max_depth).document();
}

} // namespace cellbox::gateway
