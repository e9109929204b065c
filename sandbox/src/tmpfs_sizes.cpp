#include "cellbox/sandbox/tmpfs_sizes.hpp"

#include "cellbox/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <string>
#include <sys/mount.h>
#include <system_error>

namespace cellbox::sandbox
{
namespace
{

constexpr std::uint64_t mib = 1ULL << 20;

std::uint64_t share_of(std::optional<std::uint64_t> memory, std::uint64_t divisor,
                       std::uint64_t cap)
{
    if (!memory)
    {
        return cap;
    }
    return std::min(cap, std::max(*memory / divisor, mib));
}

void resize(const char* path, std::uint64_t bytes)
{
    const unique_fd context(fspick(AT_FDCWD, path, FSPICK_CLOEXEC | FSPICK_NO_AUTOMOUNT));
    const std::string size = std::to_string(bytes);
    if (!context || fsconfig(context.get(), FSCONFIG_SET_STRING, "size", size.c_str(), 0) != 0 ||
        fsconfig(context.get(), FSCONFIG_CMD_RECONFIGURE, nullptr, nullptr, 0) != 0)
    {
        throw std::system_error(errno, std::generic_category(),
                                std::string("resize ") + path + " to " + size + " bytes");
    }
}

} // namespace

tmpfs_sizes tmpfs_sizes_for(const resource_limits& limits,
                            std::optional<std::uint64_t> memory_bytes)
{
    return {share_of(memory_bytes, 4, limits.tmp_size_bytes),
            share_of(memory_bytes, 8, limits.shm_size_bytes)};
}

void resize_session_tmpfs(const tmpfs_sizes& sizes)
{
    resize("/tmp", sizes.tmp_bytes);
    resize("/dev/shm", sizes.shm_bytes);
}

} // namespace cellbox::sandbox
