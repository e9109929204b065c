#include "kernels/hibernation_store.hpp"

#include "cellbox/bounded_json.hpp"
#include "cellbox/unique_fd.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

// The names the kernel's cellbox_hibernate module writes in its exchange directory.
constexpr const char* image_name = "hibernate.img";
constexpr const char* manifest_name = "hibernate.json";
// A manifest names each unsaved variable and why: generous, but bounded.
constexpr std::uint64_t max_manifest_bytes = 4u << 20;

[[noreturn]] void fail(const std::string& what)
{
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

unique_fd open_directory(const std::string& path)
{
    unique_fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd)
    {
        fail("open " + path);
    }
    return fd;
}

// A file the kernel wrote in its own directory, opened so that it cannot be a link to
// something else (a symlink, a second hard link), a FIFO or a device.
unique_fd open_kernel_file(int directory, const char* name, std::uint64_t max_bytes,
                           std::uint64_t& size)
{
    struct stat dir_stat
    {
    };
    if (fstat(directory, &dir_stat) != 0)
    {
        fail("stat the exchange directory");
    }
    unique_fd fd(openat(directory, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd)
    {
        fail(std::string("open the kernel's ") + name);
    }
    struct stat file_stat
    {
    };
    if (fstat(fd.get(), &file_stat) != 0)
    {
        fail(std::string("stat the kernel's ") + name);
    }
    if (!S_ISREG(file_stat.st_mode) || file_stat.st_nlink != 1 ||
        file_stat.st_uid != dir_stat.st_uid)
    {
        throw std::runtime_error(std::string("the kernel's ") + name +
                                 " is not a regular file of its own");
    }
    size = static_cast<std::uint64_t>(file_stat.st_size);
    if (size > max_bytes)
    {
        throw std::runtime_error("the image is " + std::to_string(size) + " bytes, more than the " +
                                 std::to_string(max_bytes) +
                                 " bytes the user's hibernation limit leaves");
    }
    return fd;
}

// Copies `size` bytes of `from` into a new file `path` with `mode`, atomically; `durable`:
// fsync'd before the rename (an image in the store must survive a crash; the copy handed to a
// new process is gone with it anyway).
void copy_atomically(int from, std::uint64_t size, const std::string& path, mode_t mode,
                     bool durable)
{
    const std::string temporary = path + ".tmp";
    unlink(temporary.c_str());
    unique_fd to(
        open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!to)
    {
        fail("create " + temporary);
    }
    std::uint64_t copied = 0;
    off_t offset = 0;
    while (copied < size)
    {
        const ssize_t n = sendfile(to.get(), from, &offset, size - copied);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            unlink(temporary.c_str());
            if (n == 0)
            {
                throw std::runtime_error("the image shrank while it was copied");
            }
            fail("copy to " + temporary);
        }
        copied += static_cast<std::uint64_t>(n);
    }
    if (fchmod(to.get(), mode) != 0 || (durable && fsync(to.get()) != 0) ||
        rename(temporary.c_str(), path.c_str()) != 0)
    {
        unlink(temporary.c_str());
        fail("store " + path);
    }
}

unique_fd open_store_file(const std::string& path, std::uint64_t& size)
{
    unique_fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    struct stat st
    {
    };
    if (!fd || fstat(fd.get(), &st) != 0)
    {
        fail("open " + path);
    }
    size = static_cast<std::uint64_t>(st.st_size);
    return fd;
}

} // namespace

bool valid_image_id(const std::string& id)
{
    if (id.empty() || id.size() > 64)
    {
        return false;
    }
    for (const char c : id)
    {
        if (!std::isxdigit(static_cast<unsigned char>(c)) && c != '-')
        {
            return false;
        }
    }
    return true;
}

hibernation_store::hibernation_store(std::string state_dir) : m_state_dir(std::move(state_dir))
{
    if (m_state_dir.empty())
    {
        return;
    }
    m_images = m_state_dir + "/images";
    std::filesystem::create_directories(m_images);
    // Users' code and data: only the gateway reads them.
    chmod(m_state_dir.c_str(), 0700);
    chmod(m_images.c_str(), 0700);
}

std::string hibernation_store::image_path(const std::string& id) const
{
    if (m_images.empty() || !valid_image_id(id))
    {
        throw std::runtime_error("no state directory for images, or a bad kernel id");
    }
    return m_images + "/" + id + ".img";
}

std::string hibernation_store::manifest_path(const std::string& id) const
{
    return image_path(id).substr(0, image_path(id).size() - 4) + ".json";
}

hibernation_store::taken hibernation_store::take(const std::string& exchange_dir,
                                                 const std::string& id,
                                                 std::uint64_t max_bytes) const
{
    const unique_fd directory = open_directory(exchange_dir);
    taken result;
    std::uint64_t manifest_size = 0;
    const unique_fd manifest =
        open_kernel_file(directory.get(), manifest_name, max_manifest_bytes, manifest_size);
    std::string text(manifest_size, '\0');
    if (manifest_size > 0 &&
        pread(manifest.get(), text.data(), manifest_size, 0) != static_cast<ssize_t>(manifest_size))
    {
        fail("read the kernel's manifest");
    }
    result.manifest = parse_json_bounded(text);
    if (!result.manifest.is_object())
    {
        throw std::runtime_error("the kernel's manifest is not a JSON object");
    }
    const unique_fd image = open_kernel_file(directory.get(), image_name, max_bytes, result.bytes);
    copy_atomically(image.get(), result.bytes, image_path(id), 0600, true);
    std::uint64_t written = 0;
    const unique_fd again =
        open_kernel_file(directory.get(), manifest_name, max_manifest_bytes, written);
    copy_atomically(again.get(), written, manifest_path(id), 0600, true);
    return result;
}

void hibernation_store::give(const std::string& id, const std::string& exchange_dir,
                             bool with_image) const
{
    std::uint64_t size = 0;
    if (with_image)
    {
        const unique_fd image = open_store_file(image_path(id), size);
        // Readable by the sandbox's uid: EXCHANGE is private to it (its parent is the
        // gateway's, 0700), so no one else can reach the copy.
        copy_atomically(image.get(), size, exchange_dir + "/" + image_name, 0644, false);
    }
    if (access(manifest_path(id).c_str(), F_OK) == 0)
    {
        const unique_fd manifest = open_store_file(manifest_path(id), size);
        copy_atomically(manifest.get(), size, exchange_dir + "/" + manifest_name, 0644, false);
    }
}

hibernation_store::mappable
hibernation_store::open_for_mapping(const std::string& id, const std::string& exchange_dir) const
{
    mappable result;
    const unique_fd directory = open_directory(exchange_dir);
    std::uint64_t size = 0;
    unique_fd image = open_store_file(image_path(id), size);
    struct stat dir_stat
    {
    };
    struct stat image_stat
    {
    };
    if (fstat(directory.get(), &dir_stat) != 0 || fstat(image.get(), &image_stat) != 0)
    {
        fail("stat the image or the exchange directory");
    }
    // The owner of a file may reopen /proc/self/fd/N for writing, chmod it...; root anything.
    if (dir_stat.st_uid != 0 && dir_stat.st_uid != image_stat.st_uid &&
        (image_stat.st_mode & 0077) == 0)
    {
        result.image = std::move(image);
        result.owner = dir_stat.st_uid;
        result.group = dir_stat.st_gid;
    }
    return result;
}

bool hibernation_store::has(const std::string& id) const
{
    return !m_images.empty() && valid_image_id(id) && access(image_path(id).c_str(), F_OK) == 0;
}

std::uint64_t hibernation_store::size_of(const std::string& id) const
{
    struct stat st
    {
    };
    return has(id) && stat(image_path(id).c_str(), &st) == 0
               ? static_cast<std::uint64_t>(st.st_size)
               : 0;
}

void hibernation_store::remove(const std::string& id) const
{
    if (m_images.empty() || !valid_image_id(id))
    {
        return;
    }
    unlink(image_path(id).c_str());
    unlink(manifest_path(id).c_str());
}

nlohmann::json hibernation_store::manifest(const std::string& id) const
{
    if (!has(id))
    {
        return nlohmann::json::object();
    }
    std::uint64_t size = 0;
    const unique_fd fd = open_store_file(manifest_path(id), size);
    if (size > max_manifest_bytes)
    {
        return nlohmann::json::object();
    }
    std::string text(size, '\0');
    if (pread(fd.get(), text.data(), size, 0) != static_cast<ssize_t>(size))
    {
        return nlohmann::json::object();
    }
    nlohmann::json parsed = parse_json_bounded(text);
    return parsed.is_object() ? parsed : nlohmann::json::object();
}

} // namespace cellbox::gateway
