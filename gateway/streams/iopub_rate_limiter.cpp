#include "streams/iopub_rate_limiter.hpp"

#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"

#include <iostream>
#include <sstream>

namespace cellbox::gateway
{

iopub_rate_limiter::iopub_rate_limiter(double msg_rate_limit, double data_rate_limit,
                                       double window_seconds)
    : m_msg_limit(msg_rate_limit), m_data_limit(data_rate_limit),
      m_window(window_seconds > 0 ? window_seconds : 3)
{
}

void iopub_rate_limiter::reset()
{
    m_entries.clear();
    m_bytes = 0;
    m_msgs_exceeded = m_data_exceeded = false;
}

bool iopub_rate_limiter::check(double rate, double limit, bool& exceeded, const char* what)
{
    if (limit <= 0)
    {
        return false;
    }
    if (rate > limit)
    {
        return !std::exchange(exceeded, true);
    }
    // Resume only with some headroom, or output would flicker on and off at the limit.
    if (exceeded && rate < 0.8 * limit)
    {
        exceeded = false;
        log::info("iopub rate back under its limit, resuming", {{"rate", what}});
    }
    return false;
}

std::vector<kernel_message>
iopub_rate_limiter::filter(kernel_message message, const message_info& info, clock::time_point now)
{
    std::vector<kernel_message> out;
    if (m_msg_limit <= 0 && m_data_limit <= 0)
    {
        out.push_back(std::move(message));
        return out;
    }
    if (info.msg_type == "status" && info.execution_state == "idle")
    {
        reset();
    }
    if (info.msg_type == "status" || info.msg_type == "comm_open" ||
        info.msg_type == "execute_input")
    {
        out.push_back(std::move(message));
        return out;
    }
    const auto window =
        std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(m_window));
    while (!m_entries.empty() && now - m_entries.front().at > window)
    {
        m_bytes -= m_entries.front().bytes;
        m_entries.pop_front();
    }
    const std::size_t bytes = info.msg_type == "stream" ? message_bytes(message) : 0;
    m_entries.push_back({now, bytes});
    m_bytes += bytes;
    const double msg_rate = static_cast<double>(m_entries.size()) / m_window;
    const double data_rate = static_cast<double>(m_bytes) / m_window;

    // Only for a notice: a stream per message was an allocation on every output's path.
    const auto window_text = [this]
    {
        std::ostringstream text;
        text << m_window;
        return text;
    };
    if (check(msg_rate, m_msg_limit, m_msgs_exceeded, "message"))
    {
        std::ostringstream text;
        text << "IOPub message rate exceeded.\nThe gateway will temporarily stop sending output "
                "to the client in order to avoid crashing it.\nTo change this limit, set the "
                "option `--iopub-msg-rate-limit`.\n\nCurrent values:\n--iopub-msg-rate-limit="
             << m_msg_limit << " (msgs/sec)\n--rate-limit-window=" << window_text().str()
             << " (secs)\n";
        log::warn("iopub message rate exceeded, dropping output", {{"limit", m_msg_limit}});
        out.push_back(make_stderr_notice(message.parent_header, text.str()));
    }
    if (check(data_rate, m_data_limit, m_data_exceeded, "data"))
    {
        std::ostringstream text;
        text << "IOPub data rate exceeded.\nThe gateway will temporarily stop sending output "
                "to the client in order to avoid crashing it.\nTo change this limit, set the "
                "option `--iopub-data-rate-limit`.\n\nCurrent values:\n--iopub-data-rate-limit="
             << m_data_limit << " (bytes/sec)\n--rate-limit-window=" << window_text().str()
             << " (secs)\n";
        log::warn("iopub data rate exceeded, dropping output", {{"limit", m_data_limit}});
        out.push_back(make_stderr_notice(message.parent_header, text.str()));
    }
    if (m_msgs_exceeded || m_data_exceeded)
    {
        // Not sent: it does not count, so the rate can fall back under the limit.
        m_bytes -= m_entries.back().bytes;
        m_entries.pop_back();
        return out;
    }
    out.push_back(std::move(message));
    return out;
}

} // namespace cellbox::gateway
