#pragma once

#include <linux/filter.h>
#include <string>
#include <vector>

namespace cellbox::sandbox
{

// A seccomp program compiled once in the parent (libseccomp allocates; the child only has to
// load it, as its very last step before execve). The compiled program is plain bytes, so the
// parent can compile it while the child builds its filesystem and send it over.
//
// Default action: EPERM. Native architecture only (other ABIs, int 0x80 and x32, kill the
// process). On top of the policy's plain allow-list, argument rules that the policy cannot
// weaken: socket() only for AF_UNIX (other families fail with EINVAL: libzmq aborts on
// EPERM), ioctl() only for a short list of requests compared on their low 32 bits (no
// TIOCSTI, whatever the high bits), clone() without namespace flags, clone3() ENOSYS (its
// flags are out of BPF's reach; glibc falls back to clone), personality() only to query.
class seccomp_filter
{
public:
    static seccomp_filter compile(const std::vector<std::string>& allowed_syscalls);

    // Loads the filter into the calling thread (and its future children). Needs
    // no_new_privs or CAP_SYS_ADMIN. Async-signal-safe: no allocation.
    int apply() const noexcept;

    std::size_t instructions() const { return m_program.size(); }

    // The compiled program as bytes, and back (a size that is not whole instructions throws).
    std::string to_bytes() const;
    static seccomp_filter from_bytes(const char* data, std::size_t size);

private:
    std::vector<sock_filter> m_program;
};

} // namespace cellbox::sandbox
