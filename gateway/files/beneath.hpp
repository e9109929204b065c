#pragma once
// Opening files beneath a directory descriptor (the user's /work) so that nothing a tenant put
// there can lead elsewhere: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), and where the kernel has no openat2 (ENOSYS) a walk
// of one component at a time with O_NOFOLLOW. A symbolic link anywhere on the way, the last
// component included, fails with ELOOP; ".." never reaches here (content_path refuses it) and
// would fail with EXDEV if it did.
#include "cellbox/unique_fd.hpp"

#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

enum class resolver
{
    automatic, // openat2, or the walk where the kernel lacks it
    walk,      // the walk only (tests of the fallback)
};

// Opens `relative` ("a/b", "." for the directory itself; no "..", no leading '/') beneath
// `dirfd` with `flags` (O_CLOEXEC and O_NOFOLLOW are added) and `mode` for O_CREAT. Returns an
// invalid unique_fd with errno set on failure.
unique_fd open_beneath(int dirfd, const std::string& relative, int flags, mode_t mode = 0,
                       resolver how = resolver::automatic);

// Whether openat2 works on this kernel (checked once).
bool have_openat2();

// For as long as it lives, the calling thread's filesystem identity is `uid`:`gid` (setfsuid,
// setfsgid), so files it creates are the user's and the user's permissions and ext4's
// reserved-blocks rule apply, as for the kernel. Only a root process changes anything; others
// keep their own identity.
class acting_as
{
public:
    acting_as(uid_t uid, gid_t gid);
    ~acting_as();
    acting_as(const acting_as&) = delete;
    acting_as& operator=(const acting_as&) = delete;

private:
    bool m_changed = false;
    uid_t m_previous_uid = 0;
    gid_t m_previous_gid = 0;
};

} // namespace cellbox::gateway
