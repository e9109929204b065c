// The session's cgroups (v1 or v2): the session_cgroup class, and the launch steps that plan
// which limits they keep and put the sandbox's init into them.
#include "cellbox/sandbox/cgroup.hpp"

#include "cellbox/kernel_file_numbers.hpp"
#include "mount_table.hpp"
#include "steps.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <linux/magic.h>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <thread>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

constexpr const char* cgroup_root = "/sys/fs/cgroup";
constexpr const char* base_name = "cellbox";

std::string session_name()
{
    static std::atomic<unsigned> counter{0};
    return "s" + std::to_string(getpid()) + "-" + std::to_string(counter++);
}

std::string read_text(const std::string& path)
{
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
}

bool write_text(const std::string& path, const std::string& value)
{
    std::ofstream file(path);
    file << value;
    file.flush();
    return static_cast<bool>(file);
}

void must_write(const std::string& path, const std::string& value)
{
    if (!write_text(path, value))
    {
        throw cgroup_error("cannot write \"" + value + "\" to " + path + ": " +
                           std::strerror(errno));
    }
}

bool is_cgroup2(const char* path)
{
    struct statfs fs
    {
    };
    return statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

// Mount point of a v1 controller, from the mount table ("" when not mounted). The table is
// read once per process: hierarchies do not move under a running service, and every launch
// would otherwise parse it eight times. It is read with for_each_mount, which leaves no copy
// of the other lines (other users' /work mounts) in memory: a zygote session's supervisor
// reads it, and the session would inherit them (mount_table.hpp).
std::string v1_mount(const std::string& controller)
{
    static const std::map<std::string, std::string> mount_of_controller = []
    {
        std::map<std::string, std::string> found;
        for_each_mount(
            [&found](const mount_entry& mount)
            {
                if (mount.type != "cgroup")
                {
                    return;
                }
                for (std::string_view options = mount.options; !options.empty();)
                {
                    const auto comma = options.find(',');
                    // The first mount of a controller wins.
                    found.emplace(options.substr(0, comma), mount.target);
                    options.remove_prefix(comma == std::string_view::npos ? options.size()
                                                                          : comma + 1);
                }
            });
        return found;
    }();
    const auto it = mount_of_controller.find(controller);
    return it == mount_of_controller.end() ? "" : it->second;
}

bool make_dir(const std::string& path, std::vector<std::string>& created)
{
    if (mkdir(path.c_str(), 0700) == 0)
    {
        created.push_back(path);
        return true;
    }
    return errno == EEXIST;
}

bool writable_dir(const std::string& path)
{
    return access(path.c_str(), W_OK) == 0;
}

// Session directories are named s<launcher pid>-<n>. A launcher killed with SIGKILL cannot
// remove its own (its sandbox dies with it through PR_SET_PDEATHSIG): the next launcher does.
void remove_abandoned_sessions(const std::string& base)
{
    DIR* dir = opendir(base.c_str());
    if (dir == nullptr)
    {
        return;
    }
    while (const dirent* entry = readdir(dir))
    {
        unsigned long launcher = 0;
        if (entry->d_type != DT_DIR || std::sscanf(entry->d_name, "s%lu-", &launcher) != 1)
        {
            continue;
        }
        if (kill(static_cast<pid_t>(launcher), 0) != 0 && errno == ESRCH)
        {
            rmdir((base + "/" + entry->d_name).c_str()); // fails harmlessly if still populated
        }
    }
    closedir(dir);
}

} // namespace

cgroup_support session_cgroup::probe()
{
    cgroup_support support;
    if (is_cgroup2(cgroup_root))
    {
        support.version = 2;
        const std::string controllers = read_text(std::string(cgroup_root) + "/cgroup.controllers");
        const auto has = [&](const char* name)
        { return controllers.find(name) != std::string::npos; };
        const bool writable = writable_dir(cgroup_root);
        support.memory = writable && has("memory");
        support.pids = writable && has("pids");
        support.cpu = writable && has("cpu");
        if (!writable)
        {
            support.reason = "cgroup v2 is not delegated to this user";
        }
        return support;
    }
    const auto usable = [](const char* controller)
    {
        const std::string mount = v1_mount(controller);
        return !mount.empty() && writable_dir(mount);
    };
    support.memory = usable("memory");
    support.pids = usable("pids");
    support.cpu = usable("cpu") && usable("cpuacct");
    support.version = (support.memory || support.pids || support.cpu) ? 1 : 0;
    if (!(support.memory && support.pids && support.cpu))
    {
        support.reason = geteuid() == 0 ? "a cgroup v1 controller is not mounted"
                                        : "cgroup v1 controllers are writable only by root";
    }
    return support;
}

bool session_cgroup::migrations_are_fast()
{
    std::ifstream mounts("/proc/self/mountinfo");
    std::string line;
    while (std::getline(mounts, line))
    {
        if (line.find(" - cgroup2 ") != std::string::npos &&
            line.find("favordynmods") != std::string::npos)
        {
            return true;
        }
    }
    return false;
}

std::unique_ptr<session_cgroup> session_cgroup::create(const std::string& session_name,
                                                       const resource_limits& limits)
{
    std::unique_ptr<session_cgroup> group(new session_cgroup());
    auto& created = group->m_created;
    const auto session_dir = [&](const std::string& mount)
    {
        // The shared parent "cellbox" stays: other sessions live in it too.
        const std::string base = mount + "/" + base_name;
        const std::string dir = base + "/" + session_name;
        std::vector<std::string> kept_parent;
        remove_abandoned_sessions(base);
        if (!make_dir(base, kept_parent) || !make_dir(dir, created))
        {
            throw cgroup_error("cannot create " + dir + ": " + std::strerror(errno));
        }
        return dir;
    };
    try
    {
        if (is_cgroup2(cgroup_root))
        {
            group->m_version = 2;
            const std::string root(cgroup_root);
            // Controllers must be enabled on the way down; the base has no tasks of its own.
            write_text(root + "/cgroup.subtree_control", "+memory +pids +cpu");
            const std::string base = root + "/" + base_name;
            std::vector<std::string> kept_parent;
            make_dir(base, kept_parent);
            write_text(base + "/cgroup.subtree_control", "+memory +pids +cpu");
            const std::string dir = session_dir(root);
            group->m_unified = dir;
            if (limits.memory_bytes)
            {
                must_write(dir + "/memory.max", std::to_string(*limits.memory_bytes));
                write_text(dir + "/memory.swap.max", "0");
                write_text(dir + "/memory.oom.group", "1");
            }
            if (limits.pids)
            {
                must_write(dir + "/pids.max", std::to_string(*limits.pids));
            }
            if (limits.cpus)
            {
                must_write(dir + "/cpu.max",
                           std::to_string(static_cast<long>(*limits.cpus * 100000)) + " 100000");
            }
            return group;
        }
        group->m_version = 1;
        if (limits.memory_bytes)
        {
            const std::string dir = session_dir(v1_mount("memory"));
            group->m_memory = dir;
            // memsw must stay >= limit at every step: lift it, set the limit, then pin it.
            write_text(dir + "/memory.memsw.limit_in_bytes", "-1");
            must_write(dir + "/memory.limit_in_bytes", std::to_string(*limits.memory_bytes));
            write_text(dir + "/memory.memsw.limit_in_bytes", std::to_string(*limits.memory_bytes));
            write_text(dir + "/memory.swappiness", "0");
        }
        if (limits.pids)
        {
            group->m_pids = session_dir(v1_mount("pids"));
            must_write(group->m_pids + "/pids.max", std::to_string(*limits.pids));
        }
        group->m_cpuacct = session_dir(v1_mount("cpuacct"));
        if (limits.cpus)
        {
            group->m_cpu = session_dir(v1_mount("cpu"));
            must_write(group->m_cpu + "/cpu.cfs_period_us", "100000");
            must_write(group->m_cpu + "/cpu.cfs_quota_us",
                       std::to_string(static_cast<long>(*limits.cpus * 100000)));
        }
        return group;
    }
    catch (...)
    {
        group->destroy();
        throw;
    }
}

session_cgroup::~session_cgroup()
{
    destroy();
}

void session_cgroup::add_process(pid_t pid)
{
    for (const auto* dir : {&m_memory, &m_pids, &m_cpu, &m_cpuacct, &m_unified})
    {
        if (!dir->empty())
        {
            must_write(*dir + "/cgroup.procs", std::to_string(pid));
        }
    }
}

void session_cgroup::set_memory_limit(std::uint64_t bytes)
{
    const std::string value = std::to_string(bytes);
    if (!m_unified.empty() && m_version == 2)
    {
        must_write(m_unified + "/memory.max", value);
        return;
    }
    if (m_memory.empty())
    {
        throw cgroup_error("this session has no memory cgroup");
    }
    // Same order as at creation: memsw must stay >= limit at every step.
    write_text(m_memory + "/memory.memsw.limit_in_bytes", "-1");
    must_write(m_memory + "/memory.limit_in_bytes", value);
    write_text(m_memory + "/memory.memsw.limit_in_bytes", value);
}

std::uint64_t session_cgroup::oom_kills() const
{
    if (m_version == 2)
    {
        return read_file_key(m_unified + "/memory.events", "oom_kill").value_or(0);
    }
    return m_memory.empty()
               ? 0
               : read_file_key(m_memory + "/memory.oom_control", "oom_kill").value_or(0);
}

std::uint64_t session_cgroup::peak_memory_bytes() const
{
    if (m_version == 2)
    {
        return read_file_number(m_unified + "/memory.peak").value_or(0);
    }
    return m_memory.empty() ? 0
                            : read_file_number(m_memory + "/memory.max_usage_in_bytes").value_or(0);
}

std::uint64_t session_cgroup::cpu_usage_ns() const
{
    if (m_version == 2)
    {
        return read_file_key(m_unified + "/cpu.stat", "usage_usec").value_or(0) * 1000;
    }
    return m_cpuacct.empty() ? 0 : read_file_number(m_cpuacct + "/cpuacct.usage").value_or(0);
}

std::uint64_t session_cgroup::pids_limit_hits() const
{
    const std::string& dir = m_version == 2 ? m_unified : m_pids;
    return dir.empty() ? 0 : read_file_key(dir + "/pids.events", "max").value_or(0);
}

bool session_cgroup::empty() const
{
    for (const auto* dir : {&m_memory, &m_pids, &m_cpu, &m_cpuacct, &m_unified})
    {
        if (!dir->empty() && !read_text(*dir + "/cgroup.procs").empty())
        {
            return false;
        }
    }
    return true;
}

void session_cgroup::destroy()
{
    // Usually the tasks are gone already (the sandbox's pid namespace died with its init), and
    // removing the directories is all there is to do: a directory that still holds a task
    // refuses (EBUSY), and only then are the tasks listed and killed.
    const auto remove_directories = [this](int attempts, bool report)
    {
        bool all_removed = true;
        for (auto it = m_created.rbegin(); it != m_created.rend(); ++it)
        {
            for (int attempt = 1; rmdir(it->c_str()) != 0; ++attempt)
            {
                if (errno != EBUSY)
                {
                    break; // ENOENT: removed already
                }
                if (attempt >= attempts)
                {
                    all_removed = false;
                    if (report)
                    {
                        // Nobody else removes it while this launcher lives: say so in its log.
                        std::fprintf(stderr, "cellbox-sandbox: cannot remove %s: still busy\n",
                                     it->c_str());
                    }
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(5));
            }
        }
        return all_removed;
    };
    if (!remove_directories(1, false))
    {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!empty() && std::chrono::steady_clock::now() < deadline)
        {
            for (const auto* dir : {&m_memory, &m_pids, &m_cpu, &m_cpuacct, &m_unified})
            {
                if (dir->empty())
                {
                    continue;
                }
                if (m_version == 2 && write_text(*dir + "/cgroup.kill", "1"))
                {
                    continue;
                }
                std::istringstream procs(read_text(*dir + "/cgroup.procs"));
                pid_t pid = 0;
                while (procs >> pid)
                {
                    kill(pid, SIGKILL);
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        remove_directories(100, true);
    }
    m_created.clear();
    m_memory.clear();
    m_pids.clear();
    m_cpu.clear();
    m_cpuacct.clear();
    m_unified.clear();
}

void plan_limits(launch_state& s)
{
    // As root, the cgroups keep the limits this machine's controllers can enforce; confine.cpp
    // makes rlimits stand in for the memory and pids limits they cannot.
    s.use_cgroups = s.plan.as_root && s.cgroups.version != 0;
    s.in_cgroup = s.config.rules.limits;
    if (!s.use_cgroups)
    {
        return;
    }
    if (!s.cgroups.memory)
    {
        s.in_cgroup.memory_bytes.reset();
    }
    if (!s.cgroups.pids)
    {
        s.in_cgroup.pids.reset();
    }
    if (!s.cgroups.cpu)
    {
        s.in_cgroup.cpus.reset();
    }
    s.plan.memory_in_cgroup = s.in_cgroup.memory_bytes.has_value();
    s.plan.pids_in_cgroup = s.in_cgroup.pids.has_value();
}

void join_cgroups(launch_state& s)
{
    // Created, with their limits, while the init builds its filesystem; it joins them before
    // it may start the payload (release_into_limits).
    if (!s.use_cgroups)
    {
        return;
    }
    launch_record& r = s.record;
    r.cgroup = session_cgroup::create(session_name(), s.in_cgroup);
    r.oom_kills_before = r.cgroup->oom_kills();
    r.cgroup->add_process(r.init);
}

} // namespace cellbox::sandbox
