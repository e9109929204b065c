#include "cellbox/sandbox/verdict.hpp"

#include <string.h>

namespace cellbox::sandbox
{

int verdict::exit_status() const
{
    if (kind == "ok" || kind == "exit")
    {
        return exit_code;
    }
    if (kind == "internal_error")
    {
        return 125;
    }
    return 128 + signal;
}

nlohmann::json to_json(const verdict& v)
{
    nlohmann::json out = {{"verdict", v.kind},
                          {"peak_memory_bytes", v.peak_memory_bytes},
                          {"cpu_ms", v.cpu_ms},
                          {"wall_ms", v.wall_ms},
                          {"pids_limit_hit", v.pids_limit_hit}};
    if (v.kind == "ok" || v.kind == "exit")
    {
        out["exit_code"] = v.exit_code;
    }
    if (v.signal != 0)
    {
        const char* abbrev = sigabbrev_np(v.signal);
        out["signal"] = abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(v.signal);
    }
    if (!v.syscall.empty())
    {
        out["syscall"] = v.syscall;
    }
    if (!v.message.empty())
    {
        out["message"] = v.message;
    }
    if (!v.degraded.empty())
    {
        out["degraded"] = v.degraded;
    }
    return out;
}

} // namespace cellbox::sandbox
