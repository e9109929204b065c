#include "cellbox/kernel/output_coalescer.hpp"

#include <utility>

namespace cellbox::kernel
{

output_coalescer::output_coalescer(coalescer_limits limits) : m_limits(limits) {}

void output_coalescer::append(std::string_view name, std::string_view text, clock::time_point now)
{
    if (text.empty())
    {
        return;
    }
    if (m_chunks.empty())
    {
        m_oldest = now;
    }
    if (!m_chunks.empty() && m_chunks.back().name == name)
    {
        m_chunks.back().text.append(text);
    }
    else
    {
        m_chunks.push_back({std::string(name), std::string(text)});
    }
    m_bytes += text.size();
}

bool output_coalescer::due(clock::time_point now) const
{
    if (m_chunks.empty())
    {
        return false;
    }
    return m_bytes >= m_limits.max_bytes || now - m_oldest >= m_limits.max_delay;
}

std::optional<output_coalescer::clock::time_point> output_coalescer::deadline() const
{
    if (m_chunks.empty())
    {
        return std::nullopt;
    }
    return m_oldest + m_limits.max_delay;
}

std::vector<stream_chunk> output_coalescer::take()
{
    m_bytes = 0;
    return std::exchange(m_chunks, {});
}

} // namespace cellbox::kernel
