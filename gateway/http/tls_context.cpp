#include "http/tls_context.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace cellbox::gateway
{
namespace
{

namespace ssl = boost::asio::ssl;

// Checked before OpenSSL sees the file: "No such file or directory" says more than
// OpenSSL's "system lib".
void require_readable(const std::string& what, const std::string& path)
{
    std::ifstream file(path);
    if (!file)
    {
        throw tls_config_error(what + " " + path + ": " + std::strerror(errno));
    }
}

} // namespace

std::shared_ptr<ssl::context> make_tls_context(const std::string& certfile,
                                               const std::string& keyfile)
{
    require_readable("certificate file", certfile);
    require_readable("key file", keyfile);
    auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
    // Older protocols have known weaknesses; every client the gateway serves speaks 1.2.
    SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                         ssl::context::single_dh_use);
    // Asio takes OpenSSL's error code off its queue into `error`.
    boost::system::error_code error;
    if (context->use_certificate_chain_file(certfile, error))
    {
        throw tls_config_error("certificate file " + certfile +
                               " is not a PEM certificate: " + error.message());
    }
    if (context->use_private_key_file(keyfile, ssl::context::pem, error))
    {
        const std::string reason = error.message();
        if (error.category() == boost::asio::error::get_ssl_category() &&
            ERR_GET_REASON(static_cast<unsigned long>(error.value())) == X509_R_KEY_VALUES_MISMATCH)
        {
            throw tls_config_error("key file " + keyfile + " does not match certificate " +
                                   certfile);
        }
        throw tls_config_error("key file " + keyfile + " is not a PEM private key: " + reason);
    }
    if (SSL_CTX_check_private_key(context->native_handle()) != 1)
    {
        ERR_clear_error();
        throw tls_config_error("key file " + keyfile + " does not match certificate " + certfile);
    }
    return context;
}

} // namespace cellbox::gateway
