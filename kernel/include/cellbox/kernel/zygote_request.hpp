#pragma once
// The zygote's control protocol, read side: one JSON object per line from its owner (the
// gateway), {"op": "spawn" | "go" | "kill", "id": <echoed>, ...}. Pure functions without
// Python, so that they can be unit-tested and fuzzed on their own.
#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/kernel_session.hpp"
#include "cellbox/sandbox/policy.hpp"
#include "cellbox/sandbox/session.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace cellbox::kernel
{

// One request line: a JSON object with a string "op". Throws std::invalid_argument when it is
// not JSON, nests deeper than max_json_depth (checked before parsing) or is not an object.
nlohmann::json parse_zygote_line(std::string_view line);

// The request's "op"; throws std::invalid_argument when it is missing or not a string.
std::string request_op(const nlohmann::json& request);

// One "spawn" request of the zygote protocol, checked.
struct spawn_request
{
    sandbox::session_config sandbox;
    std::string connection_file;       // a kernel session: its connection file (in ipc_dir)
    std::optional<std::string> script; // or a program session: Python code run as `-c`
    std::vector<std::string> script_argv;
    std::string verdict_file; // also written here, as by cellbox-sandbox --verdict-file
    std::string log_file;     // the session's stdout and stderr ("" = the zygote's)
    session_settings kernel;
};

// The "uid" a spawn request asks for, if any. Throws std::invalid_argument unless it is an
// integer uid.
std::optional<std::uint32_t> requested_uid(const nlohmann::json& request);

// Throws std::invalid_argument with a message for the owner.
spawn_request parse_spawn_request(const nlohmann::json& request, const sandbox::policy& rules,
                                  const kernel_options& defaults, std::uint32_t default_uid);

// The session a "go" or "kill" request names by its "pid"; throws std::invalid_argument.
pid_t session_pid(const nlohmann::json& request);

// The late-binding request a "go" forwards to the session's supervisor (its workdir, memory and
// owner fields), checked as the supervisor will check it; throws std::invalid_argument.
nlohmann::json late_binding_of(const nlohmann::json& request);

} // namespace cellbox::kernel
