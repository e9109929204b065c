#pragma once
// A loop device bound to a filesystem image, for as long as this object holds it open. Bound
// with LO_FLAGS_AUTOCLEAR: the kernel unbinds it by itself once nothing has it open or mounted
// (not this object, not a mount in any namespace), so a gateway that dies leaves no device
// behind once the last session that uses the filesystem is gone.
#include "cellbox/unique_fd.hpp"

#include <optional>
#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

class loop_device
{
public:
    // The device already bound to `image` (mounted still by sessions of a gateway that ended,
    // or by another process): mounting it again shares that filesystem instead of making a
    // second one on the same image, which would corrupt it. Else a free device, bound now.
    // Throws std::system_error naming the step that failed.
    static loop_device attach(const std::string& image);
    // The device bound to `image`, if any (see attach).
    static std::optional<loop_device> find(const std::string& image);
    // The device of a mounted filesystem (`device`: st_dev of its root), if it is a loop
    // device bound to `image`.
    static std::optional<loop_device> of_mount(dev_t device, const std::string& image);

    const std::string& path() const { return m_path; } // /dev/loopN
    dev_t device() const { return m_device; }
    // The image file grew: the device takes its new size (LOOP_SET_CAPACITY).
    void refresh_capacity() const;

private:
    loop_device(unique_fd fd, std::string path, dev_t device)
        : m_fd(std::move(fd)), m_path(std::move(path)), m_device(device)
    {
    }
    // /dev/loopN opened, if it is bound to the file (st_dev, st_ino) `backing`.
    static std::optional<loop_device> open_if_bound_to(unsigned number, dev_t backing_device,
                                                       ino_t backing_inode);

    unique_fd m_fd;
    std::string m_path;
    dev_t m_device = 0;
};

} // namespace cellbox::gateway
