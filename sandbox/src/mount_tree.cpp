// The sandbox's filesystem (nsjail's mnt step): built inside a fresh tmpfs the payload never
// saw, from read-only binds, then made the root with pivot_root. The launcher first checks
// the host directories it binds (prepare_directories).
#include "cellbox/sandbox/handover.hpp"
#include "cellbox/sandbox/session.hpp"
#include "cellbox/sandbox/tmpfs_sizes.hpp"
#include "cellbox/unique_fd.hpp"
#include "mount_api.hpp"
#include "steps.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <memory>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::sandbox
{
namespace
{

// Where the new root is assembled; /tmp exists everywhere and this mount namespace is ours.
constexpr const char* new_root = "/tmp";

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

void mount_or_fail(const char* source, const std::string& target, const char* type,
                   unsigned long flags, const char* data = nullptr)
{
    if (mount(source, target.c_str(), type, flags, data) != 0)
    {
        fail(std::string("mount ") + (source != nullptr ? source : "") + " on " + target);
    }
}

void make_dirs(const std::string& path, mode_t mode = 0755)
{
    for (std::size_t pos = 1; pos != std::string::npos;)
    {
        pos = path.find('/', pos + 1);
        const std::string prefix = path.substr(0, pos);
        if (mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST)
        {
            fail("mkdir " + prefix);
        }
    }
}

void make_file(const std::string& path, const std::string& content = "")
{
    std::ofstream file(path);
    file << content;
    if (!file)
    {
        fail("create " + path);
    }
}

// Every mount below `target` read-only, nosuid, nodev: a bind remount would only change the
// top one, leaving submounts (e.g. of /usr) writable.
void make_read_only_recursively(const std::string& target)
{
    mount_attributes attributes{MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
    if (syscall(SYS_mount_setattr, AT_FDCWD, target.c_str(), AT_RECURSIVE, &attributes,
                sizeof attributes) != 0)
    {
        fail("mount_setattr read-only " + target);
    }
}

void bind_read_only(const std::string& host_path, const std::string& inside)
{
    struct stat info
    {
    };
    if (stat(host_path.c_str(), &info) != 0)
    {
        return; // policies list optional files (e.g. /etc/matplotlibrc)
    }
    if (S_ISDIR(info.st_mode))
    {
        make_dirs(inside);
    }
    else
    {
        make_dirs(inside.substr(0, inside.rfind('/')));
        make_file(inside);
    }
    mount_or_fail(host_path.c_str(), inside, nullptr, MS_BIND | MS_REC);
    make_read_only_recursively(inside);
}

// A host directory opened by the parent (O_PATH), bound read-write without suid or devices.
void bind_directory_fd(int fd, const std::string& inside, unsigned long extra_flags)
{
    make_dirs(inside);
    const std::string source = "/proc/self/fd/" + std::to_string(fd);
    mount_or_fail(source.c_str(), inside, nullptr, MS_BIND);
    mount_or_fail(nullptr, inside, nullptr,
                  MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | extra_flags);
}

void recreate_root_link(const std::string& name, const std::string& root)
{
    struct stat info
    {
    };
    if (lstat(name.c_str(), &info) != 0)
    {
        return;
    }
    if (S_ISLNK(info.st_mode))
    {
        char target[4096];
        const ssize_t n = readlink(name.c_str(), target, sizeof target - 1);
        if (n < 0)
        {
            fail("readlink " + name);
        }
        target[n] = '\0';
        if (symlink(target, (root + name).c_str()) != 0)
        {
            fail("symlink " + root + name);
        }
        return;
    }
    bind_read_only(name, root + name);
}

void build_dev(const policy& rules, const std::string& root, std::uint64_t shm_bytes)
{
    const std::string dev = root + "/dev";
    make_dirs(dev);
    mount_or_fail("cellbox-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755");
    for (const auto& name : rules.devices)
    {
        const std::string inside = dev + "/" + name;
        make_file(inside);
        mount_or_fail(("/dev/" + name).c_str(), inside, nullptr, MS_BIND);
        mount_or_fail(nullptr, inside, nullptr, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC);
    }
    const std::pair<const char*, const char*> links[] = {{"/proc/self/fd", "fd"},
                                                         {"/proc/self/fd/0", "stdin"},
                                                         {"/proc/self/fd/1", "stdout"},
                                                         {"/proc/self/fd/2", "stderr"}};
    for (const auto& [target, name] : links)
    {
        if (symlink(target, (dev + "/" + name).c_str()) != 0)
        {
            fail(std::string("symlink /dev/") + name);
        }
    }
    make_dirs(dev + "/shm");
    const std::string shm_options = "size=" + std::to_string(shm_bytes) + ",mode=1777";
    mount_or_fail("cellbox-shm", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  shm_options.c_str());
    mount_or_fail(nullptr, dev, nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
                  "size=64k,mode=0755");
}

void write_identity_files(const sandbox_plan& plan, const std::string& root)
{
    const std::string uid = std::to_string(plan.uid);
    const std::string gid = std::to_string(plan.gid);
    make_dirs(root + "/etc");
    make_file(root + "/etc/passwd", "root:x:0:0:root:/:/usr/sbin/nologin\n"
                                    "sandbox:x:" +
                                        uid + ":" + gid + ":sandbox:/work:/usr/sbin/nologin\n");
    make_file(root + "/etc/group", "root:x:0:\nsandbox:x:" + gid + ":\n");
    make_file(root + "/etc/hostname", plan.config->rules.hostname + "\n");
    make_file(root + "/etc/hosts", "127.0.0.1 localhost " + plan.config->rules.hostname + "\n");
}

unique_fd open_host_directory(const std::string& path)
{
    if (path.empty())
    {
        return unique_fd();
    }
    // Opened here, in this mount namespace (a bind source must belong to it), before the new
    // root hides anything, and without following a symlink planted in place of the directory.
    unique_fd fd(open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
    {
        fail("open " + path);
    }
    return fd;
}

// Checks a host directory given on the command line; as root, hands it (and, for the ipc
// directory, the files directly in it, e.g. a connection file) to the sandbox's uid, so the
// unprivileged program can use it. Never follows a symlink.
void prepare_directory(const std::string& path, const char* what, const sandbox_plan& plan,
                       bool with_files)
{
    if (path.empty())
    {
        return;
    }
    unique_fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
    {
        fail(std::string(what) + " " + path);
    }
    if (!plan.as_root)
    {
        return;
    }
    if (fchown(fd.get(), plan.uid, plan.gid) != 0)
    {
        fail(std::string("hand ") + what + " " + path + " to the sandbox uid");
    }
    if (!with_files)
    {
        return;
    }
    DIR* dir = fdopendir(dup(fd.get()));
    if (dir == nullptr)
    {
        fail(std::string("list ") + path);
    }
    struct dir_closer
    {
        void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, dir_closer> closer(dir);
    while (const dirent* entry = readdir(dir))
    {
        if (entry->d_type == DT_REG)
        {
            fchownat(fd.get(), entry->d_name, plan.uid, plan.gid, AT_SYMLINK_NOFOLLOW);
        }
    }
}

} // namespace

void prepare_directories(launch_state& s)
{
    const session_config& config = s.config;
    // The sandbox opens them again in its own mount namespace. Except a workdir with
    // another owner on disk: it becomes an idmapped mount, made here (the idmap's user
    // namespace needs root outside) and moved into place by the init, as at late binding.
    if (config.owner && !config.workdir.empty())
    {
        s.workdir_tree = detach_workdir(config.workdir, s.plan, config.owner);
        s.plan.workdir_tree = s.workdir_tree.get();
    }
    else
    {
        prepare_directory(config.workdir, "--workdir", s.plan, false);
    }
    prepare_directory(config.ipc_dir, "--ipc-dir", s.plan, true);
}

void enter_filesystem(init_state& s)
{
    build_filesystem(s.plan);
}

void build_filesystem(const sandbox_plan& plan)
{
    const session_config& config = *plan.config;
    const std::string root = new_root;
    // Nothing we mount may propagate back to the host.
    mount_or_fail(nullptr, "/", nullptr, MS_REC | MS_PRIVATE);
    const unique_fd workdir =
        open_host_directory(plan.workdir_tree >= 0 ? std::string() : config.workdir);
    const unique_fd ipc_dir = open_host_directory(config.ipc_dir);
    mount_or_fail("cellbox-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755");

    for (const auto& name : config.rules.root_links)
    {
        recreate_root_link(name, root);
    }
    for (const auto& path : config.rules.read_only)
    {
        bind_read_only(path, root + path);
    }
    // Sized from the memory limit they are charged to (late binding resizes them).
    const tmpfs_sizes sizes =
        tmpfs_sizes_for(config.rules.limits, config.rules.limits.memory_bytes);
    write_identity_files(plan, root);
    build_dev(config.rules, root, sizes.shm_bytes);

    make_dirs(root + "/tmp");
    const std::string tmp_options = "size=" + std::to_string(sizes.tmp_bytes) + ",mode=1777";
    mount_or_fail("cellbox-tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, tmp_options.c_str());
    if (plan.workdir_tree >= 0)
    {
        // Prepared by the launcher (an idmapped mount for a workdir owned by another uid).
        make_dirs(root + "/work");
        if (syscall(SYS_move_mount, plan.workdir_tree, "", AT_FDCWD, (root + "/work").c_str(),
                    MOVE_MOUNT_F_EMPTY_PATH) != 0)
        {
            fail("mount the workdir at /work");
        }
        close(plan.workdir_tree);
    }
    else if (workdir)
    {
        bind_directory_fd(workdir.get(), root + "/work", 0);
    }
    else
    {
        make_dirs(root + "/work");
        mount_or_fail("cellbox-work", root + "/work", "tmpfs", MS_NOSUID | MS_NODEV,
                      tmp_options.c_str());
    }
    if (ipc_dir)
    {
        bind_directory_fd(ipc_dir.get(), root + config.ipc_dir, MS_NOEXEC);
    }
    make_dirs(root + "/proc");
    mount_or_fail("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC);

    if (chdir(root.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0)
    {
        fail("pivot_root");
    }
    if (umount2(".", MNT_DETACH) != 0 || chdir("/") != 0)
    {
        fail("detach the old root");
    }
    mount_or_fail(nullptr, "/", nullptr, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                  "size=16m,mode=0755");
}

} // namespace cellbox::sandbox
