#include "backends/loop_device.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;

// A free device can be taken by another process between LOOP_CTL_GET_FREE and LOOP_CONFIGURE
// (EBUSY): ask again, a bounded number of times.
constexpr int attach_attempts = 32;

[[noreturn]] void fail(const std::string& step)
{
    throw std::system_error(errno, std::generic_category(), step);
}

struct stat stat_of(const std::string& path)
{
    struct stat info
    {
    };
    if (stat(path.c_str(), &info) != 0)
    {
        fail("stat " + path);
    }
    return info;
}

// N of "loopN" (a name under /sys/block), if it is one.
std::optional<unsigned> loop_number(const std::string& name)
{
    if (name.size() <= 4 || name.size() > 12 || name.rfind("loop", 0) != 0 ||
        name.find_first_not_of("0123456789", 4) != std::string::npos)
    {
        return std::nullopt;
    }
    return static_cast<unsigned>(std::stoul(name.substr(4)));
}

std::string device_path(unsigned number)
{
    return "/dev/loop" + std::to_string(number);
}

} // namespace

std::optional<loop_device> loop_device::open_if_bound_to(unsigned number, dev_t backing_device,
                                                         ino_t backing_inode)
{
    const std::string path = device_path(number);
    unique_fd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
    loop_info64 info{};
    // Checked once it is open: a device being unbound cannot be opened (ENXIO), and one that
    // is open stays bound.
    if (!fd || ioctl(fd.get(), LOOP_GET_STATUS64, &info) != 0 || info.lo_device != backing_device ||
        info.lo_inode != backing_inode)
    {
        return std::nullopt;
    }
    struct stat device
    {
    };
    if (fstat(fd.get(), &device) != 0)
    {
        return std::nullopt;
    }
    return loop_device(std::move(fd), path, device.st_rdev);
}

std::optional<loop_device> loop_device::find(const std::string& image)
{
    const struct stat backing = stat_of(image);
    std::error_code error;
    const std::string wanted = fs::canonical(image, error).string();
    for (const auto& entry : fs::directory_iterator("/sys/block", error))
    {
        const auto number = loop_number(entry.path().filename().string());
        if (!number)
        {
            continue;
        }
        // Only bound devices have a backing_file; its text is a quick filter, the device and
        // inode numbers decide.
        std::ifstream file(entry.path() / "loop" / "backing_file");
        std::string backing_file;
        if (!std::getline(file, backing_file) || backing_file != wanted)
        {
            continue;
        }
        if (auto found = open_if_bound_to(*number, backing.st_dev, backing.st_ino))
        {
            return found;
        }
    }
    return std::nullopt;
}

std::optional<loop_device> loop_device::of_mount(dev_t device, const std::string& image)
{
    const struct stat backing = stat_of(image);
    std::error_code error;
    const std::string name = fs::read_symlink("/sys/dev/block/" + std::to_string(major(device)) +
                                                  ":" + std::to_string(minor(device)),
                                              error)
                                 .filename()
                                 .string();
    const auto number = loop_number(name);
    if (!number)
    {
        return std::nullopt;
    }
    auto found = open_if_bound_to(*number, backing.st_dev, backing.st_ino);
    if (found && found->device() != device)
    {
        return std::nullopt;
    }
    return found;
}

loop_device loop_device::attach(const std::string& image)
{
    if (auto bound = find(image))
    {
        return std::move(*bound);
    }
    const unique_fd backing(open(image.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW));
    if (!backing)
    {
        fail("open " + image);
    }
    const unique_fd control(open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control)
    {
        fail("open /dev/loop-control");
    }
    for (int attempt = 0; attempt < attach_attempts; ++attempt)
    {
        const int number = ioctl(control.get(), LOOP_CTL_GET_FREE);
        if (number < 0)
        {
            fail("find a free loop device (LOOP_CTL_GET_FREE)");
        }
        const std::string path = device_path(static_cast<unsigned>(number));
        unique_fd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (!fd)
        {
            if (errno == ENXIO || errno == ENOENT)
            {
                continue; // being removed, or its node not there yet
            }
            fail("open " + path);
        }
        loop_config config{};
        config.fd = static_cast<std::uint32_t>(backing.get());
        config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
        std::strncpy(reinterpret_cast<char*>(config.info.lo_file_name), image.c_str(),
                     LO_NAME_SIZE - 1);
        if (ioctl(fd.get(), LOOP_CONFIGURE, &config) != 0)
        {
            if (errno == EBUSY)
            {
                continue; // another process bound it first
            }
            fail("bind " + path + " to " + image + " (LOOP_CONFIGURE)");
        }
        struct stat device
        {
        };
        if (fstat(fd.get(), &device) != 0)
        {
            fail("stat " + path);
        }
        return loop_device(std::move(fd), path, device.st_rdev);
    }
    errno = EBUSY;
    fail("find a free loop device for " + image);
}

void loop_device::refresh_capacity() const
{
    if (ioctl(m_fd.get(), LOOP_SET_CAPACITY, 0) != 0)
    {
        fail("LOOP_SET_CAPACITY on " + m_path);
    }
}

} // namespace cellbox::gateway
