#include "kernels/image_handover.hpp"

#include "cellbox/descriptor_passing.hpp"
#include "telemetry/log.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

constexpr const char* socket_name = "image.sock";

} // namespace

std::shared_ptr<image_handover> image_handover::offer(boost::asio::io_context& io, unique_fd image,
                                                      const std::string& exchange_dir, uid_t owner,
                                                      gid_t group)
{
    const std::string private_path =
        std::filesystem::path(exchange_dir).parent_path().string() + "/" + socket_name;
    const std::string path = exchange_dir + "/" + socket_name;
    unlink(private_path.c_str());
    auto handover =
        std::make_shared<image_handover>(private_key{}, io, std::move(image), path, owner);
    boost::system::error_code error;
    handover->m_acceptor.open(boost::asio::local::stream_protocol(), error);
    if (!error)
    {
        handover->m_acceptor.bind(private_path, error);
    }
    // Connecting needs write permission on the socket: the sandbox's uid only.
    if (!error &&
        (lchown(private_path.c_str(), owner, group) != 0 ||
         chmod(private_path.c_str(), 0600) != 0 || rename(private_path.c_str(), path.c_str()) != 0))
    {
        error.assign(errno, boost::system::generic_category());
    }
    if (!error)
    {
        handover->m_acceptor.listen(1, error);
    }
    if (error)
    {
        unlink(private_path.c_str());
        throw std::runtime_error("cannot offer the image on " + path + ": " + error.message());
    }
    handover->accept();
    return handover;
}

image_handover::image_handover(private_key, boost::asio::io_context& io, unique_fd image,
                               std::string path, uid_t owner)
    : m_acceptor(io), m_image(std::move(image)), m_path(std::move(path)), m_owner(owner)
{
}

image_handover::~image_handover()
{
    boost::system::error_code ignored;
    m_acceptor.close(ignored);
    // Whatever is under the name now (the kernel may have replaced it): a name, not followed.
    unlink(m_path.c_str());
}

void image_handover::accept()
{
    // Weak: the handover lives as long as the restore request it serves, not by its socket.
    m_acceptor.async_accept(
        [weak = weak_from_this()](const boost::system::error_code& error,
                                  boost::asio::local::stream_protocol::socket peer)
        {
            auto self = weak.lock();
            if (!self || error || self->m_handed_over)
            {
                return;
            }
            ucred credentials{};
            socklen_t length = sizeof(credentials);
            if (getsockopt(peer.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) !=
                    0 ||
                credentials.uid != self->m_owner)
            {
                log::warn("image handover refused a connection",
                          {{"socket", self->m_path}, {"uid", credentials.uid}});
                self->accept();
                return;
            }
            self->m_handed_over =
                send_with_descriptor(peer.native_handle(), "I", self->m_image.get());
            if (!self->m_handed_over)
            {
                log::warn("image handover failed",
                          {{"socket", self->m_path}, {"error", std::strerror(errno)}});
                self->accept();
                return;
            }
            self->m_image.reset();
            boost::system::error_code ignored;
            self->m_acceptor.close(ignored);
            unlink(self->m_path.c_str());
        });
}

} // namespace cellbox::gateway
