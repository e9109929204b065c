// The seccomp filter: compiled from the policy's allow-list in the parent, loaded by the
// payload as its last step (confine_process).
#include "cellbox/sandbox/seccomp_filter.hpp"

#include "cellbox/unique_fd.hpp"
#include "steps.hpp"

#include <cerrno>
#include <cstring>
#include <linux/seccomp.h>
#include <memory>
#include <sched.h>
#include <seccomp.h>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

using context_ptr = std::unique_ptr<void, decltype(&seccomp_release)>;

void check(int rc, const std::string& what)
{
    if (rc < 0)
    {
        throw std::runtime_error("seccomp: " + what + ": " + std::to_string(-rc));
    }
}

int syscall_number(const std::string& name)
{
    const int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR)
    {
        throw std::runtime_error("seccomp: unknown system call \"" + name + "\" in the policy");
    }
    return nr;
}

// ioctl requests a Python kernel needs: terminal queries and non-blocking/close-on-exec flags.
constexpr unsigned long allowed_ioctls[] = {TCGETS,  TIOCGWINSZ, FIONBIO,  FIONREAD,
                                            FIOCLEX, FIONCLEX,   TIOCGPGRP};

constexpr scmp_datum_t namespace_flags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
                                         CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;

// System calls that get argument rules below, never a plain allow.
bool has_argument_rule(const std::string& name)
{
    return name == "socket" || name == "ioctl" || name == "clone" || name == "clone3" ||
           name == "personality";
}

} // namespace

seccomp_filter seccomp_filter::compile(const std::vector<std::string>& allowed_syscalls)
{
    context_ptr ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)), &seccomp_release);
    if (!ctx)
    {
        throw std::runtime_error("seccomp: seccomp_init failed");
    }
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
          "bad-arch action");
    // A binary search over syscall numbers instead of a linear scan of ~250 rules: every
    // system call of the session walks this program.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "binary-tree optimisation");
    for (const auto& name : allowed_syscalls)
    {
        if (has_argument_rule(name))
        {
            continue; // an unconditional allow would override the argument rules
        }
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, syscall_number(name), 0),
              "allow " + name);
    }
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
                           SCMP_A0(SCMP_CMP_EQ, AF_UNIX)),
          "socket(AF_UNIX)");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(socket), 1,
                           SCMP_A0(SCMP_CMP_NE, AF_UNIX)),
          "socket(other)");
    for (unsigned long request : allowed_ioctls)
    {
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                               SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffUL, request)),
              "ioctl");
    }
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           SCMP_A0(SCMP_CMP_MASKED_EQ, namespace_flags, 0)),
          "clone");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0), "clone3");
    for (scmp_datum_t persona : {scmp_datum_t{0}, scmp_datum_t{0xffffffffUL}})
    {
        check(seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(personality), 1,
                               SCMP_A0(SCMP_CMP_EQ, persona)),
              "personality");
    }

    unique_fd memory(memfd_create("cellbox-seccomp", MFD_CLOEXEC));
    if (!memory)
    {
        throw std::runtime_error("seccomp: memfd_create failed");
    }
    check(seccomp_export_bpf(ctx.get(), memory.get()), "export");
    const off_t size = lseek(memory.get(), 0, SEEK_END);
    seccomp_filter filter;
    filter.m_program.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
    if (pread(memory.get(), filter.m_program.data(), static_cast<std::size_t>(size), 0) != size)
    {
        throw std::runtime_error("seccomp: reading the compiled filter failed");
    }
    return filter;
}

std::string seccomp_filter::to_bytes() const
{
    return std::string(reinterpret_cast<const char*>(m_program.data()),
                       m_program.size() * sizeof(sock_filter));
}

seccomp_filter seccomp_filter::from_bytes(const char* data, std::size_t size)
{
    if (size == 0 || size % sizeof(sock_filter) != 0)
    {
        throw std::runtime_error("seccomp: a compiled filter of " + std::to_string(size) +
                                 " bytes is not a whole number of instructions");
    }
    seccomp_filter filter;
    filter.m_program.resize(size / sizeof(sock_filter));
    std::memcpy(filter.m_program.data(), data, size);
    return filter;
}

int seccomp_filter::apply() const noexcept
{
    sock_fprog program{static_cast<unsigned short>(m_program.size()),
                       const_cast<sock_filter*>(m_program.data())};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0);
}

void compile_filter(launch_state& s)
{
    // Compiled while the sandbox builds its filesystem, unless it was ahead (config.filter,
    // already in the plan). If this fails, closing the channel makes the waiting init exit.
    if (!s.config.filter)
    {
        s.plan.filter = seccomp_filter::compile(s.config.rules.allowed_syscalls);
    }
}

} // namespace cellbox::sandbox
