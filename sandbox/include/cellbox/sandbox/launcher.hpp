#pragma once

#include "cellbox/sandbox/session.hpp"
#include "cellbox/sandbox/verdict.hpp"

#include <functional>
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

// How a session is started and steered beyond what session_config says. The defaults give
// cellbox-sandbox's behaviour: execute config.argv, no owner link.
struct session_hooks
{
    // Runs in the payload process instead of executing config.argv: after confine_process
    // (seccomp included) and with every descriptor above stdio closed, so it sees exactly
    // what an executed program would. Its result is the payload's exit status. A process
    // forked from a warm interpreter (the zygote) becomes a session this way, without execve.
    std::function<int()> payload;

    // The supervisor's end of a SOCK_SEQPACKET link to the session's owner, or -1. Each
    // message is a late-binding request (handover.hpp), answered with one reply; end-of-file
    // means the owner is gone and kills the session.
    int owner_link = -1;
};

// Runs config.argv (or hooks.payload) in a new sandbox and waits for it:
//
//   launcher (here) ── clone(new namespaces) ──▶ init, pid 1: builds the filesystem, reaps,
//                                                  forwards signals
//                                                  └─ fork ──▶ payload: confines itself, execve
//
// The launcher keeps the cgroups, the timers and the verdict; SIGINT, SIGTERM, SIGHUP,
// SIGQUIT, SIGUSR1 and SIGUSR2 it receives are forwarded to the payload.
verdict run_sandboxed(const session_config& config, const session_hooks& hooks = {});

} // namespace cellbox::sandbox
