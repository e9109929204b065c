#pragma once
// Hands a hibernated kernel's image to its new process without copying a byte: the store's
// file, opened read-only by the gateway, passed over a Unix socket in the process's exchange
// directory (SCM_RIGHTS). The kernel maps it copy-on-write (MAP_PRIVATE), so its arrays are
// views of the page cache that it may modify, while the file keeps its bytes: a read-only
// descriptor cannot write, truncate or map the file shared-writable, and reopening it through
// /proc needs write permission on a root-owned 0600 file, which the sandbox's uid lacks (the
// store only offers it then: hibernation_store::open_for_mapping).
#include "cellbox/unique_fd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <memory>
#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

class image_handover : public std::enable_shared_from_this<image_handover>
{
public:
    // Listens on EXCHANGE/image.sock (made in EXCHANGE's parent, the gateway's own directory,
    // then renamed in, so nothing the kernel put there is followed), connectable only by
    // `owner` (the sandbox's uid, the owner of EXCHANGE); the first connection of that uid
    // receives `image`, then the socket goes. Throws std::runtime_error if it cannot listen.
    static std::shared_ptr<image_handover> offer(boost::asio::io_context& io, unique_fd image,
                                                 const std::string& exchange_dir, uid_t owner,
                                                 gid_t group);
    // The socket closed and its name removed (handed over or not).
    ~image_handover();
    struct private_key
    {
        explicit private_key() = default;
    };
    // Through offer() only (a handover is always shared, and listening).
    image_handover(private_key, boost::asio::io_context& io, unique_fd image, std::string path,
                   uid_t owner);
    image_handover(const image_handover&) = delete;
    image_handover& operator=(const image_handover&) = delete;

    bool handed_over() const { return m_handed_over; }

private:
    void accept();

    boost::asio::local::stream_protocol::acceptor m_acceptor;
    unique_fd m_image;
    std::string m_path;
    uid_t m_owner;
    bool m_handed_over = false;
};

} // namespace cellbox::gateway
