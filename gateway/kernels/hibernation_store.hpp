#pragma once
// The images of hibernated kernels in the gateway's state directory (root-owned, 0700):
// STATE/images/ID.img and ID.json (the kernel's manifest of what it saved and did not). The
// gateway only moves their bytes between a kernel's private exchange directory (its ipc
// directory, which the sandboxed kernel owns) and here: it never parses an image, so a
// tampered one can only hurt the session that restores it, inside its own sandbox.
#include "cellbox/unique_fd.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

// Whether `id` can name a file in the store: a kernel id as the manager makes them (hex
// digits and dashes), nothing that could climb out of the directory.
bool valid_image_id(const std::string& id);

class hibernation_store
{
public:
    // Creates STATE/images (0700) if needed. Empty `state_dir`: a store that refuses.
    explicit hibernation_store(std::string state_dir);

    struct taken
    {
        std::uint64_t bytes = 0;
        nlohmann::json manifest; // the kernel's own account, parsed within bounds
    };
    // Moves EXCHANGE/hibernate.img (and hibernate.json) written by the kernel into the store
    // under `id`, atomically (a temporary file, fsync, rename), 0600. Only regular files with
    // one link, owned by whoever owns EXCHANGE, opened without following links, of at most
    // `max_bytes`. Throws std::runtime_error naming the problem; the store is unchanged then.
    taken take(const std::string& exchange_dir, const std::string& id,
               std::uint64_t max_bytes) const;
    // Copies the image (unless `with_image` is false: it is handed over, see open_for_mapping)
    // and manifest of `id` into EXCHANGE for a new process to restore.
    void give(const std::string& id, const std::string& exchange_dir, bool with_image = true) const;
    struct mappable
    {
        unique_fd image; // read-only; empty: the image must be copied (give) instead
        uid_t owner = 0; // of EXCHANGE: the sandbox's uid
        gid_t group = 0;
    };
    // The image of `id` opened read-only, for the new process behind EXCHANGE to map without a
    // copy (image_handover.hpp): only when that process's uid cannot write the file however it
    // reopens it, i.e. when the file's owner (the gateway) is another uid and not root.
    mappable open_for_mapping(const std::string& id, const std::string& exchange_dir) const;
    bool has(const std::string& id) const;
    std::uint64_t size_of(const std::string& id) const;
    // The image and manifest of `id` go (its kernel was shut down or restored).
    void remove(const std::string& id) const;
    // The kernel's account of the last hibernation of `id` (empty object if none).
    nlohmann::json manifest(const std::string& id) const;

    const std::string& directory() const { return m_state_dir; }

private:
    std::string image_path(const std::string& id) const;
    std::string manifest_path(const std::string& id) const;

    std::string m_state_dir;
    std::string m_images;
};

} // namespace cellbox::gateway
