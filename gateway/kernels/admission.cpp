#include "kernels/admission.hpp"

#include <algorithm>

namespace cellbox::gateway
{

std::optional<std::string> admission_error(const identity& who, int running, int owned,
                                           const admission_limits& limits)
{
    if (limits.max_kernels > 0 && running >= limits.max_kernels)
    {
        return "the server runs its maximum of " + std::to_string(limits.max_kernels) +
               " kernels; try again later";
    }
    int quota = who.admin ? 0 : limits.max_kernels_per_user;
    if (who.limits.kernels && (quota == 0 || *who.limits.kernels < quota))
    {
        quota = *who.limits.kernels;
    }
    if (!who.admin && (quota > 0 || who.limits.kernels) && owned >= quota)
    {
        return "user " + who.user + " already has " + std::to_string(owned) +
               " kernels, the most allowed (" + std::to_string(quota) + "); shut one down first";
    }
    return std::nullopt;
}

kernel_allowance allowance_of(const identity& who, std::uint64_t memory_bytes,
                              double cell_timeout_s, double cell_timeout_cap_s)
{
    kernel_allowance allowance;
    allowance.memory_bytes = std::min(memory_bytes, who.limits.memory_bytes.value_or(memory_bytes));
    allowance.cell_timeout_cap_s = cell_timeout_cap_s;
    if (who.limits.cell_timeout_s && (allowance.cell_timeout_cap_s == 0 ||
                                      *who.limits.cell_timeout_s < allowance.cell_timeout_cap_s))
    {
        allowance.cell_timeout_cap_s = *who.limits.cell_timeout_s;
    }
    allowance.cell_timeout_s = who.limits.cell_timeout_s.value_or(cell_timeout_s);
    if (allowance.cell_timeout_cap_s > 0 &&
        (allowance.cell_timeout_s == 0 || allowance.cell_timeout_s > allowance.cell_timeout_cap_s))
    {
        allowance.cell_timeout_s = allowance.cell_timeout_cap_s;
    }
    return allowance;
}

} // namespace cellbox::gateway
