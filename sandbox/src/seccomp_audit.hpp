#pragma once
// Which system call got a sandbox killed by its seccomp filter. The kernel says it in an audit
// record (type=1326: uid, arch, syscall number) in its log; the wait status says only SIGSYS.
// Readable as root (where /dev/kmsg is); otherwise the verdict just lacks the name.
#include "cellbox/unique_fd.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace cellbox::sandbox
{

class seccomp_audit_log
{
public:
    // Starts reading at the end of the kernel log: only later records count.
    seccomp_audit_log();

    // The system call that the seccomp filter killed a task of `uid` for, e.g. "ptrace",
    // "getpid (x32 ABI)" or "getpid (i386, int 0x80)". Waits briefly: the kernel writes the
    // record from its audit thread, a moment after the kill.
    std::optional<std::string> find_kill(std::uint32_t uid);

private:
    unique_fd m_kmsg;
};

// "type=1326 ... uid=U ... arch=A syscall=N ..." -> the call's name, if the record is a
// seccomp kill of `uid`.
std::optional<std::string> parse_seccomp_record(const std::string& record, std::uint32_t uid);

} // namespace cellbox::sandbox
