#include "kernels/culler.hpp"

#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <chrono>

namespace cellbox::gateway
{

bool should_cull(const cull_view& kernel, const cull_policy& policy)
{
    return kernel.dead ||
           (kernel.idle_s > policy.idle_timeout_s && !kernel.stopping &&
            (kernel.state == "idle" || (kernel.state == "busy" && policy.cull_busy)) &&
            (kernel.connections == 0 || policy.cull_connected));
}

culler::culler(boost::asio::io_context& io, cull_policy policy, survey_fn survey, cull_fn cull)
    : m_policy(policy), m_survey(std::move(survey)), m_cull(std::move(cull)), m_timer(io)
{
}

void culler::start()
{
    if (m_policy.idle_timeout_s <= 0)
    {
        return;
    }
    log::info("idle culling on", {{"idle_timeout_s", m_policy.idle_timeout_s},
                                  {"interval_s", m_policy.interval_s},
                                  {"cull_connected", m_policy.cull_connected},
                                  {"cull_busy", m_policy.cull_busy}});
    schedule();
}

void culler::schedule()
{
    m_timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(m_policy.interval_s)));
    m_timer.async_wait(
        [this](const boost::system::error_code& error)
        {
            if (error)
            {
                return;
            }
            pass();
            schedule();
        });
}

void culler::pass()
{
    std::vector<std::string> culled;
    for (const auto& [id, kernel] : m_survey())
    {
        if (!should_cull(kernel, m_policy))
        {
            continue;
        }
        log::info("kernel culled", {{"kernel", id},
                                    {"idle_s", kernel.idle_s},
                                    {"execution_state", kernel.state},
                                    {"connections", kernel.connections}});
        metric::kernel_culled();
        culled.push_back(id);
    }
    for (const auto& id : culled)
    {
        m_cull(id);
    }
}

} // namespace cellbox::gateway
