#pragma once
// Starting the gateway's helper processes (sandbox launchers, zygotes).
#include <string>
#include <sys/types.h>
#include <vector>

namespace cellbox::gateway
{

// Forks and execs argv[0] with argv in a session of its own (interrupts are signalled to its
// process group alone; the gateway's terminal signals never reach it), with no signal blocked
// and none of the gateway's descriptors above stdio but `pass_fd`, which it gets as fd 3.
// Returns its pid; throws std::system_error naming `what` when it cannot fork.
pid_t spawn_in_own_session(std::vector<std::string> argv, const std::string& what,
                           int pass_fd = -1);

} // namespace cellbox::gateway
