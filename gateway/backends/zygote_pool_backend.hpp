#pragma once
// The zygote's sessions of one kernelspec (zygote_pool): a ready one bound to its user with
// `go`, or, on a miss, one forked for the user now (a cold start). Kernels with KERNEL_*
// variables, or a zygote still warming up, are left to the next backend.
#include "backends/kernel_backend.hpp"
#include "backends/zygote_pool.hpp"

#include <memory>
#include <string>

namespace cellbox::gateway
{

class zygote_pool_backend final : public kernel_backend
{
public:
    zygote_pool_backend(std::string kernelspec, std::unique_ptr<zygote_pool> pool);

private:
    const char* name_impl() const override { return "zygote pool"; }
    bool serves_impl(const launch_spec& spec) const override;
    void launch_impl(const launch_spec& spec, launch_handler done) override;
    bool on_child_exit_impl(pid_t pid) override { return m_pool->on_child_exit(pid); }
    void stop_impl() override;
    std::optional<pool_figures> pool_impl() const override
    {
        return pool_figures{
            m_kernelspec,          "zygote",          m_pool->ready_sessions(), m_pool->min_size(),
            m_pool->target_size(), m_pool->max_size()};
    }

    void hand_over(const launch_spec& spec, taken_session claimed, launch_handler done);
    void spawn_cold(const launch_spec& spec, launch_handler done);

    std::string m_kernelspec;
    std::unique_ptr<zygote_pool> m_pool;
};

} // namespace cellbox::gateway
