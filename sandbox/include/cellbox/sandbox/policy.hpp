#pragma once

#include "cellbox/contract/launch_limits.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace cellbox::sandbox
{

class policy_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Resource limits of one session. Unset optionals mean "no limit".
struct resource_limits
{
    std::optional<std::uint64_t> memory_bytes;
    std::optional<std::uint64_t> pids;
    std::optional<double> cpus;        // CPU quota in cores (0.5 = half a core)
    std::optional<double> cpu_time_s;  // CPU seconds before the session is killed
    std::optional<double> wall_time_s; // wall-clock seconds before the session is killed
    std::uint64_t open_files = 1024;
    std::uint64_t file_size_bytes = 1ULL << 30;
    // Caps of the session's tmpfs mounts; they are sized from the memory limit below these
    // (tmpfs pages are charged to the session's memory cgroup: see tmpfs_sizes.hpp).
    std::uint64_t tmp_size_bytes = 256ULL << 20; // /tmp (and /work without a workdir)
    std::uint64_t shm_size_bytes = 64ULL << 20;  // /dev/shm
};

// Protections a policy can require; --check reports each as available or not.
enum class protection
{
    mount_namespace,
    pid_namespace,
    network_namespace,
    ipc_namespace,
    uts_namespace,
    cgroup_namespace,
    user_namespace,
    seccomp,
    no_new_privs,
    memory_cgroup,
    pids_cgroup,
    cpu_cgroup,
    distinct_uid,
};

const char* name_of(protection p);
std::optional<protection> protection_named(const std::string& name);

// How the session's processes are scheduled against the rest of the host (confine_process).
enum class cpu_scheduling
{
    // SCHED_BATCH: a session's thread that wakes up does not preempt the one running; it
    // waits for its turn (at most a scheduler tick). Kernels hand every message between
    // threads and processes; woken each time at once, they switched 3-5 times per cell.
    batch,
    normal, // SCHED_OTHER, as the launcher's
};
const char* name_of(cpu_scheduling s);

// The sandbox policy: a readable data file (share/cellbox/policies/default.toml).
struct policy
{
    resource_limits limits;
    // Host paths bound read-only at the same place (directories recursively, or files).
    std::vector<std::string> read_only;
    // Top-level names such as /bin and /lib: recreated as the host has them (symlink or
    // read-only bind), since merged-/usr systems make them symlinks.
    std::vector<std::string> root_links;
    std::vector<std::string> devices; // names under /dev bound from the host
    std::map<std::string, std::string> environment;
    std::vector<std::string> allowed_syscalls;
    std::vector<protection> required;
    std::string hostname = "cellbox";
    std::uint32_t first_uid = 100000; // --uid default when the launcher is root
    cpu_scheduling scheduling = cpu_scheduling::batch;
};

policy load_policy(const std::string& path);
policy parse_policy(const std::string& toml_text, const std::string& origin);

// The limits a launch asks for (its command line, a zygote spawn) replace the policy's.
void override_limits(resource_limits& limits, const contract::launch_limits& asked);

} // namespace cellbox::sandbox
