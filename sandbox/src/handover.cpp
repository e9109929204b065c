// Late binding of a pre-built session (see handover.hpp). The work directory travels as a
// detached mount (open_tree(OPEN_TREE_CLONE)) made in the host's mount namespace from a
// descriptor opened without following symlinks, and is moved into the session's namespace by
// its init: no path inside the session is resolved on the host side. A workdir owned by
// another uid (the user's, while sessions get fresh uids) is idmapped on the way (see
// detach_workdir); the same function prepares a cold session's idmapped workdir.
#include "cellbox/sandbox/handover.hpp"

#include "cellbox/descriptor_passing.hpp"
#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/tmpfs_sizes.hpp"
#include "mount_api.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <poll.h>
#include <sched.h>
#include <sstream>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

constexpr int reply_timeout_ms = 5000;

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

// The helper's whole life: wait to be killed. Only raw system calls: it shares the memory (and
// the thread-local storage) of its parent.
int wait_in_user_namespace(void* parent)
{
    syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (syscall(SYS_getppid) != *static_cast<const pid_t*>(parent))
    {
        syscall(SYS_exit_group, 0);
    }
    while (true)
    {
        syscall(SYS_pause);
    }
}

// A user namespace whose only use is its id mapping, for MOUNT_ATTR_IDMAP. It is made by a
// helper child born in it (clone(CLONE_NEWUSER): nothing of the child runs but pause), whose
// maps we write; once its /proc/PID/ns/user is open, the child is killed and reaped. The child
// shares our memory (CLONE_VM) on a small stack of its own: copying the page tables of a
// supervisor forked from a warm interpreter took milliseconds of every hand-over.
class idmap_helper
{
public:
    idmap_helper() : m_parent(getpid()), m_stack(std::make_unique<char[]>(stack_size))
    {
        m_pid = clone(wait_in_user_namespace, m_stack.get() + stack_size,
                      CLONE_VM | CLONE_NEWUSER | SIGCHLD, &m_parent);
        if (m_pid < 0)
        {
            fail("clone a user namespace for the idmap");
        }
    }
    ~idmap_helper()
    {
        if (m_pid > 0)
        {
            kill(m_pid, SIGKILL);
            while (waitpid(m_pid, nullptr, 0) < 0 && errno == EINTR)
            {
            }
        }
    }
    idmap_helper(const idmap_helper&) = delete;
    idmap_helper& operator=(const idmap_helper&) = delete;

    pid_t pid() const { return m_pid; }

private:
    static constexpr std::size_t stack_size = 64 * 1024;
    pid_t m_parent;
    std::unique_ptr<char[]> m_stack; // outlives the child: the destructor reaps it first
    pid_t m_pid = -1;
};

void write_map(pid_t pid, const char* file, std::uint32_t outside, std::uint32_t inside)
{
    const std::string path = "/proc/" + std::to_string(pid) + "/" + file;
    const unique_fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    // Idmap rule (checked): line "A B 1": disk id A shows as B via the mount; B's files land as A.
    const std::string line = std::to_string(outside) + " " + std::to_string(inside) + " 1\n";
    if (!fd || write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    {
        fail("write " + path);
    }
}

// A user namespace mapping `owner` (on disk) to the session's uid/gid (through the mount).
unique_fd idmap_namespace(const workdir_owner& owner, const sandbox_plan& plan)
{
    const idmap_helper helper;
    write_map(helper.pid(), "uid_map", owner.uid, plan.uid);
    write_map(helper.pid(), "gid_map", owner.gid, plan.gid);
    const std::string path = "/proc/" + std::to_string(helper.pid()) + "/ns/user";
    unique_fd ns(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns)
    {
        fail("open " + path);
    }
    return ns;
}

} // namespace

unique_fd detach_workdir(const std::string& path, const sandbox_plan& plan,
                         const std::optional<workdir_owner>& owner)
{
    if (owner && !plan.as_root)
    {
        errno = EPERM;
        fail("an idmapped workdir (owner_uid) needs a root launcher");
    }
    unique_fd dir(open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir)
    {
        fail("open workdir " + path);
    }
    if (!owner && plan.as_root && fchownat(dir.get(), "", plan.uid, plan.gid, AT_EMPTY_PATH) != 0)
    {
        fail("hand workdir " + path + " to the sandbox uid");
    }
    unique_fd tree(static_cast<int>(
        syscall(SYS_open_tree, dir.get(), "", OPEN_TREE_CLONE | O_CLOEXEC | AT_EMPTY_PATH)));
    if (!tree)
    {
        fail("open_tree " + path);
    }
    unique_fd userns;
    mount_attributes attributes{MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
    if (owner)
    {
        userns = idmap_namespace(*owner, plan);
        attributes.attr_set |= MOUNT_ATTR_IDMAP;
        attributes.userns_fd = static_cast<std::uint64_t>(userns.get());
    }
    if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attributes,
                sizeof attributes) != 0)
    {
        fail(std::string(owner ? "mount_setattr nosuid,nodev,idmap "
                               : "mount_setattr nosuid,nodev ") +
             path);
    }
    return tree;
}

namespace
{

// One request to the session's init (with a descriptor, or -1), and its "ok" awaited.
void ask_init(int init_link, const std::string& request, int fd, const char* what)
{
    if (!send_record(init_link, request, fd))
    {
        fail(what);
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

} // namespace

contract::late_binding_answer apply_late_binding(const contract::late_binding_request& binding,
                                                 const sandbox_plan& plan, session_cgroup* cgroup,
                                                 int init_link)
{
    try
    {
        if (binding.memory_bytes)
        {
            if (cgroup == nullptr)
            {
                throw std::runtime_error("this session has no memory cgroup");
            }
            // The tmpfs mounts are charged to the cgroup: they follow its limit, and first,
            // so that a session whose /tmp cannot shrink keeps its old limit too.
            if (init_link >= 0)
            {
                const tmpfs_sizes sizes =
                    tmpfs_sizes_for(plan.config->rules.limits, binding.memory_bytes);
                ask_init(init_link,
                         "tmpfs " + std::to_string(sizes.tmp_bytes) + " " +
                             std::to_string(sizes.shm_bytes),
                         -1, "ask the session to resize its tmpfs");
            }
            cgroup->set_memory_limit(*binding.memory_bytes);
        }
        if (!binding.workdir.empty())
        {
            if (init_link < 0)
            {
                throw std::runtime_error("this session cannot take a workdir any more");
            }
            const unique_fd tree = detach_workdir(binding.workdir, plan, binding.owner);
            ask_init(init_link, "workdir", tree.get(), "hand the workdir to the session");
        }
        return {true, "", std::nullopt};
    }
    catch (const std::exception& e)
    {
        return contract::late_binding_answer::failure(e);
    }
}

std::string answer_late_binding(std::string_view request, const sandbox_plan& plan,
                                session_cgroup* cgroup, int init_link)
{
    const auto binding = contract::decode_late_binding_request(request);
    return contract::encode(
        binding ? apply_late_binding(*binding, plan, cgroup, init_link)
                : contract::late_binding_answer{false, binding.error(), std::nullopt});
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
    if (request.rfind("tmpfs ", 0) == 0)
    {
        std::istringstream sizes(request.substr(6));
        tmpfs_sizes wanted;
        if (!(sizes >> wanted.tmp_bytes >> wanted.shm_bytes) || wanted.tmp_bytes == 0 ||
            wanted.shm_bytes == 0)
        {
            answer = "malformed tmpfs request to the session's init";
        }
        else
        {
            try
            {
                resize_session_tmpfs(wanted);
            }
            catch (const std::system_error& e)
            {
                answer = e.what();
            }
        }
    }
    else if (request != "workdir" || !tree)
    {
        answer = "unknown request to the session's init";
    }
    else
    {
        // The payload shares this working directory (CLONE_FS): if it is in the /work it
        // started in, it follows onto the new mount. Checked after the move: the payload
        // enters /work itself while it starts (confine), and one that did so between a check
        // before the move and the move would stay in the old, now hidden, directory.
        struct stat old_work
        {
        }, cwd{};
        const bool had_work = stat("/work", &old_work) == 0;
        if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, "/work", MOVE_MOUNT_F_EMPTY_PATH) !=
            0)
        {
            answer = std::string("mount the workdir at /work: ") + std::strerror(errno);
        }
        else if (had_work && stat(".", &cwd) == 0 && cwd.st_dev == old_work.st_dev &&
                 cwd.st_ino == old_work.st_ino && chdir("/work") != 0)
        {
            answer = std::string("enter the new /work: ") + std::strerror(errno);
        }
    }
    send_record(init_link, answer);
    return true;
}

bool send_record(int socket, const std::string& text, int fd)
{
    return send_with_descriptor(socket, text, fd);
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
