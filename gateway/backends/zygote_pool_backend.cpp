#include "backends/zygote_pool_backend.hpp"

#include "telemetry/log.hpp"

namespace cellbox::gateway
{
namespace
{

// A zygote session: its pid is its supervisor's, a child of the zygote, not of the gateway.
class zygote_process final : public kernel_process
{
public:
    zygote_process(zygote_pool& pool, process_place place, std::unique_ptr<kernel_io> client,
                   bool cold)
        : kernel_process(std::move(place), std::move(client)), m_pool(pool), m_cold(cold)
    {
    }

private:
    void kill_impl() override { m_pool.kill(pid()); }
    // Its pool stops it, and waits until it is gone.
    void reap_on_shutdown_impl(std::chrono::steady_clock::time_point) override {}
    void on_ready_impl() override
    {
        if (std::exchange(m_cold, false))
        {
            m_pool.cold_start_finished(pid());
        }
    }

    zygote_pool& m_pool;
    bool m_cold;
};

} // namespace

zygote_pool_backend::zygote_pool_backend(std::string kernelspec, std::unique_ptr<zygote_pool> pool)
    : m_kernelspec(std::move(kernelspec)), m_pool(std::move(pool))
{
    m_pool->on_session_exit = [this](pid_t pid) { report_exit(pid); };
    m_pool->start();
}

bool zygote_pool_backend::serves_impl(const launch_spec& spec) const
{
    // The pool's sessions were forked with the server's environment: KERNEL_* variables need
    // a launch of their own.
    return spec.kernelspec == m_kernelspec && m_pool->ready() && spec.env.empty();
}

void zygote_pool_backend::launch_impl(const launch_spec& spec, launch_handler done)
{
    if (auto claimed = m_pool->take())
    {
        hand_over(spec, std::move(*claimed), std::move(done));
        return;
    }
    const bool waits = m_pool->wait_for_starting(
        [this, spec, done](std::optional<taken_session> claimed)
        {
            if (claimed)
            {
                hand_over(spec, std::move(*claimed), done);
            }
            else
            {
                spawn_cold(spec, done);
            }
        });
    if (!waits)
    {
        spawn_cold(spec, std::move(done));
    }
}

void zygote_pool_backend::hand_over(const launch_spec& spec, taken_session claimed,
                                    launch_handler done)
{
    const pid_t pid = claimed.s.pid;
    auto process =
        std::make_shared<std::unique_ptr<kernel_process>>(std::make_unique<zygote_process>(
            *m_pool, std::move(claimed.s), std::move(claimed.client), false));
    log::info("kernel started", {{"kernel", spec.kernel_id},
                                 {"name", spec.kernelspec},
                                 {"from", "pool"},
                                 {"session_pid", pid}});
    // The user's directory at /work, idmapped: their files are the session's.
    m_pool->go(pid, {spec.workdir, contract::workdir_owner{spec.uid, spec.uid}, spec.memory_bytes},
               [this, process, pid, id = spec.kernel_id, done](bool ok, const std::string& error)
               { bound(std::move(*process), pid, id, ok, error, done); });
}

void zygote_pool_backend::spawn_cold(const launch_spec& spec, launch_handler done)
{
    log::info("kernel started",
              {{"kernel", spec.kernel_id}, {"name", spec.kernelspec}, {"from", "zygote"}});
    m_pool->spawn(
        spec.workdir, spec.uid, spec.memory_bytes,
        [this, id = spec.kernel_id, done](std::optional<pooled_session> s, const std::string& error)
        {
            if (!s)
            {
                done(nullptr, error);
                return;
            }
            const pid_t pid = s->pid;
            done(hand_out(std::make_unique<zygote_process>(*m_pool, std::move(*s), nullptr, true),
                          pid, id),
                 "");
        });
}

void zygote_pool_backend::stop_impl()
{
    m_pool->on_session_exit = nullptr;
    m_pool->stop();
}

} // namespace cellbox::gateway
