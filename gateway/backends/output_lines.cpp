#include "backends/output_lines.hpp"

#include <algorithm>
#include <boost/locale/utf.hpp>
#include <cstdint>

namespace cellbox::gateway
{
namespace
{

constexpr std::string_view replacement = "\xEF\xBF\xBD"; // U+FFFD

// Code points a terminal or a log viewer acts on that the log's escaping passes through:
// C1 controls (0x9B is CSI in 8-bit terminals), bidirectional embeddings, overrides and
// isolates (they reorder what a reader sees), and the Unicode line and paragraph separators.
bool disguises(std::uint32_t code)
{
    return (code >= 0x80 && code <= 0x9F) || (code >= 0x202A && code <= 0x202E) ||
           (code >= 0x2066 && code <= 0x2069) || code == 0x2028 || code == 0x2029 ||
           code == 0x200E || code == 0x200F || code == 0x061C;
}

} // namespace

output_lines::output_lines(limits bounds)
    : m_limits(bounds), m_tokens(static_cast<double>(bounds.burst_lines))
{
}

std::string output_lines::printable(std::string_view text)
{
    using utf8 = boost::locale::utf::utf_traits<char>;
    std::string out;
    out.reserve(text.size());
    const char* at = text.data();
    const char* const end = text.data() + text.size();
    while (at < end)
    {
        const char* const start = at;
        const boost::locale::utf::code_point code = utf8::decode(at, end);
        if (code == boost::locale::utf::illegal || code == boost::locale::utf::incomplete)
        {
            out += replacement; // one per byte that starts no valid sequence
            at = start + 1;
        }
        else if (disguises(code))
        {
            out += replacement;
        }
        else
        {
            out.append(start, at);
        }
    }
    return out;
}

void output_lines::roll(clock::time_point now)
{
    if (now >= window_end())
    {
        m_window_start = now;
        m_bytes = 0;
    }
}

void output_lines::admit(std::vector<output_line>& out, clock::time_point now)
{
    if (m_refilled != clock::time_point{})
    {
        const double elapsed = std::chrono::duration<double>(now - m_refilled).count();
        m_tokens = std::min(static_cast<double>(m_limits.burst_lines),
                            m_tokens + std::max(elapsed, 0.0) * m_limits.lines_per_second);
    }
    m_refilled = now;
    if (!m_partial.empty() && m_partial.back() == '\r')
    {
        m_partial.pop_back(); // a CRLF line end
    }
    if (m_tokens >= 1)
    {
        m_tokens -= 1;
        out.push_back({printable(m_partial), m_cut});
    }
    else
    {
        ++m_suppressed;
    }
    m_partial.clear();
    m_cut = 0;
}

std::vector<output_line> output_lines::feed(std::string_view data, clock::time_point now)
{
    roll(now);
    m_bytes += data.size();
    std::vector<output_line> out;
    while (!data.empty())
    {
        const std::size_t newline = data.find('\n');
        const std::string_view piece = data.substr(0, newline);
        const std::size_t room =
            m_limits.max_line_bytes - std::min(m_partial.size(), m_limits.max_line_bytes);
        m_partial.append(piece.substr(0, room));
        m_cut += piece.size() - std::min(piece.size(), room);
        if (newline == std::string_view::npos)
        {
            break;
        }
        admit(out, now);
        data.remove_prefix(newline + 1);
    }
    return out;
}

std::optional<output_line> output_lines::finish(clock::time_point now)
{
    if (m_partial.empty() && m_cut == 0)
    {
        return std::nullopt;
    }
    roll(now);
    std::vector<output_line> out;
    admit(out, now);
    if (out.empty())
    {
        return std::nullopt;
    }
    return std::move(out.front());
}

std::size_t output_lines::take_suppressed()
{
    const std::size_t count = m_suppressed;
    m_suppressed = 0;
    return count;
}

bool output_lines::over_byte_budget(clock::time_point now) const
{
    return m_bytes >= m_limits.bytes_per_window && now < window_end();
}

} // namespace cellbox::gateway
