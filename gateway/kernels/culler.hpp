#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace cellbox::gateway
{

// Idle culling, as jupyter_server's MappingKernelManager: a kernel without activity for
// idle_timeout_s (0: never) is shut down. Kernels with WebSocket connections or a running cell
// are spared unless cull_connected / cull_busy.
struct cull_policy
{
    double idle_timeout_s = 0;
    double interval_s = 300;
    bool cull_connected = false;
    bool cull_busy = false;
};

// What the culler looks at in one kernel.
struct cull_view
{
    double idle_s = 0;
    bool dead = false;
    bool stopping = false; // being shut down or restarted already
    std::string state;     // its model's execution_state
    int connections = 0;
};

// As jupyter_server: dead kernels always go; starting or restarting ones never.
bool should_cull(const cull_view& kernel, const cull_policy& policy);

// A pass every interval_s while idle_timeout_s > 0: asks for the kernels as they are now, and
// has the ones to cull shut down.
class culler
{
public:
    using survey_fn = std::function<std::vector<std::pair<std::string, cull_view>>()>;
    using cull_fn = std::function<void(const std::string& id)>;

    culler(boost::asio::io_context& io, cull_policy policy, survey_fn survey, cull_fn cull);
    // Starts the passes (and says so in the log) if culling is on.
    void start();

private:
    void schedule();
    void pass();

    cull_policy m_policy;
    survey_fn m_survey;
    cull_fn m_cull;
    boost::asio::steady_timer m_timer;
};

} // namespace cellbox::gateway
