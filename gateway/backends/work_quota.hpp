#pragma once
// Per-user quotas on /work, enforced by the kernel's filesystem code: each user's WORK/users/NAME
// is the root of an ext4 filesystem of their own, in a sparse image WORK/images/NAME.ext4
// loop-mounted by the gateway (host side). The filesystem's size is the byte quota and its
// inode count the inode quota, so a write past either fails with ENOSPC in the cell, and the
// host's disk holds at most the image. Everything else keeps using the path: the sandbox's
// idmapped /work, late binding and the zygote's `go` open WORK/users/NAME as before.
//
// Images outlive the gateway; their mounts do not: each is mounted at the user's first kernel
// and unmounted (lazily) when the gateway stops. A raised quota grows a mounted image at once
// (online resize2fs, where the gateway has CAP_SYS_RESOURCE; else at the next mount); a
// lowered one shrinks the image when it is next mounted, if the files fit (else it keeps its
// size, with a warning in the log).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace cellbox::gateway
{

struct work_quota_options
{
    std::uint64_t bytes = 1ULL << 30; // per user (0: no quota)
    std::uint64_t inodes = 100000;    // files and directories per user, at `bytes`
    // Where quotas cannot be had (not root, no loop devices, no e2fsprogs): serve without them
    // (--allow-degraded) instead of refusing to start.
    bool allow_without = false;
};

// The smallest quota an image can have; a token asking for less gets this.
constexpr std::uint64_t min_work_quota_bytes = 16ULL << 20;

// One user's filesystem: its quota and the image that holds it.
struct work_image_plan
{
    std::uint64_t quota_bytes = 0;   // usable bytes (what df shows, within a few percent)
    std::uint64_t inodes = 0;        // in proportion to the quota, `options.inodes` at the full one
    std::uint64_t journal_bytes = 0; // ext4's journal
    std::uint64_t image_bytes = 0;   // the image file: the quota plus ext4's own metadata
};

// The image for a quota of `bytes`, clamped to [min_work_quota_bytes, options.bytes].
work_image_plan plan_work_image(std::uint64_t bytes, const work_quota_options& options);

struct work_usage
{
    std::uint64_t bytes_used = 0;
    std::uint64_t bytes_limit = 0;
    std::uint64_t inodes_used = 0;
    std::uint64_t inodes_limit = 0;
};

class work_volumes
{
public:
    // Checks that quotas can be had here by making and mounting a small image. Where they
    // cannot, throws std::runtime_error saying why and how to opt out, unless
    // options.allow_without (then logs a warning and serves without quotas).
    work_volumes(std::string work_dir, work_quota_options options);
    // Unmounts every user's /work (MNT_DETACH: a session still using it keeps it until it ends;
    // the loop device goes with the last user).
    ~work_volumes();
    work_volumes(const work_volumes&) = delete;
    work_volumes& operator=(const work_volumes&) = delete;

    bool enabled() const { return m_enabled; }
    // Makes `mount_point` (the directory WORK/users/NAME) the root of `user`'s filesystem, with
    // a quota of `limit` bytes (the server's when unset or larger). The first time, the image is
    // made, holding whatever the directory had (which is then moved to WORK/pre-quota/). Throws
    // std::runtime_error with a message for the log and the client.
    void mount(const std::string& user, const std::string& mount_point,
               std::optional<std::uint64_t> limit);
    // Usage of every mounted /work, by user.
    std::map<std::string, work_usage> usage() const;

private:
    struct volume;
    std::string image_of(const std::string& user) const;
    void create_image(const std::string& user, const std::string& image,
                      const work_image_plan& plan, const std::string& mount_point);
    void resize_offline(const std::string& image, const work_image_plan& plan) const;
    // Grows a mounted filesystem to the plan if it is smaller (never throws).
    void grow_online(volume& v, const work_image_plan& plan) const;
    void grow_mounted(volume& v, const work_image_plan& plan) const;
    // Why quotas cannot be had here ("" when they can).
    std::string unavailable_reason();
    // Takes `user`'s filesystem if it is already mounted on `mount_point` (by a gateway that
    // was killed); nullptr if nothing is mounted there. Throws if something else is.
    volume* adopt(const std::string& user, const std::string& mount_point);
    void adopt_left_mounts();

    std::string m_work_dir;
    work_quota_options m_options;
    bool m_enabled = false;
    std::map<std::string, std::unique_ptr<volume>> m_volumes; // mounted, by user
};

} // namespace cellbox::gateway
