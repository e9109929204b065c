#include "cellbox/kernel/huge_pages.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25 // Linux 6.1; Debian 12's glibc headers predate it
#endif

namespace cellbox::kernel
{
namespace
{

// A span is folded when at least this many of its 512 pages are resident: at most 256 KiB of
// zeros added per 2 MiB. Python's arenas are touched as they fill, so nearly all of the
// zygote's heap qualifies.
constexpr std::size_t resident_of_512_to_fold = 448;

bool nearly_all_resident(const address_span& span)
{
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> resident((span.end - span.start) / page);
    if (mincore(reinterpret_cast<void*>(span.start), span.end - span.start, resident.data()) != 0)
    {
        return false;
    }
    std::size_t count = 0;
    for (const unsigned char flags : resident)
    {
        count += flags & 1;
    }
    return count * 512 >= resident_of_512_to_fold * resident.size();
}

// EAGAIN: a page was busy for a moment (the kernel's own advice is to try once more).
int collapse(const address_span& span)
{
    for (int attempt = 0; attempt < 2; ++attempt)
    {
        if (madvise(reinterpret_cast<void*>(span.start), span.end - span.start, MADV_COLLAPSE) == 0)
        {
            return 0;
        }
        if (errno != EAGAIN)
        {
            break;
        }
    }
    return errno;
}

std::optional<std::uintptr_t> hex_address(std::string_view text)
{
    std::uintptr_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (error != std::errc() || end != text.data() + text.size() || text.empty())
    {
        return std::nullopt;
    }
    return value;
}

} // namespace

std::vector<address_span> huge_page_candidates(std::string_view smaps)
{
    std::vector<address_span> spans;
    std::istringstream lines{std::string(smaps)};
    std::string line;
    address_span mapping;   // the last header's
    bool qualifies = false; // and whether it is one to fold
    while (std::getline(lines, line))
    {
        std::istringstream fields(line);
        std::string first, second, offset, device, inode, path;
        fields >> first >> second;
        if (first == "Rss:" && qualifies)
        {
            // A mapping mostly never touched (a sanitizer's shadow memory: terabytes) is not
            // searched span by span; one that is even an eighth resident has few spans.
            std::uint64_t resident_kib = 0;
            std::istringstream(second) >> resident_kib;
            const std::uintptr_t size = mapping.end - mapping.start;
            if (resident_kib * 1024 * 8 >= size)
            {
                for (std::uintptr_t at =
                         (mapping.start + huge_page_size - 1) & ~(huge_page_size - 1);
                     at + huge_page_size <= mapping.end; at += huge_page_size)
                {
                    spans.push_back({at, at + huge_page_size});
                }
            }
            qualifies = false;
            continue;
        }
        const auto dash = first.find('-');
        if (dash == std::string::npos || second.size() != 4)
        {
            continue; // another field of the mapping
        }
        // start-end perms offset device inode [path]
        qualifies = false;
        fields >> offset >> device >> inode >> path;
        if (second == "rw-p" && inode == "0" && (path.empty() || path == "[heap]"))
        {
            const auto start = hex_address(std::string_view(first).substr(0, dash));
            const auto end = hex_address(std::string_view(first).substr(dash + 1));
            if (start && end && *start < *end)
            {
                mapping = address_span{*start, *end};
                qualifies = true;
            }
        }
    }
    return spans;
}

huge_page_fold fold_into_huge_pages()
{
    std::ifstream file("/proc/self/smaps");
    std::stringstream smaps;
    smaps << file.rdbuf();
    huge_page_fold fold;
    for (const address_span& span : huge_page_candidates(smaps.str()))
    {
        if (!nearly_all_resident(span))
        {
            continue;
        }
        const int error = collapse(span);
        if (error == 0)
        {
            fold.folded_bytes += span.end - span.start;
            continue;
        }
        fold.error = std::string("madvise(MADV_COLLAPSE): ") + std::strerror(error);
        if (error == EINVAL || error == ENOSYS || error == EPERM)
        {
            break; // this Linux cannot, for any span
        }
    }
    return fold;
}

} // namespace cellbox::kernel
