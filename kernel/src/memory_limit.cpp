#include "cellbox/kernel/memory_limit.hpp"

#include "cellbox/kernel/resource_meter.hpp"

#include <cerrno>
#include <fstream>
#include <malloc.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <system_error>

namespace cellbox::kernel
{

std::uint64_t current_address_space()
{
    std::ifstream file("/proc/self/status");
    std::stringstream text;
    text << file.rdbuf();
    return static_cast<std::uint64_t>(parse_proc_status_bytes(text.str(), "VmSize").value_or(0));
}

void apply_memory_limit(std::uint64_t bytes)
{
    const std::uint64_t used = current_address_space();
    if (bytes <= used)
    {
        throw std::runtime_error("--memory-limit " + std::to_string(bytes) +
                                 " is below what the kernel already maps (" + std::to_string(used) +
                                 " bytes)");
    }
    // Each glibc malloc arena reserves 64 MiB of address space per thread that allocates;
    // with a few arenas they would eat the budget without holding data.
    mallopt(M_ARENA_MAX, 2);
    const rlimit limit{static_cast<rlim_t>(bytes), static_cast<rlim_t>(bytes)};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "setrlimit(RLIMIT_AS)");
    }
}

} // namespace cellbox::kernel
