#include "mount_table.hpp"

#include "cellbox/unique_fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

namespace cellbox::sandbox
{
namespace
{

// Enough for about a thousand mounts at first; the buffer doubles (the table is read again)
// while the table fills it, up to a size no real table reaches.
constexpr std::size_t first_buffer_bytes = 64 * 1024;
constexpr std::size_t largest_buffer_bytes = 64 * 1024 * 1024;

// Bytes zeroed before they are freed. Its size is fixed: a growing vector would free
// unzeroed copies of what it held.
class wiped_buffer
{
public:
    explicit wiped_buffer(std::size_t size) : m_bytes(size) {}
    ~wiped_buffer() { explicit_bzero(m_bytes.data(), m_bytes.size()); }
    wiped_buffer(const wiped_buffer&) = delete;
    wiped_buffer& operator=(const wiped_buffer&) = delete;

    char* data() { return m_bytes.data(); }
    std::size_t size() const { return m_bytes.size(); }

private:
    std::vector<char> m_bytes;
};

// The next field of `line` (fields are separated by single spaces), taken off its front.
std::string_view next_field(std::string_view& line)
{
    const auto end = line.find(' ');
    const std::string_view field = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end + 1);
    return field;
}

} // namespace

void for_each_mount_in(std::string_view table, const mount_visitor& visit)
{
    while (!table.empty())
    {
        const auto end = table.find('\n');
        std::string_view line = table.substr(0, end);
        table.remove_prefix(end == std::string_view::npos ? table.size() : end + 1);
        mount_entry entry;
        entry.device = next_field(line);
        entry.target = next_field(line);
        entry.type = next_field(line);
        entry.options = next_field(line);
        if (!entry.options.empty())
        {
            visit(entry);
        }
    }
}

void for_each_mount(const mount_visitor& visit)
{
    for (std::size_t size = first_buffer_bytes; size <= largest_buffer_bytes; size *= 2)
    {
        unique_fd table(open("/proc/self/mounts", O_RDONLY | O_CLOEXEC));
        if (!table)
        {
            return;
        }
        wiped_buffer buffer(size);
        std::size_t used = 0;
        while (used < buffer.size())
        {
            const ssize_t n = read(table.get(), buffer.data() + used, buffer.size() - used);
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n < 0)
            {
                return;
            }
            if (n == 0)
            {
                for_each_mount_in(std::string_view(buffer.data(), used), visit);
                return;
            }
            used += static_cast<std::size_t>(n);
        }
        // Full: the table may go on. Read it again into a larger buffer.
    }
}

} // namespace cellbox::sandbox
