#pragma once
// The end of the gateway's helper processes at shutdown: launchers and sessions' supervisors
// get SIGTERM and one grace period to stop their sandboxes and remove their cgroups.
#include <chrono>
#include <functional>
#include <sys/types.h>
#include <vector>

namespace cellbox::gateway
{

// One for every kind of helper. A helper SIGKILLed cannot remove its session's cgroups (they
// stay until the next launcher on this host removes them), and on a loaded machine (CI running
// sanitized builds on two cores) a session's interpreter can take seconds to end.
inline constexpr std::chrono::seconds shutdown_grace{8};

// Whether a process has ended: a child of the gateway's is reaped on the way.
bool child_reaped(pid_t pid);
// Whether a process that is not the gateway's child (a zygote's session) has ended: gone, or
// a zombie waiting for whoever inherited it.
bool process_gone(pid_t pid);

// Waits until `gone` holds for every pid of `pids` and for `also_wait_for` (nullptr: nothing
// more), or until `deadline`; then SIGKILLs each process left, with a warning naming it and
// `what` ("a launcher", "a session's supervisor"). Returns the pids killed.
std::vector<pid_t> kill_when_late(const std::vector<pid_t>& pids,
                                  const std::function<bool(pid_t)>& gone,
                                  std::chrono::steady_clock::time_point deadline, const char* what,
                                  const std::function<bool()>& also_wait_for = nullptr);

} // namespace cellbox::gateway
