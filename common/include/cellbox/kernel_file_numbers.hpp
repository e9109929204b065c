#pragma once
// Numbers the Linux kernel publishes as text files (cgroup and /proc files): the sandbox reads
// a session's memory peak and OOM kills from them, the gateway its room for pooled sessions.
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

namespace cellbox
{

// The first number of a file such as memory.current or memory.peak. None for "max" (no limit)
// and for a file that is missing or unreadable.
inline std::optional<std::uint64_t> read_file_number(const std::string& path)
{
    std::ifstream file(path);
    std::uint64_t value = 0;
    if (file >> value)
    {
        return value;
    }
    return std::nullopt;
}

// The value of `key` in a file of "key value" lines (memory.events, memory.stat, cpu.stat,
// /proc/meminfo, whose lines end in a unit). None if the key or the file is missing.
inline std::optional<std::uint64_t> read_file_key(const std::string& path, const std::string& key)
{
    std::ifstream file(path);
    std::string name;
    std::uint64_t value = 0;
    while (file >> name >> value)
    {
        if (name == key)
        {
            return value;
        }
        std::string unit;
        std::getline(file, unit);
    }
    return std::nullopt;
}

} // namespace cellbox
