#include "seccomp_audit.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <thread>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

// The value of " key=" in an audit record, up to the next space.
std::optional<std::string> field(const std::string& record, const std::string& key)
{
    const auto at = record.find(" " + key + "=");
    if (at == std::string::npos)
    {
        return std::nullopt;
    }
    const auto start = at + key.size() + 2;
    return record.substr(start, record.find(' ', start) - start);
}

std::string call_name(std::uint32_t arch, std::uint64_t number)
{
    constexpr std::uint64_t x32_bit = 0x40000000;
    std::uint32_t lookup_arch = arch;
    std::string suffix;
    if (arch == AUDIT_ARCH_X86_64 && (number & x32_bit) != 0)
    {
        lookup_arch = SCMP_ARCH_X32;
        suffix = " (x32 ABI)";
    }
    else if (arch == AUDIT_ARCH_I386)
    {
        suffix = " (i386, int 0x80)";
    }
    else if (arch != AUDIT_ARCH_X86_64)
    {
        suffix = " (foreign architecture)";
    }
    char* name = seccomp_syscall_resolve_num_arch(lookup_arch, static_cast<int>(number));
    std::string text = name != nullptr ? name : "syscall " + std::to_string(number);
    free(name); // allocated by libseccomp
    return text + suffix;
}

} // namespace

std::optional<std::string> parse_seccomp_record(const std::string& record, std::uint32_t uid)
{
    if (record.find("type=1326") == std::string::npos ||
        field(record, "uid") != std::to_string(uid))
    {
        return std::nullopt;
    }
    const auto arch = field(record, "arch");
    const auto number = field(record, "syscall");
    if (!arch || !number)
    {
        return std::nullopt;
    }
    try
    {
        return call_name(static_cast<std::uint32_t>(std::stoul(*arch, nullptr, 16)),
                         std::stoull(*number));
    }
    catch (const std::exception&)
    {
        return std::nullopt;
    }
}

seccomp_audit_log::seccomp_audit_log()
    : m_kmsg(open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC))
{
    if (m_kmsg)
    {
        lseek(m_kmsg.get(), 0, SEEK_END);
    }
}

std::optional<std::string> seccomp_audit_log::find_kill(std::uint32_t uid)
{
    if (!m_kmsg)
    {
        return std::nullopt;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    char record[8192];
    while (true)
    {
        const ssize_t length = read(m_kmsg.get(), record, sizeof record - 1);
        if (length > 0)
        {
            if (auto name = parse_seccomp_record(
                    std::string(record, static_cast<std::size_t>(length)), uid))
            {
                return name;
            }
            continue;
        }
        if (length < 0 && errno == EPIPE)
        {
            continue; // records were overwritten while we read: go on with the next
        }
        if (length < 0 && errno != EAGAIN)
        {
            return std::nullopt;
        }
        if (std::chrono::steady_clock::now() > deadline)
        {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

} // namespace cellbox::sandbox
