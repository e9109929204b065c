#pragma once
// The steps of a session, as nsjail's containProc runs them: each a named function in the file
// of its isolation step, run in the order of the lists in launcher.cpp (parent_steps for the
// launcher, init_steps for the sandbox's pid 1). A step that throws ends the launch, and its
// name goes in front of the error: a verdict says which step failed.
#include "cellbox/contract/system_error.hpp"
#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/launcher.hpp"
#include "cellbox/unique_fd.hpp"
#include "seccomp_audit.hpp"
#include "signals.hpp"

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <system_error>
#include <vector>

namespace cellbox::sandbox
{

template <class State> struct step
{
    const char* name;
    void (*run)(State&);
};

// errno's error, with what was being done.
inline std::system_error system_failure(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

// "<name> step: <what went wrong>".
std::string step_error(const char* name, const std::exception& e);

// Runs `steps` in order; an exception from one comes out naming it: a failed system call as a
// std::system_error with its errno kept (the verdict reports it), anything else as a
// std::runtime_error.
template <class State> void run_steps(const step<State>* steps, std::size_t count, State& state)
{
    for (const step<State>* s = steps; s != steps + count; ++s)
    {
        try
        {
            s->run(state);
        }
        catch (const std::exception& e)
        {
            if (const auto failed = contract::system_error_of(e))
            {
                const auto& code = dynamic_cast<const std::system_error&>(e).code();
                throw std::system_error(code, std::string(s->name) + " step: " + failed->call);
            }
            throw std::runtime_error(step_error(s->name, e));
        }
    }
}

template <class State, std::size_t N> void run_steps(const step<State> (&steps)[N], State& state)
{
    run_steps(steps, N, state);
}

// What outlives the launch's plan and descriptors: the verdict and what decides it, the
// session's cgroups (removed last) and the init (killed if the launch fails).
struct launch_record
{
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    verdict result;
    seccomp_audit_log audit; // from now on: names the call if the filter kills the payload
    std::unique_ptr<session_cgroup> cgroup;
    std::uint64_t oom_kills_before = 0;
    pid_t init = -1;
};

// The launcher's side of one launch, filled in by parent_steps. Its descriptors close (and the
// signal mask is restored) when the launch is over, before the cgroups are removed.
struct launch_state
{
    launch_state(const session_config& c, const session_hooks& h, launch_record& r)
        : config(c), hooks(h), record(r)
    {
    }

    const session_config& config;
    const session_hooks& hooks;
    launch_record& record;
    sandbox_plan plan;
    cgroup_support cgroups;    // what this machine's cgroups can enforce
    resource_limits in_cgroup; // the limits the session's cgroups keep (if use_cgroups)
    bool use_cgroups = false;
    // Declared in the order they are opened, so that they close in reverse.
    unique_fd program_fd; // O_PATH, executed by the payload (none for hooks.payload)
    unique_fd workdir_tree;
    unique_fd channel, child_channel;       // releases inward, setup errors outward
    unique_fd status_read, status_write;    // the payload's wait status, from the init
    unique_fd init_link, init_link_child;   // late-binding requests to the init
    std::optional<blocked_signals> blocked; // inherited by the init
    unique_fd signals;                      // the launcher's forwarded signals
    unique_fd init_fd;                      // pidfd of the init
};

// The init's side, in its new pid namespace (and its copy of the launcher's memory).
struct init_state
{
    sandbox_plan& plan;
    const session_hooks& hooks;
    int channel;     // the launcher's releases; setup errors back
    int status_pipe; // the payload's wait status, to the launcher
    int program_fd;
    int init_link; // late-binding requests from the launcher, or -1
    std::vector<char> release = std::vector<char>(64 * 1024); // the last release received
    pid_t payload = -1;
};

using launch_step = step<launch_state>;
using init_step = step<init_state>;

// The launcher's steps, by file (the list and its order: launcher.cpp).
// launcher.cpp
void plan_session(launch_state& s);
void open_channels(launch_state& s);
void clone_init(launch_state& s);
void release_to_mount(launch_state& s);
void release_into_limits(launch_state& s);
// protections.cpp
void require_protections(launch_state& s);
// cgroup.cpp
void plan_limits(launch_state& s);
void join_cgroups(launch_state& s);
// payload.cpp
void open_program(launch_state& s);
// mount_tree.cpp
void prepare_directories(launch_state& s);
// signals.cpp
void block_signals(launch_state& s);
// namespaces.cpp
void write_id_maps(launch_state& s);
// seccomp_filter.cpp
void compile_filter(launch_state& s);

// The init's steps, by file.
// init.cpp
void become_init(init_state& s);
void await_id_maps(init_state& s);
void await_limits(init_state& s);
void shield_from_oom(init_state& s);
void stop_being_dumpable(init_state& s);
// namespaces.cpp
void unshare_namespaces(init_state& s);
void unshare_cgroup_namespace(init_state& s);
void set_hostname(init_state& s);
// mount_tree.cpp
void enter_filesystem(init_state& s);
// signals.cpp
void catch_forwarded_signals(init_state& s);
// payload.cpp
void start_payload(init_state& s);
// The init step that starts the payload: the payload's own failures (confine_process, the
// program's execve) are reported under its name.
constexpr const char* payload_step = "payload";

// init.cpp: a setup error, from the init or the payload, to the launcher (which makes it the
// verdict's message).
void report_setup_error(int channel, const std::string& message,
                        std::optional<contract::system_error> error);

// After the steps. init.cpp: pid 1's life once the payload runs (reaps, forwards signals,
// serves late binding), then _exit; on a failed step, the error goes to the launcher.
[[noreturn]] void run_init(init_state& s, const init_step* steps, std::size_t count);
// supervisor.cpp: the launcher watches the session until the init is gone (timers, owner
// link, setup errors, signals), then decides the verdict.
void supervise(launch_state& s);
void conclude(launch_state& s);

} // namespace cellbox::sandbox
