#pragma once
// Late binding: what a session built ahead of time (a pool of warm sessions) learns only when
// it is handed to a user. Its filesystem, namespaces, cgroups and identity exist already; its
// host work directory and its memory limit are given now. The gateway sends the request to a
// prespawned cellbox-sandbox over its --late-binding-fd socket, the zygote forwards the fields
// of a "go" to a session's supervisor; the supervisor answers each request once.
//
// Request: {"workdir": "/host/dir", "owner_uid": 200007, "owner_gid": 200007,
//           "memory": 2147483648 | "2G"}                            every field optional
// Answer:  {"ok": true} or {"ok": false, "error": "...", "system_error": {...}}
// With owner_uid (owner_gid defaults to it), /work is an idmapped mount (see workdir_owner);
// without, the workdir is handed (chowned) to the session's uid.
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/system_error.hpp"

#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::contract
{

// Who owns a work directory on disk, when it is not the session's uid (a user's persistent
// directory, used by one fresh session uid after another): /work becomes an idmapped mount on
// which these ids appear as the session's uid/gid, and files the session creates land on disk
// as them. Only a root launcher can do this; ids below min_owner_id (root, system users) are
// refused.
struct workdir_owner
{
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;

    bool operator==(const workdir_owner& other) const
    {
        return uid == other.uid && gid == other.gid;
    }
    bool operator!=(const workdir_owner& other) const { return !(*this == other); }
};

inline constexpr std::uint32_t min_owner_id = 1000;

struct late_binding_request
{
    std::string workdir;                       // host directory to mount at /work ("": keep)
    std::optional<workdir_owner> owner;        // its owner on disk: idmap instead of chown
    std::optional<std::uint64_t> memory_bytes; // new cgroup memory limit, and tmpfs sizes

    bool operator==(const late_binding_request& other) const
    {
        return workdir == other.workdir && owner == other.owner &&
               memory_bytes == other.memory_bytes;
    }
    bool operator!=(const late_binding_request& other) const { return !(*this == other); }
};

struct late_binding_answer
{
    bool ok = false;
    std::string error;                                  // when not ok
    std::optional<contract::system_error> system_error; // when a system call failed

    // A refusal: the exception's message, and its errno when a system call failed.
    static late_binding_answer failure(const std::exception& e);

    bool operator==(const late_binding_answer& other) const
    {
        return ok == other.ok && error == other.error && system_error == other.system_error;
    }
    bool operator!=(const late_binding_answer& other) const { return !(*this == other); }
};

// "owner_uid" and "owner_gid" of an object (a late-binding request, a zygote spawn): integers
// >= min_owner_id; the gid defaults to the uid, and needs the uid.
decoded<std::optional<workdir_owner>> workdir_owner_from_json(const nlohmann::json& object);
// Adds "owner_uid" and "owner_gid" to `object` (nothing without an owner).
void add_workdir_owner(nlohmann::json& object, const std::optional<workdir_owner>& owner);

nlohmann::json to_json(const late_binding_request& request);
std::string encode(const late_binding_request& request);
// Other members of `value` (a zygote "go" carries "op", "id" and "pid") are ignored.
decoded<late_binding_request> late_binding_request_from_json(const nlohmann::json& value);
decoded<late_binding_request> decode_late_binding_request(std::string_view text);

nlohmann::json to_json(const late_binding_answer& answer);
std::string encode(const late_binding_answer& answer);
decoded<late_binding_answer> late_binding_answer_from_json(const nlohmann::json& value);
decoded<late_binding_answer> decode_late_binding_answer(std::string_view text);

} // namespace cellbox::contract
