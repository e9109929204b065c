#pragma once

#include "cellbox/sandbox/session.hpp"
#include "cellbox/sandbox/verdict.hpp"

#include <string>
#include <vector>

namespace cellbox::sandbox
{

// One protection and whether this machine, as this user, can give it.
struct protection_status
{
    protection which;
    bool available;
    std::string note;
};

// Probes every protection (forks short-lived children to try the namespaces).
std::vector<protection_status> check_protections();

// Runs config.argv in a new sandbox and waits for it:
//
//   launcher (here) ── clone(new namespaces) ──▶ init, pid 1: builds the filesystem, reaps,
//                                                  forwards signals
//                                                  └─ fork ──▶ payload: confines itself, execve
//
// The launcher keeps the cgroups, the timers and the verdict; SIGINT, SIGTERM, SIGHUP,
// SIGQUIT, SIGUSR1 and SIGUSR2 it receives are forwarded to the payload.
verdict run_sandboxed(const session_config& config);

} // namespace cellbox::sandbox
