#include "cellbox/contract/verdict.hpp"

#include "json_fields.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iterator>

namespace cellbox::contract
{
namespace
{

using nlohmann::json;

bool known_kind(const std::string& kind)
{
    return std::any_of(std::begin(verdict_kinds), std::end(verdict_kinds),
                       [&kind](const char* known) { return kind == known; });
}

int signal_number(const std::string& name)
{
    for (int signal = 1; signal < NSIG; ++signal)
    {
        if (signal_name(signal) == name)
        {
            return signal;
        }
    }
    throw std::invalid_argument("signal must name a signal, such as \"SIGKILL\"; got \"" + name +
                                "\"");
}

} // namespace

int verdict::exit_status() const
{
    if (exited())
    {
        return exit_code;
    }
    if (kind == "internal_error")
    {
        return 125;
    }
    return 128 + signal;
}

bool verdict::operator==(const verdict& other) const
{
    return kind == other.kind && exit_code == other.exit_code && signal == other.signal &&
           message == other.message && syscall == other.syscall &&
           system_error == other.system_error && peak_memory_bytes == other.peak_memory_bytes &&
           cpu_ms == other.cpu_ms && wall_ms == other.wall_ms &&
           pids_limit_hit == other.pids_limit_hit && degraded == other.degraded;
}

std::string signal_name(int signal)
{
    const char* abbrev = signal > 0 ? sigabbrev_np(signal) : nullptr;
    return abbrev != nullptr ? std::string("SIG") + abbrev : std::to_string(signal);
}

json to_json(const verdict& v)
{
    json out = {{"verdict", v.kind},
                {"peak_memory_bytes", v.peak_memory_bytes},
                {"cpu_ms", v.cpu_ms},
                {"wall_ms", v.wall_ms},
                {"pids_limit_hit", v.pids_limit_hit}};
    if (v.exited())
    {
        out["exit_code"] = v.exit_code;
    }
    if (v.signal != 0)
    {
        out["signal"] = signal_name(v.signal);
    }
    if (!v.syscall.empty())
    {
        out["syscall"] = v.syscall;
    }
    if (!v.message.empty())
    {
        out["message"] = v.message;
    }
    detail::add_system_error(out, v.system_error);
    if (!v.degraded.empty())
    {
        out["degraded"] = v.degraded;
    }
    return out;
}

std::string encode(const verdict& v)
{
    return detail::dump(to_json(v));
}

decoded<verdict> verdict_from_json(const json& value)
{
    return detail::decode_object(
        value, "a verdict",
        [&]
        {
            verdict v;
            v.kind = detail::text(value, "verdict");
            if (!known_kind(v.kind))
            {
                throw std::invalid_argument("verdict must be one of ok, exit, signal, oom, "
                                            "timeout_wall, timeout_cpu, seccomp, internal_error");
            }
            if (v.exited())
            {
                const json* code = detail::member(value, "exit_code");
                if (code == nullptr || !code->is_number_integer() ||
                    code->get<std::int64_t>() < 0 || code->get<std::int64_t>() > 255)
                {
                    throw std::invalid_argument("exit_code must be a number from 0 to 255");
                }
                v.exit_code = code->get<int>();
            }
            if (const std::string name = detail::text(value, "signal"); !name.empty())
            {
                v.signal = signal_number(name);
            }
            v.message = detail::text(value, "message");
            v.syscall = detail::text(value, "syscall");
            v.system_error = detail::system_error_member(value);
            v.peak_memory_bytes =
                detail::whole_number<std::uint64_t>(value, "peak_memory_bytes").value_or(0);
            v.cpu_ms = detail::whole_number<std::uint64_t>(value, "cpu_ms").value_or(0);
            v.wall_ms = detail::whole_number<std::uint64_t>(value, "wall_ms").value_or(0);
            v.pids_limit_hit = detail::flag(value, "pids_limit_hit").value_or(false);
            v.degraded = detail::texts(value, "degraded");
            return v;
        });
}

decoded<verdict> decode_verdict(std::string_view text)
{
    return detail::decode_text(text, "a verdict", &verdict_from_json);
}

void write_verdict_file(const std::string& path, const verdict& v)
{
    std::ofstream(path) << encode(v) << "\n";
}

decoded<verdict> read_verdict_file(const std::string& path)
{
    std::ifstream file(path);
    if (!file)
    {
        return decode_error{"no verdict file at " + path};
    }
    const std::string text{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    return decode_verdict(text);
}

} // namespace cellbox::contract
