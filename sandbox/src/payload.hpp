#pragma once

#include "cellbox/sandbox/launcher.hpp"

namespace cellbox::sandbox
{

// The payload process (forked by the sandbox's init): confines itself, then either executes
// the program (`program_fd`, opened O_PATH by the launcher) or runs hooks.payload in this
// process. Both entry points share every isolation step; failures before the program starts
// are reported on `channel`. Never returns.
[[noreturn]] void run_payload(const sandbox_plan& plan, const session_hooks& hooks, int channel,
                              int program_fd);

} // namespace cellbox::sandbox
