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
    if (!k.reason.empty())
    {
        model["reason"] = k.reason;
    }
    return model;
}

} // namespace cellbox::gateway
