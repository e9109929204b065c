#include "cellbox/kernel/resource_meter.hpp"

#include "cellbox/unique_fd.hpp"

#include <fcntl.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace cellbox::kernel
{
namespace
{

std::int64_t to_us(const timeval& tv)
{
    return static_cast<std::int64_t>(tv.tv_sec) * 1000000 + tv.tv_usec;
}

std::int64_t cpu_time_us()
{
    std::int64_t total = 0;
    for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN})
    {
        rusage usage{};
        if (getrusage(who, &usage) == 0)
        {
            total += to_us(usage.ru_utime) + to_us(usage.ru_stime);
        }
    }
    return total;
}

// A /proc/self file kept open, since these run around every cell. The descriptor names the
// process that opened it, so it is reopened in a forked child.
class proc_self_file
{
public:
    proc_self_file(const char* path, int flags) : m_path(path), m_flags(flags) {}
    int fd()
    {
        if (m_owner != getpid())
        {
            m_fd.reset(open(m_path, m_flags | O_CLOEXEC));
            m_owner = getpid();
        }
        return m_fd.get();
    }

private:
    const char* m_path;
    int m_flags;
    pid_t m_owner = 0;
    unique_fd m_fd;
};

std::int64_t peak_rss_bytes()
{
    static proc_self_file status("/proc/self/status", O_RDONLY);
    const int status_fd = status.fd();
    char buffer[4096];
    const ssize_t n = status_fd < 0 ? -1 : pread(status_fd, buffer, sizeof buffer - 1, 0);
    if (n > 0)
    {
        if (auto hwm = parse_proc_status_bytes(
                std::string_view(buffer, static_cast<std::size_t>(n)), "VmHWM"))
        {
            return *hwm;
        }
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

// Writing "5" to clear_refs resets the VmHWM high-water mark to the current RSS.
void reset_peak_rss()
{
    static proc_self_file clear_refs("/proc/self/clear_refs", O_WRONLY);
    if (clear_refs.fd() >= 0)
    {
        [[maybe_unused]] const ssize_t ignored = pwrite(clear_refs.fd(), "5", 1, 0);
    }
}

} // namespace

std::optional<std::int64_t> parse_proc_status_bytes(std::string_view status, std::string_view key)
{
    std::size_t pos = 0;
    while (pos < status.size())
    {
        std::size_t end = status.find('\n', pos);
        if (end == std::string_view::npos)
        {
            end = status.size();
        }
        std::string_view line = status.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() <= key.size() || line.substr(0, key.size()) != key ||
            line[key.size()] != ':')
        {
            continue;
        }
        std::istringstream fields{std::string(line.substr(key.size() + 1))};
        std::int64_t value = 0;
        std::string unit;
        if (!(fields >> value))
        {
            return std::nullopt;
        }
        fields >> unit;
        return unit == "kB" ? value * 1024 : value;
    }
    return std::nullopt;
}

void resource_meter::start()
{
    reset_peak_rss();
    m_cpu_start_us = cpu_time_us();
    m_wall_start = std::chrono::steady_clock::now();
}

cell_usage resource_meter::finish() const
{
    cell_usage usage;
    usage.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - m_wall_start)
                        .count();
    usage.cpu_ms = (cpu_time_us() - m_cpu_start_us) / 1000;
    usage.peak_rss_bytes = peak_rss_bytes();
    return usage;
}

} // namespace cellbox::kernel
