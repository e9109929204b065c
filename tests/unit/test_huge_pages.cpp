// The zygote's fold of its heap into huge pages (huge_pages.hpp): which mappings qualify, and
// that a fold keeps the memory's contents and adds none for what was never touched.
#include "cellbox/kernel/huge_pages.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

using namespace cellbox::kernel;

namespace
{

constexpr std::uintptr_t mib = 1 << 20;

// AnonHugePages of the mapping that contains `address`, in bytes (/proc/self/smaps).
std::uint64_t huge_bytes_at(const void* address)
{
    const auto at = reinterpret_cast<std::uintptr_t>(address);
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inside = false;
    while (std::getline(smaps, line))
    {
        const auto dash = line.find('-');
        const auto space = line.find(' ');
        if (dash != std::string::npos && space != std::string::npos && dash < space &&
            line.find(':') > space)
        {
            const std::uintptr_t start = std::stoull(line.substr(0, dash), nullptr, 16);
            const std::uintptr_t end =
                std::stoull(line.substr(dash + 1, space - dash), nullptr, 16);
            inside = start <= at && at < end;
        }
        else if (inside && line.rfind("AnonHugePages:", 0) == 0)
        {
            std::istringstream fields(line.substr(14));
            std::uint64_t kib = 0;
            fields >> kib;
            return kib * 1024;
        }
    }
    return 0;
}

std::size_t resident_pages(const void* address, std::size_t length)
{
    std::vector<unsigned char> flags(length / static_cast<std::size_t>(getpagesize()));
    REQUIRE(mincore(const_cast<void*>(address), length, flags.data()) == 0);
    std::size_t count = 0;
    for (const unsigned char f : flags)
    {
        count += f & 1;
    }
    return count;
}

} // namespace

TEST_CASE("huge pages: the aligned 2 MiB spans of private anonymous memory and the heap")
{
    const std::string smaps =
        // the brk heap, 0x1000 to 0x600000, all resident: spans at 2 and 4 MiB
        "00001000-00600000 rw-p 00000000 00:00 0                          [heap]\n"
        "Size:               6140 kB\nRss:                6140 kB\n"
        // anonymous, an eighth resident: two spans (the fold checks each one's pages)
        "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
        "Size:               4096 kB\nRss:                 512 kB\nAnonymous:           512 kB\n"
        // anonymous, less than an eighth resident (a sanitizer's shadow): none
        "7e0000000000-7f0000000000 rw-p 00000000 00:00 0 \n"
        "Size:        17179869184 kB\nRss:               9000 kB\n"
        // no trailing space, 3 MiB unaligned: one span
        "7f1000100000-7f1000400000 rw-p 00000000 00:00 0\n"
        "Rss:                3072 kB\n"
        // too small once aligned
        "7f2000100000-7f2000300000 rw-p 00000000 00:00 0\n"
        "Rss:                2048 kB\n"
        // a library's data, the stack, read-only, shared, executable: never
        "7f3000000000-7f3000400000 rw-p 00010000 08:01 1234   /usr/lib/libpython3.11.so\n"
        "Rss:                4096 kB\n"
        "7ffc00000000-7ffc00800000 rw-p 00000000 00:00 0                  [stack]\n"
        "Rss:                8192 kB\n"
        "7f4000000000-7f4000400000 r--p 00000000 00:00 0\nRss:                4096 kB\n"
        "7f5000000000-7f5000400000 rw-s 00000000 00:01 99     /dev/zero (deleted)\n"
        "Rss:                4096 kB\n"
        "7f6000000000-7f6000400000 rwxp 00000000 00:00 0\nRss:                4096 kB\n"
        // nonsense: skipped
        "zz-7f7000400000 rw-p 00000000 00:00 0\nRss:                4096 kB\n"
        "7f8000400000-7f8000000000 rw-p 00000000 00:00 0\nRss:                4096 kB\n"
        "garbage line\n";
    const std::vector<address_span> expected = {
        {0x200000, 0x400000},
        {0x400000, 0x600000},
        {0x7f0000000000, 0x7f0000200000},
        {0x7f0000200000, 0x7f0000400000},
        {0x7f1000200000, 0x7f1000400000},
    };
    CHECK(huge_page_candidates(smaps) == expected);
    CHECK(huge_page_candidates("").empty());
}

TEST_CASE("huge pages: a fold keeps the contents and leaves sparse memory alone")
{
    // One mapping of two 2 MiB-aligned spans (a protected page after them ends the mapping):
    // the first written all over, the second written once.
    const std::size_t reserved = 8 * mib;
    void* base =
        mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(base != MAP_FAILED);
    const auto aligned = (reinterpret_cast<std::uintptr_t>(base) + 2 * mib - 1) & ~(2 * mib - 1);
    auto* dense = reinterpret_cast<unsigned char*>(aligned);
    auto* sparse = dense + 2 * mib;
    REQUIRE(mprotect(sparse + 2 * mib, getpagesize(), PROT_NONE) == 0);
    for (std::size_t i = 0; i < 2 * mib; ++i)
    {
        dense[i] = static_cast<unsigned char>(i * 7 + 1);
    }
    sparse[12345] = 42;

    const huge_page_fold fold = fold_into_huge_pages();
    if (!fold.error.empty())
    {
        // A Linux before 6.1 or without transparent huge pages, or no free huge page at the
        // moment: what could not fold stays as it was, nothing breaks.
        WARN("this host did not fold everything: " << fold.error);
    }
    else
    {
        CHECK(huge_bytes_at(dense) == 2 * mib); // the dense span only
    }
    CHECK(resident_pages(sparse, 2 * mib) == 1);
    bool same = true;
    for (std::size_t i = 0; i < 2 * mib; ++i)
    {
        same = same && dense[i] == static_cast<unsigned char>(i * 7 + 1);
    }
    CHECK(same);
    CHECK(sparse[12345] == 42);
    munmap(base, reserved);
}
