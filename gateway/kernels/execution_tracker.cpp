#include "kernels/execution_tracker.hpp"

namespace cellbox::gateway
{
namespace
{

kernel_message shell_request(const std::string& header)
{
    return kernel_message{"shell", header, "{}", "{}", "{}", {}};
}

} // namespace

double cell_limit(const nlohmann::json& metadata, double default_s, double cap_s)
{
    double limit = default_s;
    const auto cellbox = metadata.find("cellbox");
    if (cellbox != metadata.end() && cellbox->is_object())
    {
        const auto requested = cellbox->find("timeout");
        if (requested != cellbox->end() && requested->is_number() && requested->get<double>() >= 0)
        {
            limit = requested->get<double>();
        }
    }
    if (cap_s > 0 && (limit == 0 || limit > cap_s))
    {
        limit = cap_s;
    }
    return limit;
}

void execution_tracker::execute_sent(const std::string& msg_id, const std::string& session_id,
                                     const std::string& header, double limit_s,
                                     clock::time_point now)
{
    m_pending[msg_id] = {session_id, header};
    m_limits[msg_id] = limit_s;
    m_since[msg_id] = now;
}

void execution_tracker::request_sent(const std::string& msg_id, const std::string& session_id,
                                     const std::string& header, const std::string& channel)
{
    m_unanswered[msg_id] = {session_id, kernel_message{channel, header, "{}", "{}", "{}", {}}};
}

std::optional<execution_tracker::replied_request>
execution_tracker::replied(const std::string& msg_id)
{
    std::optional<replied_request> request;
    if (const auto execute = m_pending.find(msg_id); execute != m_pending.end())
    {
        request = replied_request{execute->second.first, execute->second.second};
        m_pending.erase(execute);
    }
    else if (const auto other = m_unanswered.find(msg_id); other != m_unanswered.end())
    {
        request = replied_request{other->second.first, other->second.second.header};
        m_unanswered.erase(other);
    }
    m_limits.erase(msg_id);
    return request;
}

std::optional<double> execution_tracker::started(const std::string& msg_id)
{
    m_running = msg_id;
    const auto limit = m_limits.find(msg_id);
    if (limit == m_limits.end() || limit->second <= 0)
    {
        return std::nullopt;
    }
    return limit->second;
}

std::optional<double> execution_tracker::execute_answered(const std::string& msg_id,
                                                          clock::time_point now)
{
    const auto since = m_since.find(msg_id);
    if (since == m_since.end())
    {
        return std::nullopt; // not an execute_request of ours (or already answered for a death)
    }
    const double seconds = std::chrono::duration<double>(now - since->second).count();
    m_since.erase(since);
    return seconds;
}

void execution_tracker::hold(std::uint64_t connection, kernel_message message)
{
    m_held.emplace_back(connection, std::move(message));
}

std::vector<std::pair<std::uint64_t, kernel_message>> execution_tracker::take_held()
{
    return std::exchange(m_held, {});
}

std::vector<execution_tracker::answer> execution_tracker::take_in_flight()
{
    std::vector<answer> answers;
    m_running.clear();
    for (auto& [msg_id, waiting] : std::exchange(m_unanswered, {}))
    {
        answers.push_back({waiting.first, std::move(waiting.second), false});
    }
    for (const auto& [msg_id, waiting] : std::exchange(m_pending, {}))
    {
        answers.push_back({waiting.first, shell_request(waiting.second), false});
    }
    m_limits.clear();
    m_since.clear();
    return answers;
}

execution_tracker::death execution_tracker::take_for_death(clock::time_point now)
{
    death result;
    m_limits.clear();
    std::string running = std::exchange(m_running, {});
    if (m_pending.count(running) == 0)
    {
        running.clear();
        for (const auto& [msg_id, since] : m_since)
        {
            if (m_pending.count(msg_id) != 0 && (running.empty() || since < m_since.at(running)))
            {
                running = msg_id;
            }
        }
    }
    if (running.empty() && !m_pending.empty())
    {
        running = m_pending.begin()->first;
    }
    for (const auto& [msg_id, waiting] : m_pending)
    {
        const auto since = m_since.find(msg_id);
        result.pending_ages.push_back(
            since == m_since.end() ? -1
                                   : std::chrono::duration<double>(now - since->second).count());
    }
    m_since.clear();
    for (const auto& [msg_id, waiting] : std::exchange(m_pending, {}))
    {
        result.answers.push_back({waiting.first, shell_request(waiting.second), msg_id != running});
    }
    for (auto& [msg_id, waiting] : std::exchange(m_unanswered, {}))
    {
        result.answers.push_back({waiting.first, std::move(waiting.second), false});
    }
    return result;
}

} // namespace cellbox::gateway
