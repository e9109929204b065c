#include "backends/launch_pool_backend.hpp"

#include "telemetry/log.hpp"

namespace cellbox::gateway
{
namespace
{

// A prespawned launcher keeps its sandbox while its late-binding link is open.
class prespawned_process final : public kernel_process
{
public:
    prespawned_process(taken_session session, unique_fd link)
        : kernel_process(std::move(session.s), std::move(session.client)), m_link(std::move(link))
    {
    }
    int link() const { return m_link.get(); }

private:
    // Closing the link makes the launcher end its sandbox and remove its cgroups (SIGKILL
    // would leave them behind).
    void discard_impl() override { m_link.reset(); }

    unique_fd m_link;
};

} // namespace

launch_pool_backend::launch_pool_backend(std::string kernelspec,
                                         std::unique_ptr<launcher_pool> pool)
    : m_kernelspec(std::move(kernelspec)), m_pool(std::move(pool))
{
}

bool launch_pool_backend::serves_impl(const launch_spec& spec) const
{
    // Prespawned without KERNEL_* variables: a kernel that has some is launched for itself.
    return spec.kernelspec == m_kernelspec && spec.env.empty();
}

void launch_pool_backend::launch_impl(const launch_spec& spec, launch_handler done)
{
    auto claimed = m_pool->take();
    if (!claimed)
    {
        done(nullptr, ""); // a miss, not a failure
        return;
    }
    const pid_t pid = claimed->session.s.pid;
    auto process =
        std::make_shared<std::unique_ptr<prespawned_process>>(std::make_unique<prespawned_process>(
            std::move(claimed->session), std::move(claimed->link)));
    log::info("kernel started", {{"kernel", spec.kernel_id},
                                 {"name", spec.kernelspec},
                                 {"from", "pool"},
                                 {"session_pid", pid}});
    const int link = (*process)->link();
    // The user's directory at /work, idmapped: their files are the session's.
    m_pool->go(link, {spec.workdir, contract::workdir_owner{spec.uid, spec.uid}, spec.memory_bytes},
               [this, process, pid, id = spec.kernel_id, done](bool ok, const std::string& error)
               { bound(std::move(*process), pid, id, ok, error, done); });
}

bool launch_pool_backend::on_child_exit_impl(pid_t pid)
{
    return report_exit(pid) || m_pool->on_child_exit(pid);
}

} // namespace cellbox::gateway
