#pragma once

#include "cellbox/gateway/kernel_manager.hpp"
#include "cellbox/gateway/kernelspec_catalog.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

namespace cellbox::gateway
{

struct server_options
{
    std::string token; // empty: no authentication
    std::string base_url = "/";
    std::string default_kernel = "cellbox-python";
    std::size_t max_message_bytes = 64 << 20; // requests and WebSocket frames
    std::string allow_origin;                 // CORS Access-Control-Allow-Origin ("" = none)
};

// The HTTP + WebSocket front: jupyter_server's kernels and kernelspecs API (one session object
// per connection, as in Boost.Beast's advanced server). Runs on one io_context thread.
class server
{
public:
    server(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
           server_options options, const kernelspec_catalog& specs, kernel_manager& kernels);

    void start();
    unsigned short port() const;

    struct context
    {
        server_options options;
        const kernelspec_catalog& specs;
        kernel_manager& kernels;
        std::string started;       // ISO 8601, for /api/status
        std::string last_activity; // of the last API request ("" before the first)
    };

private:
    void accept();

    boost::asio::io_context& m_io;
    boost::asio::ip::tcp::acceptor m_acceptor;
    std::shared_ptr<context> m_context;
};

} // namespace cellbox::gateway
