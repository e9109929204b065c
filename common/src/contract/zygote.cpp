#include "cellbox/contract/zygote.hpp"

#include "json_fields.hpp"

#include <limits>

namespace cellbox::contract
{
namespace
{

using nlohmann::json;

template <typename... F> struct overloaded : F...
{
    using F::operator()...;
};
template <typename... F> overloaded(F...) -> overloaded<F...>;

pid_t required_pid(const json& object, const std::string& why)
{
    const json* pid = detail::member(object, "pid");
    if (pid == nullptr || !pid->is_number_integer() || pid->get<std::int64_t>() <= 0 ||
        pid->get<std::int64_t>() > std::numeric_limits<pid_t>::max())
    {
        throw std::invalid_argument(why);
    }
    return static_cast<pid_t>(pid->get<std::int64_t>());
}

template <typename T> void add(json& object, const char* key, const std::optional<T>& value)
{
    if (value)
    {
        object[key] = *value;
    }
}

void add(json& object, const char* key, const std::string& value)
{
    if (!value.empty())
    {
        object[key] = value;
    }
}

json spawn_to_json(const zygote_spawn& spawn)
{
    json out = {{"op", "spawn"}};
    add(out, "ipc_dir", spawn.ipc_dir);
    add(out, "connection_file", spawn.connection_file);
    if (spawn.script)
    {
        out["script"] = {{"code", spawn.script->code}, {"argv", spawn.script->argv}};
    }
    add(out, "workdir", spawn.workdir);
    add_workdir_owner(out, spawn.owner);
    add(out, "uid", spawn.uid);
    add(out, "verdict_file", spawn.verdict_file);
    add(out, "log_file", spawn.log_file);
    add(out, "memory", spawn.limits.memory_bytes);
    add(out, "pids", spawn.limits.pids);
    add(out, "cpus", spawn.limits.cpus);
    add(out, "cpu_time", spawn.limits.cpu_time_s);
    add(out, "wall_time", spawn.limits.wall_time_s);
    add(out, "cell_timeout", spawn.cell_timeout_s);
    return out;
}

std::optional<zygote_script> script_of(const json& request)
{
    const json* script = detail::member(request, "script");
    if (script == nullptr)
    {
        return std::nullopt;
    }
    const json* code = script->is_object() ? detail::member(*script, "code") : nullptr;
    const auto argv = script->is_object() ? script->find("argv") : script->end();
    if (code == nullptr || !code->is_string() || (argv != script->end() && !argv->is_array()))
    {
        throw std::invalid_argument("script must be {\"code\": \"...\", \"argv\": [...]}");
    }
    zygote_script result{code->get<std::string>(), {}};
    if (argv != script->end())
    {
        for (const json& arg : *argv)
        {
            if (!arg.is_string())
            {
                throw std::invalid_argument("script argv must hold strings");
            }
            result.argv.push_back(arg.get<std::string>());
        }
    }
    return result;
}

zygote_spawn spawn_from_json(const json& request)
{
    zygote_spawn spawn;
    spawn.workdir = detail::absolute_path(request, "workdir");
    spawn.owner = workdir_owner_from_json(request).value();
    if (spawn.owner && spawn.workdir.empty())
    {
        throw std::invalid_argument("owner_uid needs a workdir");
    }
    spawn.ipc_dir = detail::absolute_path(request, "ipc_dir");
    spawn.uid = detail::whole_number<std::uint32_t>(request, "uid");
    spawn.connection_file = detail::absolute_path(request, "connection_file");
    spawn.verdict_file = detail::absolute_path(request, "verdict_file");
    spawn.log_file = detail::absolute_path(request, "log_file");
    spawn.script = script_of(request);
    if (!spawn.script)
    {
        const std::string& dir = spawn.ipc_dir;
        if (spawn.connection_file.empty() || dir.empty() ||
            spawn.connection_file.compare(0, dir.size() + 1, dir + "/") != 0)
        {
            throw std::invalid_argument(
                "a kernel session needs ipc_dir and a connection_file inside it");
        }
    }
    spawn.limits.memory_bytes = detail::byte_size(request, "memory");
    spawn.limits.pids = detail::whole_number<std::uint64_t>(request, "pids");
    spawn.limits.cpus = detail::non_negative(request, "cpus");
    spawn.limits.cpu_time_s = detail::non_negative(request, "cpu_time");
    spawn.limits.wall_time_s = detail::non_negative(request, "wall_time");
    spawn.cell_timeout_s = detail::non_negative(request, "cell_timeout");
    return spawn;
}

zygote_op op_from_json(const json& request)
{
    const json* op = detail::member(request, "op");
    if (op == nullptr || !op->is_string())
    {
        throw std::invalid_argument("a request needs a string \"op\"");
    }
    const std::string name = op->get<std::string>();
    const std::string no_pid = "a request needs the session's \"pid\"";
    if (name == "spawn")
    {
        return spawn_from_json(request);
    }
    if (name == "go")
    {
        const pid_t pid = required_pid(request, no_pid);
        return zygote_go{pid, late_binding_request_from_json(request).value()};
    }
    if (name == "kill")
    {
        return zygote_kill{required_pid(request, no_pid)};
    }
    throw std::invalid_argument("unknown op \"" + name + "\"");
}

json answer_to_json(const zygote_answer& answer)
{
    json out = {{"id", answer.id}, {"ok", answer.ok}};
    add(out, "pid", answer.pid);
    add(out, "error", answer.error);
    detail::add_system_error(out, answer.system_error);
    return out;
}

zygote_answer answer_from_json(const json& message)
{
    zygote_answer answer;
    answer.id = message.contains("id") ? message["id"] : json();
    const auto ok = detail::flag(message, "ok");
    if (!ok)
    {
        throw std::invalid_argument("an answer needs \"ok\": true or false");
    }
    answer.ok = *ok;
    if (detail::member(message, "pid") != nullptr)
    {
        answer.pid = required_pid(message, "pid must be a process id");
    }
    answer.error = detail::text(message, "error");
    answer.system_error = detail::system_error_member(message);
    return answer;
}

zygote_message event_from_json(const json& message, const std::string& event)
{
    if (event == "ready")
    {
        zygote_ready ready;
        ready.pid = required_pid(message, "a ready event needs the zygote's \"pid\"");
        ready.warm_ms = detail::non_negative(message, "warm_ms").value_or(0);
        ready.warm_modules = detail::texts(message, "warm_modules");
        ready.huge_page_bytes = detail::byte_size(message, "huge_page_bytes").value_or(0);
        ready.huge_page_error = detail::text(message, "huge_page_error");
        return ready;
    }
    if (event == "exit")
    {
        zygote_exit exit;
        exit.pid = required_pid(message, "an exit event needs the session's \"pid\"");
        const json* verdict = detail::member(message, "verdict");
        if (verdict == nullptr)
        {
            throw std::invalid_argument("an exit event needs the session's \"verdict\"");
        }
        auto decoded_verdict = verdict_from_json(*verdict);
        if (!decoded_verdict)
        {
            throw std::invalid_argument("the exit event's verdict: " + decoded_verdict.error());
        }
        exit.verdict = std::move(decoded_verdict).value();
        return exit;
    }
    throw std::invalid_argument("unknown event \"" + event + "\"");
}

} // namespace

bool zygote_spawn::operator==(const zygote_spawn& other) const
{
    return ipc_dir == other.ipc_dir && connection_file == other.connection_file &&
           script == other.script && workdir == other.workdir && owner == other.owner &&
           uid == other.uid && verdict_file == other.verdict_file && log_file == other.log_file &&
           limits == other.limits && cell_timeout_s == other.cell_timeout_s;
}

std::string encode(const zygote_request& request)
{
    json out = std::visit(overloaded{[](const zygote_spawn& spawn) { return spawn_to_json(spawn); },
                                     [](const zygote_go& go)
                                     {
                                         json out = to_json(go.binding);
                                         out["op"] = "go";
                                         out["pid"] = go.pid;
                                         return out;
                                     },
                                     [](const zygote_kill& kill) {
                                         return json{{"op", "kill"}, {"pid", kill.pid}};
                                     }},
                          request.op);
    if (!request.id.is_null())
    {
        out["id"] = request.id;
    }
    return detail::dump(out);
}

zygote_request_read decode_zygote_request(std::string_view line)
{
    json request;
    try
    {
        request = detail::parse_object(line, "a request");
    }
    catch (const std::exception& e)
    {
        return {json(), decode_error{e.what()}};
    }
    json id = request.contains("id") ? request["id"] : json();
    return {std::move(id), detail::decode([&] { return op_from_json(request); })};
}

zygote_answer zygote_answer::failure(json id, const std::exception& e)
{
    return {std::move(id), false, std::nullopt, e.what(), system_error_of(e)};
}

std::string encode(const zygote_message& message)
{
    return detail::dump(
        std::visit(overloaded{[](const zygote_answer& answer) { return answer_to_json(answer); },
                              [](const zygote_ready& ready)
                              {
                                  return json{{"event", "ready"},
                                              {"pid", ready.pid},
                                              {"warm_ms", ready.warm_ms},
                                              {"warm_modules", ready.warm_modules},
                                              {"huge_page_bytes", ready.huge_page_bytes},
                                              {"huge_page_error", ready.huge_page_error}};
                              },
                              [](const zygote_exit& exit) {
                                  return json{{"event", "exit"},
                                              {"pid", exit.pid},
                                              {"verdict", to_json(exit.verdict)}};
                              }},
                   message));
}

decoded<zygote_message> decode_zygote_message(std::string_view line)
{
    return detail::decode(
        [&]() -> zygote_message
        {
            const json message = detail::parse_object(line, "a zygote message");
            if (const json* event = detail::member(message, "event"))
            {
                if (!event->is_string())
                {
                    throw std::invalid_argument("event must be a string");
                }
                return event_from_json(message, event->get<std::string>());
            }
            return answer_from_json(message);
        });
}

std::string encode_supervisor_record(const supervisor_record& record)
{
    if (const auto* answer = std::get_if<late_binding_answer>(&record))
    {
        return encode(*answer);
    }
    return detail::dump(json{{"verdict", to_json(std::get<verdict>(record))}});
}

decoded<supervisor_record> decode_supervisor_record(std::string_view record)
{
    return detail::decode(
        [&]() -> supervisor_record
        {
            const json message = detail::parse_object(record, "a supervisor's record");
            if (const json* verdict = detail::member(message, "verdict"))
            {
                return verdict_from_json(*verdict).value();
            }
            return late_binding_answer_from_json(message).value();
        });
}

} // namespace cellbox::contract
