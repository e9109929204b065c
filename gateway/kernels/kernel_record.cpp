#include "kernels/kernel_record.hpp"

namespace cellbox::gateway
{

nlohmann::json kernel_model(const kernel_record& k)
{
    nlohmann::json model = {{"id", k.id},
                            {"name", k.name},
                            {"last_activity", k.last_activity},
                            {"execution_state", k.lifecycle.model_state(k.execution_state)},
                            {"connections", k.connections}};
    // cellbox's own: what a cell may use here (the landing page shows it).
    model["limits"] = {{"memory_bytes", k.memory_bytes},
                       {"cell_timeout", k.cell_timeout_s},
                       {"cell_timeout_cap", k.cell_timeout_cap_s}};
    if (!k.reason.empty())
    {
        model["reason"] = k.reason;
    }
    return model;
}

std::set<std::string> sessions_of(const kernel_record& k)
{
    std::set<std::string> sessions;
    for (const auto& [connection, attachment] : k.attached)
    {
        sessions.insert(attachment.first);
    }
    for (const auto& [session_id, waiting] : k.kept)
    {
        sessions.insert(session_id);
    }
    return sessions;
}

bool running_a_cell(const kernel_record& k)
{
    return k.requests.pending_count() != 0 || k.execution_state == "busy";
}

void wake_hibernate_wait(kernel_record& k)
{
    if (k.hibernate_wait && !running_a_cell(k))
    {
        k.hibernate_wait->cancel(); // its handler saves the image
    }
}

} // namespace cellbox::gateway
