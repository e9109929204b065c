#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cellbox::sandbox
{

// What happened to a sandboxed program, as the gateway and users act on it.
struct verdict
{
    // ok, exit, signal, oom, timeout_wall, timeout_cpu, seccomp, internal_error
    std::string kind = "internal_error";
    int exit_code = -1;  // for ok and exit
    int signal = 0;      // for signal, oom, seccomp, timeouts (the signal that ended it)
    std::string message; // internal_error: what failed; seccomp: what was killed
    std::string syscall; // seccomp: the call it was killed for, when the kernel log says
    std::uint64_t peak_memory_bytes = 0;
    std::uint64_t cpu_ms = 0;
    std::uint64_t wall_ms = 0;
    bool pids_limit_hit = false;
    std::vector<std::string> degraded; // protections that were unavailable and skipped

    // The launcher's exit status: the program's code, 128 + signal, or 125 for our failures.
    int exit_status() const;
};

nlohmann::json to_json(const verdict& v);

} // namespace cellbox::sandbox
