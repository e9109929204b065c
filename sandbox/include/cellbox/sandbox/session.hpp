#pragma once

#include "cellbox/contract/late_binding.hpp"
#include "cellbox/sandbox/policy.hpp"
#include "cellbox/sandbox/seccomp_filter.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cellbox::sandbox
{

// Who owns a work directory on disk when it is not the session's uid (an idmapped /work):
// the late-binding contract's type, also given at launch.
using workdir_owner = contract::workdir_owner;

// What a caller asks for: one program, isolated.
struct session_config
{
    policy rules;
    std::string workdir;                // host directory bound read-write at /work ("" = tmpfs)
    std::optional<workdir_owner> owner; // workdir's owner on disk (idmapped /work); else chown
    std::string ipc_dir;                // host directory bound read-write at the same path
    std::optional<std::uint32_t> uid;   // sandbox uid/gid when the launcher is root
    std::vector<std::string> argv;      // argv[0]: program, resolved on the host's PATH
    bool allow_degraded = false;        // run even if a required protection is unavailable
    // rules.allowed_syscalls compiled ahead (at build time, or once by a zygote); without it
    // the launcher compiles the filter while the sandbox builds its filesystem.
    std::optional<seccomp_filter> filter;
};

// Everything the parent prepares before a sandboxed process exists. The child side
// (build_filesystem, confine_process) only applies it, so a process forked from a warm
// interpreter can enter the same isolation as one started by the launcher.
struct sandbox_plan
{
    const session_config* config = nullptr;
    seccomp_filter filter;
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;
    bool as_root = false;          // launcher is root: drop to uid/gid; else user namespace
    bool memory_in_cgroup = false; // otherwise RLIMIT_AS stands in
    bool pids_in_cgroup = false;   // otherwise RLIMIT_NPROC stands in
    int workdir_tree = -1;         // detached, idmapped workdir mount (config->owner), or -1
};

// Child side, step 1 (in new mount and PID namespaces, as their pid 1): a fresh root of
// read-only binds, a new /proc, a minimal /dev, tmpfs /tmp, /work, the ipc dir; pivot_root.
// Throws std::system_error naming the step that failed.
void build_filesystem(const sandbox_plan& plan);

// Child side, step 2 (the process that will run the payload): session, rlimits, capabilities,
// uid, no_new_privs, environment, descriptors (all close at execve), and seccomp last.
void confine_process(const sandbox_plan& plan);

// Resolves a program name the way execvp would, on the launcher's PATH.
std::string resolve_program(const std::string& name);

} // namespace cellbox::sandbox
