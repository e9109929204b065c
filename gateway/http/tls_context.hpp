#pragma once
// The server side TLS configuration of `cellbox serve --certfile/--keyfile`.
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <stdexcept>
#include <string>

namespace cellbox::gateway
{

// A certificate or key that cannot be used; the message names the file and the reason.
struct tls_config_error : std::runtime_error
{
    using std::runtime_error::runtime_error;
};

// TLS 1.2 or later with the PEM certificate chain `certfile` and private key `keyfile` (which
// may be the same file). Throws tls_config_error.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const std::string& certfile,
                                                            const std::string& keyfile);

} // namespace cellbox::gateway
