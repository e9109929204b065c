#include "backends/uid_block.hpp"

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;

std::string lock_path(const std::string& dir, std::uint64_t slot)
{
    return dir + "/uid-slot-" + std::to_string(slot) + ".lock";
}

// Who took a slot last, as its lock file says (the file outlives the gateway; the lock
// does not).
struct holder
{
    std::string pid;
    std::string work_dir;
};

holder read_holder(const std::string& path)
{
    holder h;
    std::ifstream file(path);
    std::getline(file, h.pid);
    std::getline(file, h.work_dir);
    return h;
}

// The slot's lock, or an empty fd when another gateway holds it. Close-on-exec: a child that
// kept it would hold the slot after the gateway is gone.
unique_fd try_lock(const std::string& path)
{
    unique_fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (!fd)
    {
        throw std::system_error(errno, std::generic_category(), "open " + path);
    }
    if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
    {
        if (errno == EWOULDBLOCK)
        {
            return {};
        }
        throw std::system_error(errno, std::generic_category(), "flock " + path);
    }
    return fd;
}

void record_holder(const unique_fd& fd, const std::string& work_dir)
{
    const std::string text = std::to_string(getpid()) + "\n" + work_dir + "\n";
    if (ftruncate(fd.get(), 0) != 0 ||
        pwrite(fd.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    {
        throw std::system_error(errno, std::generic_category(), "record the uid slot's holder");
    }
}

// The last holder's work dir still has users, whose uids are in this slot: a fresh gateway
// taking it would hand them out again, and that gateway could then not restart beside it.
bool reserved_by_another(const holder& h, const std::string& work_dir)
{
    std::error_code error;
    return !h.work_dir.empty() && h.work_dir != work_dir &&
           fs::exists(h.work_dir + "/users.json", error);
}

std::string range_text(std::uint64_t first)
{
    return std::to_string(first) + "-" + std::to_string(first + uid_block::span - 1);
}

} // namespace

uid_block::uid_block(std::uint32_t first, std::vector<unique_fd> locks)
    : m_first(first), m_locks(std::move(locks))
{
}

uid_block uid_block::unclaimed(std::uint32_t first_user_uid)
{
    return uid_block(first_user_uid, {});
}

uid_block uid_block::claim(std::uint32_t first_user_uid,
                           const std::vector<std::uint32_t>& user_uids_in_use,
                           const std::string& work_dir, const std::string& lock_dir)
{
    fs::create_directories(lock_dir);
    chmod(lock_dir.c_str(), 0755);
    // Uids stay below 2^31: some tools still take them for signed numbers.
    const std::uint64_t first = first_user_uid;
    const std::uint64_t slots = first + span - 1 > INT_MAX ? 0 : (INT_MAX - first + 1) / span;
    std::set<std::uint64_t> home;
    for (const std::uint32_t uid : user_uids_in_use)
    {
        if (uid >= first && (uid - first) / span < slots)
        {
            home.insert((uid - first) / span);
        }
    }
    if (!home.empty())
    {
        std::vector<unique_fd> locks;
        for (const std::uint64_t slot : home)
        {
            const std::string path = lock_path(lock_dir, slot);
            unique_fd lock = try_lock(path);
            if (!lock)
            {
                const holder h = read_holder(path);
                throw unavailable(
                    "sandbox uids " + range_text(first + slot * span) + " are in use by the " +
                    "gateway with pid " + (h.pid.empty() ? "?" : h.pid) + " (work dir " +
                    h.work_dir + "; lock " + path + "), and users of " + work_dir +
                    " own uids there (users.json): two gateways must not run sandboxes as the "
                    "same uids. Stop that gateway first. (Gateways with a new work dir take a "
                    "free uid range by themselves: see README, \"Several gateways on one "
                    "host\".)");
            }
            record_holder(lock, work_dir);
            locks.push_back(std::move(lock));
        }
        // New users go where the last one went.
        return uid_block(static_cast<std::uint32_t>(first + *home.rbegin() * span),
                         std::move(locks));
    }
    for (const bool avoid_reserved : {true, false})
    {
        for (std::uint64_t slot = 0; slot < slots; ++slot)
        {
            const std::string path = lock_path(lock_dir, slot);
            if (avoid_reserved && reserved_by_another(read_holder(path), work_dir))
            {
                continue;
            }
            if (unique_fd lock = try_lock(path))
            {
                record_holder(lock, work_dir);
                std::vector<unique_fd> locks;
                locks.push_back(std::move(lock));
                return uid_block(static_cast<std::uint32_t>(first + slot * span), std::move(locks));
            }
        }
    }
    throw unavailable("no free range of " + std::to_string(span) + " sandbox uids from " +
                      std::to_string(first) + " below 2^31 (every slot in " + lock_dir +
                      " is held by a running gateway): stop one, or lower first_user_uid");
}

std::uint32_t uid_block::next_session_uid()
{
    const std::uint32_t uid = m_first + user_uids + m_next_session;
    m_next_session = (m_next_session + 1) % session_uids;
    return uid;
}

} // namespace cellbox::gateway
