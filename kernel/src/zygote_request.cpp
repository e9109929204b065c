#include "cellbox/kernel/zygote_request.hpp"

#include "cellbox/bounded_json.hpp"
#include "cellbox/byte_size.hpp"
#include "cellbox/sandbox/handover.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <type_traits>

namespace cellbox::kernel
{
namespace
{

using nlohmann::json;

std::string text_field(const json& request, const char* key)
{
    auto it = request.find(key);
    if (it == request.end() || it->is_null())
    {
        return {};
    }
    if (!it->is_string())
    {
        throw std::invalid_argument(std::string(key) + " must be a string");
    }
    return it->get<std::string>();
}

// A whole number >= 0 that fits the unsigned T (2.0 counts: Python clients send floats).
// Converting a double outside T's range would be undefined behaviour, so it is checked first.
template <typename T> std::optional<T> whole_number(const json& value)
{
    static_assert(std::is_unsigned_v<T>);
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (value.is_number_unsigned() && value.get<std::uint64_t>() <= max)
    {
        return static_cast<T>(value.get<std::uint64_t>());
    }
    if (value.is_number_integer() && !value.is_number_unsigned() &&
        value.get<std::int64_t>() >= 0 &&
        static_cast<std::uint64_t>(value.get<std::int64_t>()) <= max)
    {
        return static_cast<T>(value.get<std::int64_t>()); // built in memory rather than parsed
    }
    if (value.is_number_float())
    {
        const double d = value.get<double>();
        if (d >= 0 && d < std::ldexp(1.0, std::numeric_limits<T>::digits) && std::trunc(d) == d)
        {
            return static_cast<T>(d);
        }
    }
    return std::nullopt;
}

// A number >= 0 that fits T.
template <typename T> std::optional<T> number_field(const json& request, const char* key)
{
    auto it = request.find(key);
    if (it == request.end() || it->is_null())
    {
        return std::nullopt;
    }
    if constexpr (std::is_integral_v<T>)
    {
        const auto value = whole_number<T>(*it);
        if (!value)
        {
            throw std::invalid_argument(std::string(key) + " must be a whole number >= 0 up to " +
                                        std::to_string(std::numeric_limits<T>::max()));
        }
        return value;
    }
    else
    {
        if (!it->is_number() || !(it->get<double>() >= 0) || !std::isfinite(it->get<double>()))
        {
            throw std::invalid_argument(std::string(key) + " must be a number >= 0");
        }
        return it->get<T>();
    }
}

std::optional<std::uint64_t> size_field(const json& request, const char* key)
{
    auto it = request.find(key);
    if (it == request.end() || it->is_null())
    {
        return std::nullopt;
    }
    if (it->is_number_unsigned())
    {
        return it->get<std::uint64_t>();
    }
    if (it->is_string())
    {
        return cellbox::parse_byte_size(it->get<std::string>());
    }
    throw std::invalid_argument(std::string(key) + " must be a byte count or a size like \"1G\"");
}

} // namespace

json parse_zygote_line(std::string_view line)
{
    if (!json_depth_within(line))
    {
        throw std::invalid_argument("a request may not nest JSON deeper than " +
                                    std::to_string(max_json_depth) + " levels");
    }
    json request = parse_json_bounded(line);
    if (!request.is_object())
    {
        throw std::invalid_argument("a request must be a JSON object");
    }
    return request;
}

std::string request_op(const json& request)
{
    const auto it = request.find("op");
    if (it == request.end() || !it->is_string())
    {
        throw std::invalid_argument("a request needs a string \"op\"");
    }
    return it->get<std::string>();
}

std::optional<std::uint32_t> requested_uid(const json& request)
{
    return number_field<std::uint32_t>(request, "uid");
}

spawn_request parse_spawn_request(const json& request, const sandbox::policy& rules,
                                  const kernel_options& defaults, std::uint32_t default_uid)
{
    spawn_request spawn;
    spawn.sandbox.rules = rules;
    spawn.sandbox.workdir = text_field(request, "workdir");
    spawn.sandbox.owner = sandbox::parse_workdir_owner(request);
    if (spawn.sandbox.owner && spawn.sandbox.workdir.empty())
    {
        throw std::invalid_argument("owner_uid needs a workdir");
    }
    spawn.sandbox.ipc_dir = text_field(request, "ipc_dir");
    spawn.sandbox.uid = requested_uid(request).value_or(default_uid);
    spawn.connection_file = text_field(request, "connection_file");
    spawn.verdict_file = text_field(request, "verdict_file");
    spawn.log_file = text_field(request, "log_file");
    for (const auto* path : {&spawn.sandbox.workdir, &spawn.sandbox.ipc_dir, &spawn.log_file,
                             &spawn.verdict_file, &spawn.connection_file})
    {
        if (!path->empty() && path->front() != '/')
        {
            throw std::invalid_argument("paths must be absolute: " + *path);
        }
    }
    if (auto it = request.find("script"); it != request.end() && !it->is_null())
    {
        const auto argv = it->is_object() ? it->find("argv") : it->end();
        if (!it->is_object() || !it->contains("code") || !(*it)["code"].is_string() ||
            (argv != it->end() && !argv->is_array()))
        {
            throw std::invalid_argument("script must be {\"code\": \"...\", \"argv\": [...]}");
        }
        spawn.script = (*it)["code"].get<std::string>();
        if (argv != it->end())
        {
            for (const auto& arg : *argv)
            {
                if (!arg.is_string())
                {
                    throw std::invalid_argument("script argv must hold strings");
                }
                spawn.script_argv.push_back(arg.get<std::string>());
            }
        }
    }
    else
    {
        const std::string& dir = spawn.sandbox.ipc_dir;
        if (spawn.connection_file.empty() || dir.empty() ||
            spawn.connection_file.compare(0, dir.size() + 1, dir + "/") != 0)
        {
            throw std::invalid_argument(
                "a kernel session needs ipc_dir and a connection_file inside it");
        }
    }
    auto& limits = spawn.sandbox.rules.limits;
    if (auto memory = size_field(request, "memory"))
    {
        limits.memory_bytes = memory;
    }
    if (auto pids = number_field<std::uint64_t>(request, "pids"))
    {
        limits.pids = pids;
    }
    if (auto cpus = number_field<double>(request, "cpus"))
    {
        limits.cpus = cpus;
    }
    if (auto cpu_time = number_field<double>(request, "cpu_time"))
    {
        limits.cpu_time_s = cpu_time;
    }
    if (auto wall_time = number_field<double>(request, "wall_time"))
    {
        limits.wall_time_s = wall_time;
    }
    spawn.kernel.cell_timeout_s =
        number_field<double>(request, "cell_timeout").value_or(defaults.cell_timeout_s);
    spawn.kernel.memory_limit_bytes = defaults.memory_limit_bytes;
    spawn.kernel.enter_workdir_at_first_cell = true;
    return spawn;
}

pid_t session_pid(const json& request)
{
    const auto it = request.find("pid");
    if (it == request.end() || !it->is_number_integer() || it->get<std::int64_t>() <= 0 ||
        it->get<std::int64_t>() > std::numeric_limits<pid_t>::max())
    {
        throw std::invalid_argument("a request needs the session's \"pid\"");
    }
    return static_cast<pid_t>(it->get<std::int64_t>());
}

json late_binding_of(const json& request)
{
    json binding = json::object();
    for (const char* key : {"workdir", "memory", "owner_uid", "owner_gid"})
    {
        if (const auto it = request.find(key); it != request.end())
        {
            binding[key] = *it;
        }
    }
    sandbox::parse_late_binding(binding); // malformed requests are refused here, not later
    return binding;
}

} // namespace cellbox::kernel
