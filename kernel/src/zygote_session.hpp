#pragma once

#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/kernel_session.hpp"
#include "cellbox/sandbox/session.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <pybind11/pybind11.h>
#include <string>
#include <vector>

namespace cellbox::kernel
{

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

// Throws std::invalid_argument with a message for the owner.
spawn_request parse_spawn_request(const nlohmann::json& request, const sandbox::policy& rules,
                                  const kernel_options& defaults, std::uint32_t default_uid);

// In the freshly forked child of the zygote: becomes the session's supervisor (cellbox-sandbox's
// launcher role: cgroups, timers, signal forwarding, verdict) around a payload that continues
// this warm interpreter as the session. The verdict goes to `link` as {"verdict": {...}}.
[[noreturn]] void become_supervisor(const spawn_request& request, int link,
                                    const pybind11::object& support);

} // namespace cellbox::kernel
