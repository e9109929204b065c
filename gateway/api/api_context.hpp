#pragma once
// What the API's resources share: the options, the kernelspecs, the kernels and their
// sessions, and the server's activity for /api/status. One per server, made at startup.
#include "auth/cors_policy.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "kernels/kernel_manager.hpp"
#include "kernels/kernelspec_catalog.hpp"
#include "kernels/session_registry.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

namespace cellbox::gateway
{

class execution_registry;

struct api_context
{
    server_options options;
    const kernelspec_catalog& specs;
    kernel_manager& kernels;
    session_registry sessions;
    std::string started;         // ISO 8601, for /api/status
    std::string last_activity;   // of the last API request ("" before the first)
    cors_policy cors;            // the WebSocket Origin check
    boost::asio::io_context& io; // the server's thread, for timers and posting to it
    // The execute API's executions, per kernel.
    std::shared_ptr<execution_registry> executions;
    // Where the contents API reads and writes files, off the server's thread (a 64 MiB file
    // would hold up every other request there). Its work never holds the context itself.
    std::shared_ptr<boost::asio::thread_pool> file_io;
};

// Removes a kernel's sessions and executions when the kernel goes (shut down, culled, failed to
// start).
std::shared_ptr<api_context> make_api_context(boost::asio::io_context& io,
                                              const server_options& options,
                                              const kernelspec_catalog& specs,
                                              kernel_manager& kernels);

// `handler`, counting the request as activity first (/api/status's last_activity), as
// jupyter_server's API handlers do.
http_handler activity(const std::shared_ptr<api_context>& ctx, http_handler handler);

} // namespace cellbox::gateway
