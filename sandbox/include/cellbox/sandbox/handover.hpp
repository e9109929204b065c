#pragma once

#include "cellbox/contract/late_binding.hpp"
#include "cellbox/sandbox/session.hpp"
#include "cellbox/unique_fd.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace cellbox::sandbox
{

class session_cgroup;

// Late binding (contract/late_binding.hpp): a session built ahead of time (a pool of warm
// sessions) gets its host work directory and its memory limit when it is handed to a user.

// A detached, nosuid/nodev copy of the mount at host directory `path` (not its submounts),
// opened without following symlinks, ready for move_mount. Without `owner`, the directory is
// handed to the session's uid (as root); with it, the copy is idmapped so that `owner`'s
// files appear as the session's. Throws std::system_error naming the failed step.
unique_fd detach_workdir(const std::string& path, const sandbox_plan& plan,
                         const std::optional<workdir_owner>& owner);

// Supervisor side: applies `binding` to a running session whose init listens on `init_link`
// (the init is the only process inside with the privilege to mount). Returns the answer.
contract::late_binding_answer apply_late_binding(const contract::late_binding_request& binding,
                                                 const sandbox_plan& plan, session_cgroup* cgroup,
                                                 int init_link);
// One request as it arrives on the owner link, decoded, applied and answered: the record to
// send back.
std::string answer_late_binding(std::string_view request, const sandbox_plan& plan,
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
