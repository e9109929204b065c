// Late binding of a pre-built session (see handover.hpp). The work directory travels as a
// detached mount (open_tree(OPEN_TREE_CLONE)) made in the host's mount namespace from a
// descriptor opened without following symlinks, and is moved into the session's namespace by
// its init: no path inside the session is resolved on the host side.
#include "cellbox/sandbox/handover.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/sandbox/cgroup.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct mount_attributes
{
    std::uint64_t attr_set;
    std::uint64_t attr_clr;
    std::uint64_t propagation;
    std::uint64_t userns_fd;
};

constexpr int reply_timeout_ms = 5000;

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

// A detached, nosuid/nodev copy of the mount at `path` (not its submounts, as --workdir).
unique_fd clone_directory_tree(const std::string& path, const sandbox_plan& plan)
{
    unique_fd dir(open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir)
    {
        fail("open workdir " + path);
    }
    if (plan.as_root && fchownat(dir.get(), "", plan.uid, plan.gid, AT_EMPTY_PATH) != 0)
    {
        fail("hand workdir " + path + " to the sandbox uid");
    }
    unique_fd tree(static_cast<int>(
        syscall(SYS_open_tree, dir.get(), "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH)));
    if (!tree)
    {
        fail("open_tree " + path);
    }
    mount_attributes attributes{MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
    if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes,
                sizeof attributes) != 0)
    {
        fail("mount_setattr nosuid,nodev " + path);
    }
    return tree;
}

} // namespace

late_binding parse_late_binding(const nlohmann::json& request)
{
    if (!request.is_object())
    {
        throw std::invalid_argument("a late-binding request must be a JSON object");
    }
    late_binding binding;
    if (auto it = request.find("workdir"); it != request.end() && !it->is_null())
    {
        if (!it->is_string() || it->get<std::string>().empty() ||
            it->get<std::string>().front() != '/')
        {
            throw std::invalid_argument("workdir must be an absolute host path");
        }
        binding.workdir = it->get<std::string>();
    }
    if (auto it = request.find("memory"); it != request.end() && !it->is_null())
    {
        if (it->is_number_unsigned())
        {
            binding.memory_bytes = it->get<std::uint64_t>();
        }
        else if (it->is_string())
        {
            binding.memory_bytes = cellbox::parse_byte_size(it->get<std::string>());
        }
        else
        {
            throw std::invalid_argument("memory must be a byte count or a size such as \"1G\"");
        }
    }
    return binding;
}

nlohmann::json apply_late_binding(const late_binding& binding, const sandbox_plan& plan,
                                  session_cgroup* cgroup, int init_link)
{
    try
    {
        if (binding.memory_bytes)
        {
            if (cgroup == nullptr)
            {
                throw std::runtime_error("this session has no memory cgroup");
            }
            cgroup->set_memory_limit(*binding.memory_bytes);
        }
        if (!binding.workdir.empty())
        {
            if (init_link < 0)
            {
                throw std::runtime_error("this session cannot take a workdir any more");
            }
            const unique_fd tree = clone_directory_tree(binding.workdir, plan);
            if (!send_record(init_link, "workdir", tree.get()))
            {
                fail("hand the workdir to the session");
            }
            pollfd wait{init_link, POLLIN, 0};
            std::string answer;
            if (poll(&wait, 1, reply_timeout_ms) != 1 || !receive_record(init_link, answer))
            {
                throw std::runtime_error("the session's init did not answer");
            }
            if (answer != "ok")
            {
                throw std::runtime_error(answer);
            }
        }
        return {{"ok", true}};
    }
    catch (const std::exception& e)
    {
        return {{"ok", false}, {"error", e.what()}};
    }
}

bool serve_late_binding(int init_link)
{
    std::string request;
    unique_fd tree;
    if (!receive_record(init_link, request, &tree))
    {
        return false;
    }
    std::string answer = "ok";
    if (request != "workdir" || !tree)
    {
        answer = "unknown request to the session's init";
    }
    else if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, "/work", MOVE_MOUNT_F_EMPTY_PATH) !=
             0)
    {
        answer = std::string("mount the workdir at /work: ") + std::strerror(errno);
    }
    send_record(init_link, answer);
    return true;
}

bool send_record(int socket, const std::string& text, int fd)
{
    iovec data{const_cast<char*>(text.data()), text.size()};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0)
    {
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        cmsghdr* header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    return sendmsg(socket, &message, MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

bool receive_record(int socket, std::string& text, unique_fd* fd)
{
    char buffer[65536];
    iovec data{buffer, sizeof buffer};
    msghdr message{};
    message.msg_iov = &data;
    message.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
    if (n <= 0)
    {
        return false;
    }
    text.assign(buffer, static_cast<std::size_t>(n));
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header))
    {
        if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS)
        {
            int received = -1;
            std::memcpy(&received, CMSG_DATA(header), sizeof(int));
            if (fd != nullptr)
            {
                fd->reset(received);
            }
            else
            {
                close(received);
            }
        }
    }
    return true;
}

} // namespace cellbox::sandbox
