// Which protections this machine gives: probed for --check, and required by each launch as
// its policy says.
#include "cellbox/sandbox/cgroup.hpp"
#include "cellbox/sandbox/launcher.hpp"
#include "steps.hpp"

#include <algorithm>
#include <fcntl.h>
#include <fstream>
#include <sched.h>
#include <stdexcept>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

// Whether a child can unshare `flags` (adding a user namespace when not root, as the
// launcher does).
bool can_unshare(int flags)
{
    if (geteuid() != 0)
    {
        flags |= CLONE_NEWUSER;
    }
    const pid_t child = fork();
    if (child == 0)
    {
        _exit(unshare(flags) == 0 ? 0 : 1);
    }
    int status = 0;
    return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

bool seccomp_supported()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
    {
        if (line.rfind("Seccomp_filters:", 0) == 0 || line.rfind("Seccomp:", 0) == 0)
        {
            return true;
        }
    }
    return false;
}

} // namespace

std::vector<protection_status> check_protections()
{
    const bool root = geteuid() == 0;
    const cgroup_support cgroups = session_cgroup::probe();
    const std::string cgroup_note =
        cgroups.reason.empty() ? "cgroup v" + std::to_string(cgroups.version) : cgroups.reason;
    return {
        {protection::mount_namespace, can_unshare(CLONE_NEWNS), ""},
        {protection::pid_namespace, can_unshare(CLONE_NEWPID), ""},
        {protection::network_namespace, can_unshare(CLONE_NEWNET), "loopback only"},
        {protection::ipc_namespace, can_unshare(CLONE_NEWIPC), ""},
        {protection::uts_namespace, can_unshare(CLONE_NEWUTS), ""},
        {protection::cgroup_namespace, can_unshare(CLONE_NEWCGROUP), ""},
        {protection::user_namespace, root || can_unshare(0),
         root ? "not needed as root" : "unprivileged mode"},
        {protection::seccomp, seccomp_supported(), "allow-list"},
        {protection::no_new_privs, true, ""},
        {protection::memory_cgroup, root && cgroups.memory,
         root ? cgroup_note : "needs root or a delegated cgroup; RLIMIT_AS instead"},
        {protection::pids_cgroup, root && cgroups.pids,
         root ? cgroup_note : "needs root or a delegated cgroup"},
        {protection::cpu_cgroup, root && cgroups.cpu,
         root ? cgroup_note : "needs root or a delegated cgroup; RLIMIT_CPU only"},
        {protection::distinct_uid, root, root ? "" : "runs as the calling user"},
    };
}

void require_protections(launch_state& s)
{
    const session_config& config = s.config;
    s.cgroups = session_cgroup::probe();
    // A protection this launch cannot give: refused if the policy requires it (unless degraded
    // runs are allowed), else listed in the verdict's "degraded".
    const auto require = [&](protection p, bool available, const std::string& why)
    {
        if (available)
        {
            return;
        }
        const bool required = std::find(config.rules.required.begin(), config.rules.required.end(),
                                        p) != config.rules.required.end();
        if (required && !config.allow_degraded)
        {
            throw std::runtime_error(std::string("the policy requires ") + name_of(p) +
                                     ", which is not available here (" + why +
                                     "); --allow-degraded runs without it");
        }
        s.record.result.degraded.push_back(name_of(p));
    };
    const bool as_root = s.plan.as_root;
    require(protection::memory_cgroup, as_root && s.cgroups.memory, s.cgroups.reason);
    require(protection::pids_cgroup, as_root && s.cgroups.pids, s.cgroups.reason);
    require(protection::cpu_cgroup, as_root && s.cgroups.cpu, s.cgroups.reason);
    require(protection::distinct_uid, as_root, "not running as root");
}

} // namespace cellbox::sandbox
