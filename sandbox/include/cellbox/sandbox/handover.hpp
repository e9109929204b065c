#pragma once

#include "cellbox/sandbox/session.hpp"
#include "cellbox/unique_fd.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::sandbox
{

class session_cgroup;

// Late binding: what a session built ahead of time (a pool of warm sessions) learns only when
// it is handed to a user. The session's filesystem, namespaces, cgroups and identity exist
// already; its host work directory and its memory limit are given now.
//
// Request (one JSON object per SOCK_SEQPACKET message on the owner link):
//   {"workdir": "/host/dir", "memory": "2G" | 2147483648,
//    "owner_uid": 200007, "owner_gid": 200007}                every field optional
// Reply: {"ok": true} or {"ok": false, "error": "..."}
// With owner_uid (owner_gid defaults to it), /work is an idmapped mount (see workdir_owner);
// without, the workdir is handed (chowned) to the session's uid, like --workdir.
struct late_binding
{
    std::string workdir;                       // host directory to mount at /work ("": keep)
    std::optional<workdir_owner> owner;        // its owner on disk: idmap instead of chown
    std::optional<std::uint64_t> memory_bytes; // new cgroup memory limit, and tmpfs sizes
};

// "owner_uid" and "owner_gid" of a request (spawn or late binding): integers >= 1000; the gid
// defaults to the uid. Throws std::invalid_argument with a message for the owner.
std::optional<workdir_owner> parse_workdir_owner(const nlohmann::json& request);

// A detached, nosuid/nodev copy of the mount at host directory `path` (not its submounts),
// opened without following symlinks, ready for move_mount. Without `owner`, the directory is
// handed to the session's uid (as root); with it, the copy is idmapped so that `owner`'s
// files appear as the session's. Throws std::system_error naming the failed step.
unique_fd detach_workdir(const std::string& path, const sandbox_plan& plan,
                         const std::optional<workdir_owner>& owner);

// Throws std::invalid_argument with a message for the owner.
late_binding parse_late_binding(const nlohmann::json& request);
// A request as it arrives on the owner link: refused (std::invalid_argument) when it is not
// JSON or nests deeper than max_json_depth, before it is parsed.
late_binding parse_late_binding(std::string_view text);

// Supervisor side: applies `binding` to a running session whose init listens on `init_link`
// (the init is the only process inside with the privilege to mount). Returns the reply.
nlohmann::json apply_late_binding(const late_binding& binding, const sandbox_plan& plan,
                                  session_cgroup* cgroup, int init_link);

// Init side: serves one request from the supervisor ("workdir" with a directory tree to put
// at /work, or "tmpfs <tmp bytes> <shm bytes>" to resize /tmp and /dev/shm).
// Returns false when the supervisor closed the link.
bool serve_late_binding(int init_link);

// One text record, with an optional descriptor, over a SOCK_SEQPACKET socket.
bool send_record(int socket, const std::string& text, int fd = -1);
// Returns false at end-of-file or on error; `fd` (if not null) receives a passed descriptor.
bool receive_record(int socket, std::string& text, unique_fd* fd = nullptr);

} // namespace cellbox::sandbox
