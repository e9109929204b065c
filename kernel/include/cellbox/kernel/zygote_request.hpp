#pragma once
// The zygote's requests (contract/zygote.hpp) turned into what a session is run with: the
// zygote's policy and kernel defaults, with the request's paths, identity and limits. Pure
// functions without Python, unit-tested on their own.
#include "cellbox/contract/zygote.hpp"
#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/kernel_session.hpp"
#include "cellbox/sandbox/policy.hpp"
#include "cellbox/sandbox/session.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cellbox::kernel
{

// One session to fork, as the zygote runs it.
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

// `spawn` under the zygote's policy `rules` and `defaults`, as uid `uid` (the request's, or one
// the zygote picked).
spawn_request session_of(const contract::zygote_spawn& spawn, const sandbox::policy& rules,
                         const kernel_options& defaults, std::uint32_t uid);

} // namespace cellbox::kernel
