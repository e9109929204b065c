#pragma once
// Kernels launched on demand through cellbox-sandbox: any kernelspec, any KERNEL_* environment.
// The last backend the kernel manager tries, and the one the pools fall back to.
#include "backends/kernel_backend.hpp"

#include <boost/asio/io_context.hpp>
#include <string>

namespace cellbox::gateway
{

struct sandbox_backend_options
{
    std::string program;         // cellbox-sandbox
    bool allow_degraded = false; // --allow-degraded
    std::string runtime_dir;     // kernels' private directories
};

class sandbox_launch_backend final : public kernel_backend
{
public:
    sandbox_launch_backend(boost::asio::io_context& io, sandbox_backend_options options);

private:
    const char* name_impl() const override { return "sandbox"; }
    bool serves_impl(const launch_spec&) const override { return true; }
    void launch_impl(const launch_spec& spec, launch_handler done) override;

    boost::asio::io_context& m_io;
    sandbox_backend_options m_options;
};

} // namespace cellbox::gateway
