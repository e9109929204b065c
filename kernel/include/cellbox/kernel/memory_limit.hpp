#pragma once

#include <cstdint>

namespace cellbox::kernel
{

// Caps the kernel's address space (RLIMIT_AS, soft and hard) so that an allocation past the
// limit fails with ENOMEM, which CPython and numpy report as MemoryError in the cell, instead
// of the kernel being killed. The budget is the memory resident now plus all memory mapped
// from now on, so resident use stays below `bytes`; the sandbox's cgroup limit is the hard
// backstop. Throws when the kernel already uses more.
void apply_memory_limit(std::uint64_t bytes);

// Address space mapped by this process now, in bytes.
std::uint64_t current_address_space();

} // namespace cellbox::kernel
