#pragma once

#include <cstdint>
#include <optional>
#include <xeus/xkernel_configuration.hpp>

namespace cellbox::kernel
{

struct session_settings
{
    double cell_timeout_s = 0;                       // 0: no limit
    std::optional<std::uint64_t> memory_limit_bytes; // soft limit (RLIMIT_AS)
    // A zygote session may get its /work mounted after it started (late binding): the first
    // cell then enters the mounted directory.
    bool enter_workdir_at_first_cell = false;
};

// Builds the xeus kernel around the Python interpreter of this process and serves the
// connection until shutdown; xeus ends the process. Python must be initialised and no ZeroMQ
// context or xeus thread may exist yet (a plain start and a zygote's forked session both
// qualify). Throws when the kernel cannot be built.
void serve_kernel(const xeus::xconfiguration& config, const session_settings& settings);

} // namespace cellbox::kernel
