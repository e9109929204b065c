#pragma once
// The zygote folds its heap into 2 MiB pages before its first fork. Each zygote session is
// three forks of the zygote's memory (its supervisor, the sandbox's init, the kernel), and a
// fork copies one page-table entry per resident 4 KiB page of private memory: ~85 MiB of
// Python heap, 20,000 entries, three times per session, most of a cold start's CPU. A huge page
// is one entry. The sessions still copy what they write 4 KiB at a time (Linux splits a shared
// huge page's mapping at the first write instead of copying 2 MiB), and the supervisor and the
// init, which write almost none of it, no longer copy the rest.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::kernel
{

struct address_span
{
    std::uintptr_t start = 0;
    std::uintptr_t end = 0; // one past the last byte

    bool operator==(const address_span& other) const
    {
        return start == other.start && end == other.end;
    }
};

constexpr std::uintptr_t huge_page_size = std::uintptr_t{2} << 20;

// The 2 MiB-aligned parts of the private, writable, anonymous mappings and of the brk heap
// listed in `smaps` (/proc/<pid>/smaps), one span per 2 MiB, from mappings at least an eighth
// resident. Not the stack or other named mappings, not shared or file-backed ones.
std::vector<address_span> huge_page_candidates(std::string_view smaps);

struct huge_page_fold
{
    std::uint64_t folded_bytes = 0; // now in huge pages
    std::string error;              // why some or all could not be folded, empty when none
};

// Folds those candidates of this process that are nearly all resident into huge pages
// (madvise MADV_COLLAPSE, Linux 6.1 and later). A sparse one is left alone: folding fills
// every missing 4 KiB page with zeros, memory that was never used. Stops at the first refusal
// that would refuse every span (a kernel without MADV_COLLAPSE, THP compiled out).
huge_page_fold fold_into_huge_pages();

} // namespace cellbox::kernel
