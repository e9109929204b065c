#pragma once
// Prespawned sandbox launches of one kernelspec (launcher_pool), each bound to its user over
// its late-binding link when taken. A miss (none ready, or KERNEL_* variables the prespawned
// kernels were not started with) leaves the kernel to the next backend.
#include "backends/kernel_backend.hpp"
#include "backends/launcher_pool.hpp"

#include <memory>
#include <string>

namespace cellbox::gateway
{

class launch_pool_backend final : public kernel_backend
{
public:
    launch_pool_backend(std::string kernelspec, std::unique_ptr<launcher_pool> pool);

private:
    const char* name_impl() const override { return "launch pool"; }
    bool serves_impl(const launch_spec& spec) const override;
    void launch_impl(const launch_spec& spec, launch_handler done) override;
    bool on_child_exit_impl(pid_t pid) override;
    void stop_impl() override { m_pool->stop(); }
    std::optional<pool_figures> pool_impl() const override
    {
        return pool_figures{
            m_kernelspec,          "launch",          m_pool->ready_sessions(), m_pool->min_size(),
            m_pool->target_size(), m_pool->max_size()};
    }

    std::string m_kernelspec;
    std::unique_ptr<launcher_pool> m_pool;
};

} // namespace cellbox::gateway
