#include "files/beneath.hpp"

#include <cerrno>
#include <cstdint>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

constexpr int always = O_CLOEXEC | O_NOFOLLOW;

int call_openat2(int dirfd, const char* path, int flags, mode_t mode)
{
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

// After ENOTDIR: whether the first component that is not a plain directory is a link (then the
// answer is ELOOP, so that clients hear about the link). Prefixes are examined in order with
// AT_SYMLINK_NOFOLLOW, so no link is ever traversed to examine the next one.
bool link_on_the_way(int dirfd, const std::string& relative)
{
    std::size_t end = 0;
    while (end != std::string::npos)
    {
        end = relative.find('/', end + 1);
        const std::string prefix = relative.substr(0, end);
        struct stat st
        {
        };
        if (fstatat(dirfd, prefix.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        {
            return false;
        }
        if (S_ISLNK(st.st_mode))
        {
            return true;
        }
        if (!S_ISDIR(st.st_mode))
        {
            return false;
        }
    }
    return false;
}

// One component at a time: every directory on the way opened with O_NOFOLLOW | O_DIRECTORY
// (a link there fails with ELOOP or ENOTDIR), the last one with O_NOFOLLOW.
unique_fd walk(int dirfd, const std::string& relative, int flags, mode_t mode)
{
    if (relative.empty() || relative.front() == '/')
    {
        errno = EXDEV;
        return unique_fd();
    }
    unique_fd current;
    int at = dirfd;
    std::size_t start = 0;
    while (true)
    {
        const std::size_t end = relative.find('/', start);
        const std::string name = relative.substr(start, end - start);
        if (name == "..")
        {
            errno = EXDEV;
            return unique_fd();
        }
        if (end == std::string::npos)
        {
            return unique_fd(openat(at, name.c_str(), flags | always, mode));
        }
        if (!name.empty() && name != ".")
        {
            unique_fd next(openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | always));
            if (!next)
            {
                return unique_fd();
            }
            current = std::move(next);
            at = current.get();
        }
        start = end + 1;
    }
}

} // namespace

bool have_openat2()
{
    static const bool available = []
    {
        const unique_fd probe(call_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0));
        return probe || errno != ENOSYS;
    }();
    return available;
}

unique_fd open_beneath(int dirfd, const std::string& relative, int flags, mode_t mode, resolver how)
{
    unique_fd fd;
    if (how == resolver::automatic && have_openat2())
    {
        do
        {
            // EAGAIN: a rename raced the lookup (RESOLVE_BENEATH's guard); try again.
            fd = unique_fd(call_openat2(dirfd, relative.c_str(), flags | always, mode));
        } while (!fd && errno == EAGAIN);
    }
    else
    {
        fd = walk(dirfd, relative, flags, mode);
    }
    // O_NOFOLLOW | O_DIRECTORY on a link says ENOTDIR: name the link instead.
    if (!fd && errno == ENOTDIR && link_on_the_way(dirfd, relative))
    {
        errno = ELOOP;
    }
    return fd;
}

acting_as::acting_as(uid_t uid, gid_t gid)
{
    if (geteuid() != 0 || uid == 0)
    {
        return;
    }
    // setfsgid first: once fsuid is not root, the thread could no longer change its fsgid.
    m_previous_gid = static_cast<gid_t>(setfsgid(gid));
    m_previous_uid = static_cast<uid_t>(setfsuid(uid));
    m_changed = true;
}

acting_as::~acting_as()
{
    if (m_changed)
    {
        setfsuid(m_previous_uid);
        setfsgid(m_previous_gid);
    }
}

} // namespace cellbox::gateway
