#pragma once
// The backends a gateway starts kernels through, in the order the kernel manager tries them:
// a zygote pool for each kernelspec that can be a zygote (kernel.json's
// metadata.cellbox.zygote), a launch pool for each other one (root gateways only), then
// cellbox-sandbox on demand for everything.
#include "backends/kernel_backend.hpp"
#include "kernels/kernelspec_catalog.hpp"
#include "kernels/user_registry.hpp"
#include "streams/stream_options.hpp"

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

struct backend_list_options
{
    std::string sandbox_program;
    bool sandbox_allow_degraded = false;
    std::string runtime_dir;
    std::uint64_t memory_bytes = 0; // the server's default, for pooled sessions
    std::size_t pool_size = 0;      // zygote sessions kept per kernelspec (0: no zygotes)
    std::string pool_warm_modules;
    std::size_t pool_max = 0;         // zygote sessions kept at most after bursts (0: pool_size)
    double pool_window_s = 60;        // the starts of this many seconds size a pool
    std::size_t launch_pool_size = 0; // prespawned launches per kernelspec (0: none)
    std::size_t launch_pool_max = 0;  // kept at most after bursts (0: launch_pool_size)
    stream_options streams;
};

// `users` hands out the pooled sessions' uids; it must outlive the backends.
std::vector<std::unique_ptr<kernel_backend>>
make_backend_list(boost::asio::io_context& io, zmq::context_t& zmq, const kernelspec_catalog& specs,
                  user_registry& users, const backend_list_options& options);

} // namespace cellbox::gateway
