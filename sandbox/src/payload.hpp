#pragma once

#include "cellbox/sandbox/launcher.hpp"

#include <exception>
#include <string_view>

namespace cellbox::sandbox
{

// The payload process (forked by the sandbox's init): confines itself, then either executes
// the program (`program_fd`, opened O_PATH by the launcher) or runs hooks.payload in this
// process. Both entry points share every isolation step; failures before the program starts
// are reported on `channel`. Never returns.
[[noreturn]] void run_payload(const sandbox_plan& plan, const session_hooks& hooks, int channel,
                              int program_fd);

// The error channel from the sandbox (its init, then the payload) to the launcher, a
// SOCK_SEQPACKET pair: at most one record, a failure before the program started (the launcher
// sees end-of-file once the payload's execve closed the last copy). It is an internal_error
// verdict, with the errno of the system call that failed; the launcher takes it as its own verdict.
void report_setup_failure(int channel, const std::exception& e);
void take_setup_failure(std::string_view record, verdict& result);

} // namespace cellbox::sandbox
