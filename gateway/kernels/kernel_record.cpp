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

} // namespace cellbox::gateway
