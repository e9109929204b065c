// The session's namespaces. Only the pid namespace (and, without root, the user namespace)
// comes with the clone (launcher.cpp): the init unshares the others itself, so that making
// them overlaps with the launcher's work (a network namespace alone takes ~0.3 ms).
#include "steps.hpp"

#include <fstream>
#include <sched.h>
#include <string>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

void write_file(const std::string& path, const std::string& text)
{
    std::ofstream file(path);
    file << text;
    file.flush();
    if (!file)
    {
        throw system_failure("write " + path);
    }
}

} // namespace

void write_id_maps(launch_state& s)
{
    if (s.plan.as_root)
    {
        return; // no user namespace: the payload drops to plan.uid itself
    }
    // One id each: the launcher's own, seen inside as the plan's (setgroups must be denied
    // before an unprivileged process may write a gid_map).
    const std::string proc = "/proc/" + std::to_string(s.record.init);
    write_file(proc + "/setgroups", "deny");
    write_file(proc + "/gid_map",
               std::to_string(s.plan.gid) + " " + std::to_string(getegid()) + " 1\n");
    write_file(proc + "/uid_map",
               std::to_string(s.plan.uid) + " " + std::to_string(geteuid()) + " 1\n");
}

void unshare_namespaces(init_state&)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) != 0)
    {
        throw system_failure("unshare mount, network, ipc and uts namespaces");
    }
}

void unshare_cgroup_namespace(init_state& s)
{
    // After the launcher moved us into the session's cgroups: they become our cgroup root.
    if (unshare(CLONE_NEWCGROUP) != 0 && !s.plan.config->allow_degraded)
    {
        throw system_failure("unshare cgroup namespace");
    }
}

void set_hostname(init_state& s)
{
    const std::string& hostname = s.plan.config->rules.hostname;
    sethostname(hostname.data(), hostname.size());
}

} // namespace cellbox::sandbox
