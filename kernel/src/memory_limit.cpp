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

namespace
{

std::uint64_t proc_status_bytes(const char* field)
{
    std::ifstream file("/proc/self/status");
    std::stringstream text;
    text << file.rdbuf();
    return static_cast<std::uint64_t>(parse_proc_status_bytes(text.str(), field).value_or(0));
}

} // namespace

std::uint64_t current_address_space()
{
    return proc_status_bytes("VmSize");
}

void apply_memory_limit(std::uint64_t bytes)
{
    // The kernel maps far more than it touches (thread stacks, malloc arenas, shared
    // libraries): ~200 MiB mapped for ~55 MiB resident at start. Capping the address space at
    // `bytes` would leave no room to import pandas under a 256 MiB limit, so the budget is
    // what is resident now plus every mapping made from here on.
    const std::uint64_t resident = proc_status_bytes("VmRSS");
    if (bytes <= resident)
    {
        throw std::runtime_error("--memory-limit " + std::to_string(bytes) +
                                 " is below what the kernel already uses (" +
                                 std::to_string(resident) + " bytes resident)");
    }
    const std::uint64_t address_space = current_address_space() + (bytes - resident);
    // Each glibc malloc arena reserves 64 MiB of address space per thread that allocates;
    // with a few arenas they would eat the budget without holding data.
    mallopt(M_ARENA_MAX, 2);
    const rlimit limit{static_cast<rlim_t>(address_space), static_cast<rlim_t>(address_space)};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "setrlimit(RLIMIT_AS)");
    }
}

} // namespace cellbox::kernel
