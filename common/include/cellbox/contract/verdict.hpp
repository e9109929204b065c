#pragma once
// What happened to a sandboxed program: written by its launcher (cellbox-sandbox, or a zygote
// session's supervisor) to a verdict file or descriptor and into the zygote's exit event, read
// by the gateway to tell the user why a kernel died.
//
// {"verdict": KIND, "exit_code": N (ok, exit), "signal": "SIGKILL", "message": "...",
//  "syscall": "...", "system_error": {...}, "peak_memory_bytes": N, "cpu_ms": N,
//  "wall_ms": N, "pids_limit_hit": false, "degraded": ["memory_cgroup", ...]}
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/system_error.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::contract
{

// The kinds of verdict, in the order of verdict::kind's comment.
inline constexpr const char* verdict_kinds[] = {
    "ok", "exit", "signal", "oom", "timeout_wall", "timeout_cpu", "seccomp", "internal_error"};

struct verdict
{
    // ok, exit, signal, oom, timeout_wall, timeout_cpu, seccomp, internal_error
    std::string kind = "internal_error";
    int exit_code = -1;  // for ok and exit
    int signal = 0;      // for signal, oom, seccomp, timeouts (the signal that ended it)
    std::string message; // internal_error: what failed; seccomp: what was killed
    std::string syscall; // seccomp: the call it was killed for, when the kernel log says
    std::optional<contract::system_error> system_error; // internal_error: the call that failed
    std::uint64_t peak_memory_bytes = 0;
    std::uint64_t cpu_ms = 0;
    std::uint64_t wall_ms = 0;
    bool pids_limit_hit = false;
    std::vector<std::string> degraded; // protections that were unavailable and skipped

    // The launcher's exit status: the program's code, 128 + signal, or 125 for our failures.
    int exit_status() const;
    // Whether exit_code means anything (kind ok or exit).
    bool exited() const { return kind == "ok" || kind == "exit"; }

    bool operator==(const verdict& other) const;
    bool operator!=(const verdict& other) const { return !(*this == other); }
};

// "SIGKILL" for 9; the number as text for a signal without a name.
std::string signal_name(int signal);

nlohmann::json to_json(const verdict& v);
std::string encode(const verdict& v); // one line of JSON, without a newline
decoded<verdict> verdict_from_json(const nlohmann::json& value);
decoded<verdict> decode_verdict(std::string_view text);

// The verdict file (cellbox-sandbox --verdict-file, a zygote spawn's "verdict_file"): one line.
// Writing reports nothing: the launcher's exit status tells the same story in short.
void write_verdict_file(const std::string& path, const verdict& v);
// Refused when the file cannot be read (the launcher was killed before it wrote one).
decoded<verdict> read_verdict_file(const std::string& path);

} // namespace cellbox::contract
