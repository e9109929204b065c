#include "cellbox/contract/late_binding.hpp"

#include "json_fields.hpp"

namespace cellbox::contract
{
namespace
{

using nlohmann::json;

std::optional<std::uint32_t> owner_id(const json& object, const char* key)
{
    const json* value = detail::member(object, key);
    if (value == nullptr)
    {
        return std::nullopt;
    }
    if (!value->is_number_integer() || value->get<std::int64_t>() < 0 ||
        value->get<std::int64_t>() > 0xfffffffe)
    {
        throw std::invalid_argument(std::string(key) + " must be a uid/gid number");
    }
    const auto id = value->get<std::uint32_t>();
    if (id < min_owner_id)
    {
        throw std::invalid_argument(
            std::string(key) + " " + std::to_string(id) +
            " refused: a workdir owner must be >= " + std::to_string(min_owner_id) +
            " (root's or a system user's files never enter a session)");
    }
    return id;
}

} // namespace

late_binding_answer late_binding_answer::failure(const std::exception& e)
{
    return {false, e.what(), system_error_of(e)};
}

decoded<std::optional<workdir_owner>> workdir_owner_from_json(const json& object)
{
    return detail::decode(
        [&]() -> std::optional<workdir_owner>
        {
            const auto uid = owner_id(object, "owner_uid");
            const auto gid = owner_id(object, "owner_gid");
            if (!uid)
            {
                if (gid)
                {
                    throw std::invalid_argument("owner_gid needs owner_uid");
                }
                return std::nullopt;
            }
            return workdir_owner{*uid, gid.value_or(*uid)};
        });
}

void add_workdir_owner(json& object, const std::optional<workdir_owner>& owner)
{
    if (owner)
    {
        object["owner_uid"] = owner->uid;
        object["owner_gid"] = owner->gid;
    }
}

json to_json(const late_binding_request& request)
{
    json out = json::object();
    if (!request.workdir.empty())
    {
        out["workdir"] = request.workdir;
    }
    add_workdir_owner(out, request.owner);
    if (request.memory_bytes)
    {
        out["memory"] = *request.memory_bytes;
    }
    return out;
}

std::string encode(const late_binding_request& request)
{
    return detail::dump(to_json(request));
}

decoded<late_binding_request> late_binding_request_from_json(const json& value)
{
    return detail::decode_object(
        value, "a late-binding request",
        [&]
        {
            late_binding_request request;
            if (const json* workdir = detail::member(value, "workdir"))
            {
                if (!workdir->is_string() || workdir->get<std::string>().empty() ||
                    workdir->get<std::string>().front() != '/')
                {
                    throw std::invalid_argument("workdir must be an absolute host path");
                }
                request.workdir = workdir->get<std::string>();
            }
            request.owner = workdir_owner_from_json(value).value();
            if (request.owner && request.workdir.empty())
            {
                throw std::invalid_argument("owner_uid needs a workdir");
            }
            request.memory_bytes = detail::byte_size(value, "memory");
            return request;
        });
}

decoded<late_binding_request> decode_late_binding_request(std::string_view text)
{
    return detail::decode_text(text, "a late-binding request", &late_binding_request_from_json);
}

json to_json(const late_binding_answer& answer)
{
    json out = {{"ok", answer.ok}};
    if (!answer.error.empty())
    {
        out["error"] = answer.error;
    }
    detail::add_system_error(out, answer.system_error);
    return out;
}

std::string encode(const late_binding_answer& answer)
{
    return detail::dump(to_json(answer));
}

decoded<late_binding_answer> late_binding_answer_from_json(const json& value)
{
    return detail::decode_object(value, "a late-binding answer",
                                 [&]
                                 {
                                     late_binding_answer answer;
                                     const auto ok = detail::flag(value, "ok");
                                     if (!ok)
                                     {
                                         throw std::invalid_argument(
                                             "a late-binding answer needs \"ok\": true or false");
                                     }
                                     answer.ok = *ok;
                                     answer.error = detail::text(value, "error");
                                     answer.system_error = detail::system_error_member(value);
                                     return answer;
                                 });
}

decoded<late_binding_answer> decode_late_binding_answer(std::string_view text)
{
    return detail::decode_text(text, "a late-binding answer", &late_binding_answer_from_json);
}

} // namespace cellbox::contract
