#include "streams/output_limiter.hpp"

#include "cellbox/byte_size.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"

#include <iostream>

namespace cellbox::gateway
{
namespace
{

bool is_output(const std::string& msg_type)
{
    return msg_type == "stream" || msg_type == "display_data" ||
           msg_type == "update_display_data" || msg_type == "execute_result" || msg_type == "error";
}

// Cells whose idle status never came (the kernel died) would otherwise stay forever.
constexpr std::size_t max_tracked_cells = 4096;

} // namespace

output_limiter::output_limiter(std::size_t max_bytes) : m_max_bytes(max_bytes) {}

bool output_limiter::may_replace(const message_info& info)
{
    return is_output(info.msg_type);
}

std::vector<kernel_message> output_limiter::filter(kernel_message message, const message_info& info)
{
    std::vector<kernel_message> out;
    if (m_max_bytes == 0 || info.parent_msg_id.empty())
    {
        out.push_back(std::move(message));
        return out;
    }
    if (info.msg_type == "status" && info.execution_state == "idle")
    {
        m_cells.erase(info.parent_msg_id);
    }
    if (!is_output(info.msg_type))
    {
        out.push_back(std::move(message));
        return out;
    }
    if (m_cells.size() >= max_tracked_cells && m_cells.count(info.parent_msg_id) == 0)
    {
        m_cells.clear();
    }
    cell& c = m_cells[info.parent_msg_id];
    if (c.over)
    {
        return out;
    }
    std::size_t bytes = message.content.size();
    for (const auto& buffer : message.buffers)
    {
        bytes += buffer.size();
    }
    c.bytes += bytes;
    if (c.bytes <= m_max_bytes)
    {
        out.push_back(std::move(message));
        return out;
    }
    c.over = true;
    log::warn("cell passed the output limit, discarding its further output",
              {{"cell", info.parent_msg_id}, {"limit_bytes", m_max_bytes}});
    out.push_back(make_stderr_notice(message.parent_header,
                                     "output limit of " + format_byte_size(m_max_bytes) +
                                         " reached; further output of this cell is discarded\n"));
    return out;
}

} // namespace cellbox::gateway
