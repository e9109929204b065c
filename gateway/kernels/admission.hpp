#pragma once

#include "auth/identity.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cellbox::gateway
{

// The server's limits on how many kernels run (0: none).
struct admission_limits
{
    int max_kernels = 1024;        // on the whole server, starting ones included
    int max_kernels_per_user = 16; // per token user; the admin is exempt
};

// Why `who` may not start another kernel now, given how many the server runs and how many of
// them are `who`'s, or nothing. The token's own kernel limit lowers the server's.
std::optional<std::string> admission_error(const identity& who, int running, int owned,
                                           const admission_limits& limits);

// What one kernel of `who` may use: the server's defaults lowered by the token's limits.
struct kernel_allowance
{
    std::uint64_t memory_bytes = 0;
    double cell_timeout_s = 0;     // default cell limit (0: none)
    double cell_timeout_cap_s = 0; // the most a request may ask (0: no cap)
};
kernel_allowance allowance_of(const identity& who, std::uint64_t memory_bytes,
                              double cell_timeout_s, double cell_timeout_cap_s);

} // namespace cellbox::gateway
