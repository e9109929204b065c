#include "memory_hygiene.hpp"

#include <cstdlib>
#include <cstring>
#include <malloc.h>

namespace cellbox::kernel::hygiene
{
namespace
{

// glibc's tcache: bins for requests up to 1032 bytes, one per 16 bytes, 7 chunks each by
// default. More per bin are taken than it holds, in case glibc.malloc.tcache_count was raised
// (up to 65535; past 64 this leaves some unscrubbed).
constexpr std::size_t smallest_cached = 24;
constexpr std::size_t largest_cached = 1032;
constexpr std::size_t cache_step = 16;
constexpr std::size_t taken_per_size = 64;
// What freed memory is overwritten with (0 would turn M_PERTURB off).
constexpr int perturb_byte = 0x5a;
// Deeper than the zygote's request handling goes (a 64 KiB read buffer, JSON parsing).
constexpr std::size_t scrubbed_stack_bytes = 256 * 1024;

} // namespace

void scrub_on_free()
{
    mallopt(M_PERTURB, perturb_byte);
}

void stop_scrubbing()
{
    mallopt(M_PERTURB, 0);
}

void scrub_cached_chunks()
{
    void* taken[taken_per_size];
    for (std::size_t size = smallest_cached; size <= largest_cached; size += cache_step)
    {
        for (auto& chunk : taken)
        {
            chunk = std::malloc(size);
            if (chunk != nullptr)
            {
                explicit_bzero(chunk, malloc_usable_size(chunk));
            }
        }
        for (auto* chunk : taken)
        {
            std::free(chunk);
        }
    }
}

[[gnu::noinline]] void scrub_stack()
{
    char area[scrubbed_stack_bytes];
    explicit_bzero(area, sizeof area);
    asm volatile("" : : "r"(area) : "memory"); // the area is used: not optimised away
}

void scrub(std::string& text)
{
    text.clear();
    scrub_tail(text);
}

void scrub_tail(std::string& text)
{
    const std::size_t size = text.size();
    text.resize(text.capacity());
    explicit_bzero(text.data() + size, text.size() - size);
    text.resize(size);
}

} // namespace cellbox::kernel::hygiene
