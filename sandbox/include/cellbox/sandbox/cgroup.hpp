#pragma once

#include "cellbox/sandbox/policy.hpp"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cellbox::sandbox
{

class cgroup_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Which limits this machine's cgroups can enforce for us.
struct cgroup_support
{
    int version = 0; // 1 (v1 or hybrid), 2 (unified), 0 (none usable)
    bool memory = false;
    bool pids = false;
    bool cpu = false;
    std::string reason; // why something is missing
};

// The cgroups of one session (v1: one directory per controller; v2: one directory), created
// with its limits before any task joins, and removed with every task in them killed.
class session_cgroup
{
public:
    static cgroup_support probe();

    // Whether a cgroup2 hierarchy is mounted with favordynmods: moving a task between cgroups
    // (every launch does) then never waits for an RCU grace period (up to ~12 ms otherwise).
    static bool migrations_are_fast();

    // Throws cgroup_error when a needed controller cannot be set up.
    static std::unique_ptr<session_cgroup> create(const std::string& session_name,
                                                  const resource_limits& limits);
    ~session_cgroup();

    session_cgroup(const session_cgroup&) = delete;
    session_cgroup& operator=(const session_cgroup&) = delete;

    void add_process(pid_t pid);

    // Changes the memory limit of a running session (late binding); throws cgroup_error, e.g.
    // when the session already uses more than `bytes`.
    void set_memory_limit(std::uint64_t bytes);

    std::uint64_t oom_kills() const;
    std::uint64_t peak_memory_bytes() const;
    std::uint64_t cpu_usage_ns() const;
    std::uint64_t pids_limit_hits() const;
    bool empty() const;

    // SIGKILLs every task, waits until the cgroups are empty, removes the directories.
    void destroy();

private:
    session_cgroup() = default;

    int m_version = 0;
    std::string m_memory, m_pids, m_cpu, m_cpuacct; // v1 directories ("" = not used)
    std::string m_unified;                          // v2 directory
    std::vector<std::string> m_created;             // to remove, deepest first
};

} // namespace cellbox::sandbox
