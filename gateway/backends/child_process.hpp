#pragma once
// Starting the gateway's helper processes (sandbox launchers, zygotes).
#include <string>
#include <sys/types.h>
#include <vector>

namespace cellbox::gateway
{

// The descriptors a child gets besides /dev/null as stdin.
struct child_stdio
{
    int output = -1;  // its stdout and stderr (-1: /dev/null); never the gateway's own
    int pass_fd = -1; // given as fd 3
};

// Forks and execs argv[0] with argv in a session of its own (interrupts are signalled to its
// process group alone; the gateway's terminal signals never reach it), with no signal blocked,
// the descriptors of `stdio` and none other of the gateway's, and child_environment() as its
// whole environment. Returns its pid; throws std::system_error naming `what` when it cannot
// fork.
pid_t spawn_in_own_session(std::vector<std::string> argv, const std::string& what,
                           const child_stdio& stdio = {});

// The environment of every process the gateway starts, built from an allow-list of the
// gateway's own (`environment`, environ by default): PATH, the locale (LANG, LANGUAGE, LC_*),
// TZ and the sanitizers' options. Nothing else: the gateway's environment may hold its admin
// token (CELLBOX_TOKEN), its JWT secret or a deployment's credentials, and a process keeps the
// environment it was started with in its memory (the zygote's sessions are forks of it) even
// after clearenv(). The sandbox gives its payloads the policy's environment in any case.
std::vector<std::string> child_environment(const char* const* environment = nullptr);

} // namespace cellbox::gateway
