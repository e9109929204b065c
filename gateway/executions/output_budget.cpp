#include "executions/output_budget.hpp"

namespace cellbox::gateway
{
namespace
{

bool continuation(char c)
{
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// The longest prefix of `text` of at most `bytes` that ends on a character boundary.
std::size_t head_length(std::string_view text, std::size_t bytes)
{
    if (bytes >= text.size())
    {
        return text.size();
    }
    while (bytes > 0 && continuation(text[bytes]))
    {
        --bytes;
    }
    return bytes;
}

// Where the longest suffix of `text` of at most `bytes` starts, on a character boundary.
std::size_t tail_start(std::string_view text, std::size_t bytes)
{
    if (bytes >= text.size())
    {
        return 0;
    }
    std::size_t start = text.size() - bytes;
    while (start < text.size() && continuation(text[start]))
    {
        ++start;
    }
    return start;
}

} // namespace

std::string cut_marker(std::size_t bytes)
{
    return "\n[... " + std::to_string(bytes) + " bytes of output cut here ...]\n";
}

std::string cut_middle(std::string_view text, std::size_t max_bytes, std::size_t& cut)
{
    cut = 0;
    if (text.size() <= max_bytes)
    {
        return std::string(text);
    }
    const std::size_t head = head_length(text, max_bytes / 2);
    const std::size_t tail = tail_start(text, max_bytes - max_bytes / 2);
    cut = tail - head;
    return std::string(text.substr(0, head)) + cut_marker(cut) + std::string(text.substr(tail));
}

output_budget::output_budget(std::size_t max_text, std::size_t max_image)
    : m_head_limit(max_text / 2), m_tail_limit(max_text - max_text / 2), m_max_image(max_image)
{
}

std::string output_budget::take_stream(const std::string& name, std::string_view text)
{
    std::string now;
    if (m_tail.empty() && m_head < m_head_limit)
    {
        const std::size_t n = head_length(text, m_head_limit - m_head);
        now.assign(text.substr(0, n));
        m_head += n;
        text.remove_prefix(n);
    }
    if (text.empty())
    {
        return now;
    }
    if (!m_tail.empty() && m_tail.back().name == name)
    {
        m_tail.back().text.append(text);
    }
    else
    {
        m_tail.push_back({name, std::string(text)});
    }
    m_tail_bytes += text.size();
    // Keeps the last m_tail_limit bytes: drops whole pieces, then the front of the first.
    while (m_tail_bytes > m_tail_limit && !m_tail.empty())
    {
        const std::size_t excess = m_tail_bytes - m_tail_limit;
        std::string& first = m_tail.front().text;
        if (first.size() <= excess)
        {
            m_tail_bytes -= first.size();
            m_tail_cut += first.size();
            m_tail.erase(m_tail.begin());
            continue;
        }
        const std::size_t start = tail_start(first, first.size() - excess);
        m_tail_bytes -= start;
        m_tail_cut += start;
        first.erase(0, start);
        break;
    }
    return now;
}

std::vector<output_budget::piece> output_budget::finish_streams()
{
    std::vector<piece> out;
    if (m_tail_cut > 0)
    {
        const std::string name = m_tail.empty() ? "stdout" : m_tail.front().name;
        out.push_back({name, cut_marker(m_tail_cut)});
        m_cut += m_tail_cut;
        m_tail_cut = 0;
    }
    for (auto& p : m_tail)
    {
        out.push_back(std::move(p));
    }
    m_tail.clear();
    m_tail_bytes = 0;
    return out;
}

std::string output_budget::take_text(std::string_view text)
{
    const std::size_t left = m_head_limit > m_head ? m_head_limit - m_head : 0;
    std::size_t cut = 0;
    std::string kept = cut_middle(text, left, cut);
    m_cut += cut;
    m_head += text.size() - cut;
    return kept;
}

bool output_budget::take_image(std::size_t bytes)
{
    if (m_image + bytes <= m_max_image)
    {
        m_image += bytes;
        return true;
    }
    m_cut_image += bytes;
    return false;
}

} // namespace cellbox::gateway
