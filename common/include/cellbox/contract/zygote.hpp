#pragma once
// The zygote's control protocol (cellbox-kernel --zygote; README, "Instant sessions"): JSON,
// one object per line in both directions, over the Unix stream socket its owner (the gateway)
// listens on. Requests carry an "id", echoed in their answer; events arrive in between.
//
//   owner -> zygote   {"op": "spawn" | "go" | "kill", "id": ..., ...}            zygote_request
//   zygote -> owner   {"id": ..., "ok": ..., "pid"?, "error"?, "system_error"?}    zygote_answer
//                     {"event": "ready", "pid", "warm_ms", "warm_modules",
//                      "huge_page_bytes", "huge_page_error"}                     zygote_ready
//                     {"event": "exit", "pid", "verdict": {...}}                 zygote_exit
//
// And on each session's link (a SOCK_SEQPACKET pair), its supervisor sends the zygote one
// late-binding answer per forwarded "go", then its verdict: {"verdict": {...}}.
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/late_binding.hpp"
#include "cellbox/contract/launch_limits.hpp"
#include "cellbox/contract/system_error.hpp"
#include "cellbox/contract/verdict.hpp"

#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <variant>
#include <vector>

namespace cellbox::contract
{

// A program session: Python code run as `python -c CODE ARGV...` instead of a kernel.
struct zygote_script
{
    std::string code;
    std::vector<std::string> argv;

    bool operator==(const zygote_script& other) const
    {
        return code == other.code && argv == other.argv;
    }
};

// Forks a session. A kernel session needs ipc_dir and a connection_file inside it; a program
// session a script. Paths are absolute; unset limits are the zygote's policy's.
struct zygote_spawn
{
    std::string ipc_dir;                  // bound read-write at the same path
    std::string connection_file;          // a kernel session's, inside ipc_dir
    std::optional<zygote_script> script;  // or a program session
    std::string workdir;                  // at /work ("": an empty tmpfs until "go")
    std::optional<workdir_owner> owner;   // workdir's owner on disk: an idmapped /work
    std::optional<std::uint32_t> uid;     // the session's (default: the zygote picks one)
    std::string verdict_file;             // the verdict is also written here
    std::string log_file;                 // the session's stdout and stderr ("": the zygote's)
    launch_limits limits;                 // "memory", "pids", "cpus", "cpu_time", "wall_time"
    std::optional<double> cell_timeout_s; // the kernel's default per-cell limit

    bool operator==(const zygote_spawn& other) const;
};

// Late binding of a session spawned earlier (late_binding.hpp), forwarded to its supervisor.
struct zygote_go
{
    pid_t pid = 0; // the session's supervisor
    late_binding_request binding;

    bool operator==(const zygote_go& other) const
    {
        return pid == other.pid && binding == other.binding;
    }
};

// Ends a session: its supervisor kills it, removes its cgroups and reports its verdict.
struct zygote_kill
{
    pid_t pid = 0;

    bool operator==(const zygote_kill& other) const { return pid == other.pid; }
};

using zygote_op = std::variant<zygote_spawn, zygote_go, zygote_kill>;

struct zygote_request
{
    nlohmann::json id; // echoed in the answer: any JSON (null: none)
    zygote_op op;

    bool operator==(const zygote_request& other) const { return id == other.id && op == other.op; }
};

// A line without its newline.
std::string encode(const zygote_request& request);

// A request line as the zygote reads it: the id to answer with (null when the line has none or
// is not an object) and the op, or why the line was refused.
struct zygote_request_read
{
    nlohmann::json id;
    decoded<zygote_op> op;
};
zygote_request_read decode_zygote_request(std::string_view line);

// The answer to one request. spawn: ok with the session's pid; go: ok (or not, with the
// supervisor's error) and the pid; kill: ok; a refused request: not ok, with the error.
struct zygote_answer
{
    nlohmann::json id;
    bool ok = false;
    std::optional<pid_t> pid;
    std::string error;
    std::optional<contract::system_error> system_error;

    // A refused request: the exception's message, and its errno when a system call failed.
    static zygote_answer failure(nlohmann::json id, const std::exception& e);

    bool operator==(const zygote_answer& other) const
    {
        return id == other.id && ok == other.ok && pid == other.pid && error == other.error &&
               system_error == other.system_error;
    }
};

// Once connected and warm.
struct zygote_ready
{
    pid_t pid = 0; // the zygote's
    double warm_ms = 0;
    std::vector<std::string> warm_modules;
    std::uint64_t huge_page_bytes = 0; // of its heap, folded before its first fork
    std::string huge_page_error;       // why not all of it, empty when nothing failed

    bool operator==(const zygote_ready& other) const
    {
        return pid == other.pid && warm_ms == other.warm_ms && warm_modules == other.warm_modules &&
               huge_page_bytes == other.huge_page_bytes && huge_page_error == other.huge_page_error;
    }
};

// A session ended (after a crash too: internal_error when its supervisor itself died).
struct zygote_exit
{
    pid_t pid = 0;
    contract::verdict verdict;

    bool operator==(const zygote_exit& other) const
    {
        return pid == other.pid && verdict == other.verdict;
    }
};

using zygote_message = std::variant<zygote_answer, zygote_ready, zygote_exit>;

// A line without its newline.
std::string encode(const zygote_message& message);
decoded<zygote_message> decode_zygote_message(std::string_view line);

// The session link: what a supervisor sends its owner (a verdict goes as {"verdict": {...}}).
using supervisor_record = std::variant<late_binding_answer, verdict>;
std::string encode_supervisor_record(const supervisor_record& record);
decoded<supervisor_record> decode_supervisor_record(std::string_view record);

} // namespace cellbox::contract
