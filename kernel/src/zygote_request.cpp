#include "cellbox/kernel/zygote_request.hpp"

namespace cellbox::kernel
{

spawn_request session_of(const contract::zygote_spawn& spawn, const sandbox::policy& rules,
                         const kernel_options& defaults, std::uint32_t uid)
{
    spawn_request session;
    session.sandbox.rules = rules;
    session.sandbox.workdir = spawn.workdir;
    session.sandbox.owner = spawn.owner;
    session.sandbox.ipc_dir = spawn.ipc_dir;
    session.sandbox.uid = uid;
    session.connection_file = spawn.connection_file;
    session.verdict_file = spawn.verdict_file;
    session.log_file = spawn.log_file;
    if (spawn.script)
    {
        session.script = spawn.script->code;
        session.script_argv = spawn.script->argv;
    }
    sandbox::override_limits(session.sandbox.rules.limits, spawn.limits);
    session.kernel.cell_timeout_s = spawn.cell_timeout_s.value_or(defaults.cell_timeout_s);
    session.kernel.memory_limit_bytes = defaults.memory_limit_bytes;
    session.kernel.enter_workdir_at_first_cell = true;
    return session;
}

} // namespace cellbox::kernel
