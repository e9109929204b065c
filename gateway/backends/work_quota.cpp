#include "backends/work_quota.hpp"

#include "backends/helper_program.hpp"
#include "backends/loop_device.hpp"
#include "cellbox/byte_size.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <system_error>
#include <unistd.h>

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;

constexpr std::uint64_t mib = 1ULL << 20;
constexpr std::uint64_t inode_bytes = 256;
// ext4 block groups of 32 MiB (8192 blocks of 4 KiB) instead of 128: inodes come per group, so
// an image grown or shrunk later keeps about the same bytes per inode.
constexpr const char* blocks_per_group = "8192";
constexpr unsigned long mount_flags = MS_NOSUID | MS_NODEV;
// Blocks freed in the filesystem are punched out of the sparse image: the host gets them back.
constexpr const char* mount_options = "discard";

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

std::uint64_t round_up(std::uint64_t value, std::uint64_t unit)
{
    return (value + unit - 1) / unit * unit;
}

// Whether `path` is the root of a mount, and of which device.
bool is_mount_root(const std::string& path, dev_t& device)
{
    struct statx info
    {
    };
    if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &info) != 0)
    {
        return false;
    }
    device = makedev(info.stx_dev_major, info.stx_dev_minor);
    if ((info.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0)
    {
        return (info.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    }
    struct stat parent
    {
    };
    return stat((path + "/..").c_str(), &parent) == 0 && parent.st_dev != device;
}

std::uint64_t size_of(const std::string& path)
{
    struct stat info
    {
    };
    if (stat(path.c_str(), &info) != 0)
    {
        fail("stat " + path);
    }
    return static_cast<std::uint64_t>(info.st_size);
}

void set_size(const std::string& path, std::uint64_t bytes)
{
    if (truncate(path.c_str(), static_cast<off_t>(bytes)) != 0)
    {
        fail("resize " + path);
    }
}

// The last line a tool printed: what went wrong, for the log and the client.
std::string last_line(const std::string& output)
{
    std::string text = output;
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    {
        text.pop_back();
    }
    const auto newline = text.rfind('\n');
    return newline == std::string::npos ? text : text.substr(newline + 1);
}

void run_or_throw(const std::vector<std::string>& argv, const std::string& what)
{
    const program_result result = run_program(argv);
    if (!result.ok())
    {
        throw std::runtime_error(what + " failed (" + argv.front() + " exit " +
                                 std::to_string(result.exit_code) +
                                 "): " + last_line(result.output));
    }
}

void mount_image(const loop_device& loop, const std::string& mount_point)
{
    if (mount(loop.path().c_str(), mount_point.c_str(), "ext4", mount_flags, mount_options) != 0)
    {
        fail("mount " + loop.path() + " on " + mount_point);
    }
}

// mke2fs for an image: no blocks reserved for root (sessions never run as root), remounted
// read-only on an error instead of going on, the journal and inode tables left sparse (the
// file is new: its holes read as zeros).
std::vector<std::string> mkfs_command(const work_image_plan& plan, const std::string& image,
                                      const std::string& populate_from)
{
    std::vector<std::string> argv = {"mkfs.ext4",
                                     "-q",
                                     "-F",
                                     "-b",
                                     "4096",
                                     "-I",
                                     std::to_string(inode_bytes),
                                     "-m",
                                     "0",
                                     "-N",
                                     std::to_string(plan.inodes),
                                     "-g",
                                     blocks_per_group,
                                     "-J",
                                     "size=" + std::to_string(plan.journal_bytes / mib),
                                     "-e",
                                     "remount-ro",
                                     "-L",
                                     "cellbox-work",
                                     "-E",
                                     "lazy_itable_init=1,lazy_journal_init=1"};
    if (!populate_from.empty())
    {
        argv.insert(argv.end(), {"-d", populate_from});
    }
    argv.push_back(image);
    return argv;
}

bool has_entries(const std::string& dir)
{
    std::error_code error;
    return fs::directory_iterator(dir, error) != fs::directory_iterator();
}

// Removes a file when it goes out of scope, unless released.
class file_guard
{
public:
    explicit file_guard(std::string path) : m_path(std::move(path)) {}
    ~file_guard()
    {
        if (!m_path.empty())
        {
            unlink(m_path.c_str());
        }
    }
    file_guard(const file_guard&) = delete;
    file_guard& operator=(const file_guard&) = delete;
    void release() { m_path.clear(); }

private:
    std::string m_path;
};

} // namespace

work_image_plan plan_work_image(std::uint64_t bytes, const work_quota_options& options)
{
    work_image_plan plan;
    plan.quota_bytes =
        std::clamp(bytes, min_work_quota_bytes, std::max(options.bytes, min_work_quota_bytes));
    plan.quota_bytes = round_up(plan.quota_bytes, mib);
    // Inodes in proportion to the bytes: a token's smaller quota lowers both.
    const long double share = static_cast<long double>(plan.quota_bytes) /
                              static_cast<long double>(std::max(options.bytes, plan.quota_bytes));
    plan.inodes = std::max<std::uint64_t>(
        64, static_cast<std::uint64_t>(static_cast<long double>(options.inodes) * share + 0.5L));
    plan.journal_bytes = round_up(std::clamp(plan.quota_bytes / 64, 4 * mib, 128 * mib), mib);
    // What ext4 keeps for itself besides the journal and the inode tables (bitmaps, group
    // descriptors and those reserved for growing, directories): measured at under 1/64 of the
    // size plus a few MiB, so the usable size is at least the quota.
    const std::uint64_t metadata = plan.inodes * inode_bytes + plan.quota_bytes / 64 + 4 * mib;
    plan.image_bytes = round_up(plan.quota_bytes + plan.journal_bytes + metadata, mib);
    return plan;
}

struct work_volumes::volume
{
    volume(std::string mount_point_, std::string image_, loop_device loop_)
        : mount_point(std::move(mount_point_)), image(std::move(image_)), loop(std::move(loop_))
    {
    }
    ~volume()
    {
        if (umount2(mount_point.c_str(), MNT_DETACH) != 0)
        {
            log::warn("cannot unmount a user's /work",
                      {{"path", mount_point}, {"error", std::strerror(errno)}});
        }
    }
    volume(const volume&) = delete;
    volume& operator=(const volume&) = delete;

    std::string mount_point;
    std::string image;
    loop_device loop; // held while mounted: the device stays ours to resize
};

work_volumes::work_volumes(std::string work_dir, work_quota_options options)
    : m_work_dir(std::move(work_dir)), m_options(options)
{
    if (m_options.bytes == 0)
    {
        log::info("no /work quotas (work_quota is 0): a user's files are bounded by the host's "
                  "disk only");
        return;
    }
    fs::create_directories(m_work_dir + "/images");
    chmod((m_work_dir + "/images").c_str(), 0700);
    const std::string why = unavailable_reason();
    if (why.empty())
    {
        m_enabled = true;
        log::info("/work quotas on", {{"bytes", m_options.bytes}, {"inodes", m_options.inodes}});
        adopt_left_mounts();
        return;
    }
    if (!m_options.allow_without)
    {
        throw std::runtime_error(
            "per-user /work quotas cannot be enforced here: " + why +
            ". They need a root gateway with loop devices (/dev/loop-control), ext4 and "
            "e2fsprogs; pass --work-quota 0 to serve without quotas, or --allow-degraded to "
            "serve without whatever protection this host lacks");
    }
    log::warn("no /work quotas on this host (allow_degraded): a user can fill the host's disk",
              {{"reason", why}});
}

work_volumes::~work_volumes()
{
    if (!m_volumes.empty())
    {
        log::info("unmounting users' /work", {{"users", m_volumes.size()}});
    }
    m_volumes.clear();
}

work_volumes::volume* work_volumes::adopt(const std::string& user, const std::string& mount_point)
{
    dev_t device = 0;
    if (!is_mount_root(mount_point, device))
    {
        return nullptr;
    }
    // Left mounted by a gateway that did not stop cleanly: ours if it is the user's image.
    const std::string image = image_of(user);
    auto loop = fs::exists(image) ? loop_device::of_mount(device, image) : std::nullopt;
    if (!loop)
    {
        throw std::runtime_error(mount_point + " is a mount point, but not of " + image +
                                 "; unmount it");
    }
    auto adopted = std::make_unique<volume>(mount_point, image, std::move(*loop));
    volume* held = adopted.get();
    m_volumes.emplace(user, std::move(adopted));
    log::info("adopted a mounted /work", {{"user", user}, {"image", image}});
    return held;
}

void work_volumes::adopt_left_mounts()
{
    // A gateway that was killed left its users' filesystems mounted. Taking them now (not at
    // each user's next kernel) means this gateway unmounts them when it stops, even for users
    // who never come back: nothing stays mounted on the host after both gateways are gone.
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(m_work_dir + "/users", error))
    {
        const std::string user = entry.path().filename().string();
        try
        {
            adopt(user, entry.path().string());
        }
        catch (const std::exception& e)
        {
            log::warn("a mount left in users' /work is not a user's image; left alone",
                      {{"path", entry.path().string()}, {"error", e.what()}});
        }
    }
}

std::string work_volumes::image_of(const std::string& user) const
{
    return m_work_dir + "/images/" + user + ".ext4";
}

std::string work_volumes::unavailable_reason()
{
    if (geteuid() != 0)
    {
        return "the gateway does not run as root";
    }
    if (access("/dev/loop-control", R_OK | W_OK) != 0)
    {
        return std::string("/dev/loop-control: ") + std::strerror(errno);
    }
    for (const char* tool : {"mkfs.ext4", "e2fsck", "resize2fs"})
    {
        if (find_system_program(tool).empty())
        {
            return std::string(tool) + " not found (Debian package e2fsprogs)";
        }
    }
    // The real thing, small: an image made, bound to a loop device, mounted and unmounted.
    const std::string probe = m_work_dir + "/images/.probe-" + std::to_string(getpid());
    const std::string image = probe + ".ext4";
    file_guard remove_image(image);
    try
    {
        work_quota_options small = m_options;
        small.bytes = min_work_quota_bytes;
        const work_image_plan plan = plan_work_image(min_work_quota_bytes, small);
        {
            const int fd = open(image.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
            if (fd < 0)
            {
                fail("create " + image);
            }
            close(fd);
        }
        set_size(image, plan.image_bytes);
        run_or_throw(mkfs_command(plan, image, ""), "making a test filesystem");
        const loop_device loop = loop_device::attach(image);
        fs::create_directories(probe);
        mount_image(loop, probe);
        struct statvfs info
        {
        };
        const int stat_result = statvfs(probe.c_str(), &info);
        umount2(probe.c_str(), MNT_DETACH);
        rmdir(probe.c_str());
        if (stat_result != 0 || info.f_blocks * info.f_frsize < plan.quota_bytes)
        {
            return "a test filesystem is smaller than planned";
        }
    }
    catch (const std::exception& e)
    {
        rmdir(probe.c_str());
        return e.what();
    }
    return "";
}

void work_volumes::create_image(const std::string& user, const std::string& image,
                                const work_image_plan& plan, const std::string& mount_point)
{
    // Made aside and renamed: a gateway that dies meanwhile leaves no half-made image.
    const std::string making = image + ".new";
    unlink(making.c_str());
    file_guard remove_making(making);
    const int fd = open(making.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
    {
        fail("create " + making);
    }
    close(fd);
    set_size(making, plan.image_bytes);
    // Files from before quotas (or a lost image) go into the new filesystem.
    const bool migrate = has_entries(mount_point);
    try
    {
        run_or_throw(mkfs_command(plan, making, migrate ? mount_point : ""),
                     "making user " + user + "'s /work filesystem");
    }
    catch (const std::runtime_error& e)
    {
        if (!migrate)
        {
            throw;
        }
        throw std::runtime_error(std::string(e.what()) + " (user " + user + "'s files in " +
                                 mount_point + " may not fit a quota of " +
                                 format_byte_size(plan.quota_bytes) +
                                 ": raise work_quota, or move some out)");
    }
    if (rename(making.c_str(), image.c_str()) != 0)
    {
        fail("rename " + making);
    }
    remove_making.release();
    log::info("made a /work filesystem", {{"user", user},
                                          {"image", image},
                                          {"quota_bytes", plan.quota_bytes},
                                          {"inodes", plan.inodes}});
    if (migrate)
    {
        // Kept, not deleted: the operator removes them once the image is known good.
        const std::string aside_dir = m_work_dir + "/pre-quota";
        fs::create_directories(aside_dir);
        chmod(aside_dir.c_str(), 0700);
        std::string aside = aside_dir + "/" + user;
        if (fs::exists(aside))
        {
            aside += "." + std::to_string(std::chrono::system_clock::to_time_t(
                               std::chrono::system_clock::now()));
        }
        fs::rename(mount_point, aside);
        fs::create_directory(mount_point);
        log::warn("copied a user's files from before quotas into their /work filesystem; the "
                  "originals were moved aside",
                  {{"user", user}, {"image", image}, {"originals", aside}});
    }
}

void work_volumes::resize_offline(const std::string& image, const work_image_plan& plan) const
{
    const std::uint64_t current = size_of(image);
    if (current == plan.image_bytes)
    {
        return;
    }
    const program_result check = run_program({"e2fsck", "-f", "-p", image});
    if (check.exit_code != 0 && check.exit_code != 1)
    {
        log::warn("a /work filesystem has errors e2fsck -p cannot fix; not resized",
                  {{"image", image}, {"e2fsck", last_line(check.output)}});
        return;
    }
    const program_result resized =
        run_program({"resize2fs", image, std::to_string(plan.image_bytes / 1024) + "K"});
    if (!resized.ok())
    {
        // Shrinking fails when the files do not fit: the user keeps the larger filesystem.
        log::warn("a /work filesystem keeps its size (its files may not fit the new quota)",
                  {{"image", image},
                   {"image_bytes", current},
                   {"wanted_bytes", plan.image_bytes},
                   {"resize2fs", last_line(resized.output)}});
        return;
    }
    set_size(image, plan.image_bytes);
    log::info("resized a /work filesystem",
              {{"image", image}, {"from_bytes", current}, {"to_bytes", plan.image_bytes}});
}

void work_volumes::grow_mounted(volume& v, const work_image_plan& plan) const
{
    const std::uint64_t current = size_of(v.image);
    if (current >= plan.image_bytes)
    {
        if (current > plan.image_bytes)
        {
            log::debug("a lowered /work quota applies when the filesystem is next mounted",
                       {{"image", v.image}});
        }
        return;
    }
    set_size(v.image, plan.image_bytes);
    v.loop.refresh_capacity();
    const program_result grown = run_program({"resize2fs", v.loop.path()});
    if (!grown.ok())
    {
        // Online resizing needs CAP_SYS_RESOURCE. The image goes back to the filesystem's
        // size, so that its next mount sees the difference and resizes it offline.
        set_size(v.image, current);
        v.loop.refresh_capacity();
        log::warn("cannot grow a mounted /work filesystem; it grows when next mounted",
                  {{"image", v.image}, {"resize2fs", last_line(grown.output)}});
        return;
    }
    log::info("grew a /work filesystem",
              {{"image", v.image}, {"from_bytes", current}, {"to_bytes", plan.image_bytes}});
}

void work_volumes::grow_online(volume& v, const work_image_plan& plan) const
{
    // Best effort: the filesystem is mounted and usable whatever happens here (and a kernel
    // launch that reaches this again after a failed hand-over must not fail for it).
    try
    {
        grow_mounted(v, plan);
    }
    catch (const std::exception& e)
    {
        log::warn("cannot grow a mounted /work filesystem",
                  {{"image", v.image}, {"error", e.what()}});
    }
}

void work_volumes::mount(const std::string& user, const std::string& mount_point,
                         std::optional<std::uint64_t> limit)
{
    if (!m_enabled)
    {
        return;
    }
    const work_image_plan plan =
        plan_work_image(std::min(limit.value_or(m_options.bytes), m_options.bytes), m_options);
    if (auto mounted = m_volumes.find(user); mounted != m_volumes.end())
    {
        grow_online(*mounted->second, plan);
        return;
    }
    const std::string image = image_of(user);
    if (volume* adopted = adopt(user, mount_point))
    {
        grow_online(*adopted, plan);
        return;
    }
    std::optional<loop_device> loop;
    bool created = false;
    if (!fs::exists(image))
    {
        create_image(user, image, plan, mount_point);
        created = true;
    }
    else if (!(loop = loop_device::find(image)))
    {
        // Nothing else has the filesystem mounted: it may be resized.
        resize_offline(image, plan);
    }
    if (!loop)
    {
        loop.emplace(loop_device::attach(image));
    }
    mount_image(*loop, mount_point);
    auto mounted = std::make_unique<volume>(mount_point, image, std::move(*loop));
    if (created)
    {
        rmdir((mount_point + "/lost+found").c_str()); // a stray entry in every user's /work
    }
    grow_online(*mounted, plan); // a device still bound for others was not resized offline
    m_volumes.emplace(user, std::move(mounted));
    log::info("mounted a user's /work", {{"user", user}, {"image", image}});
}

std::map<std::string, work_usage> work_volumes::usage() const
{
    std::map<std::string, work_usage> found;
    for (const auto& [user, v] : m_volumes)
    {
        struct statvfs info
        {
        };
        if (statvfs(v->mount_point.c_str(), &info) != 0)
        {
            continue;
        }
        work_usage u;
        u.bytes_limit = static_cast<std::uint64_t>(info.f_blocks) * info.f_frsize;
        u.bytes_used = static_cast<std::uint64_t>(info.f_blocks - info.f_bfree) * info.f_frsize;
        u.inodes_limit = info.f_files;
        u.inodes_used = info.f_files - info.f_ffree;
        found.emplace(user, u);
    }
    return found;
}

} // namespace cellbox::gateway
