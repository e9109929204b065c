// The kernel manager's public side: starting, stopping, restarting and finding kernels.
// Processes are in kernel_processes.cpp, clients' messages in kernel_traffic.cpp.
#include "kernels/kernel_manager.hpp"

#include "backends/process_shutdown.hpp"
#include "cellbox/byte_size.hpp"
#include "kernels/admission.hpp"
#include "kernels/backend_list.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>
#include <filesystem>

namespace cellbox::gateway
{

kernel_manager::kernel_manager(boost::asio::io_context& io, const kernelspec_catalog& specs,
                               manager_options options)
    : m_io(io), m_specs(specs), m_options(std::move(options)),
      m_memory_bytes(parse_byte_size(m_options.memory_limit)),
      m_users(m_options.work_dir, m_options.first_user_uid, m_options.work_quota),
      m_images(m_options.state_dir),
      m_culler(
          io,
          {m_options.cull_idle_timeout_s, m_options.cull_interval_s, m_options.cull_connected,
           m_options.cull_busy},
          [this] { return cull_survey(); }, [this](const std::string& id) { cull(id); })
{
    // ZeroMQ caps a context at 1023 sockets by default; each kernel takes about five.
    zmq_ctx_set(m_zmq.handle(), ZMQ_MAX_SOCKETS, 65536);
    if (!m_options.streams.budget)
    {
        // One for the whole gateway: every kernel's buffers and every connection draw on it.
        m_options.streams.budget = stream_budget::create(m_options.streams.memory_budget);
    }
    std::filesystem::create_directories(m_options.runtime_dir);
    m_culler.start();
    m_backends = make_backend_list(m_io, m_zmq, m_specs, m_users,
                                   {m_options.sandbox_program, m_options.sandbox_allow_degraded,
                                    m_options.runtime_dir, m_memory_bytes, m_options.pool_size,
                                    m_options.pool_warm_modules, m_options.pool_max,
                                    m_options.pool_window_s, m_options.launch_pool_size,
                                    m_options.launch_pool_max, m_options.streams});
    for (auto& backend : m_backends)
    {
        backend->on_exit([this](const process_exit& exit) { process_exited(exit); });
    }
    load_records();
    schedule_checkpoints();
}

kernel_manager::~kernel_manager()
{
    shutdown_all();
}

std::optional<std::string> kernel_manager::admission_error(const identity& who) const
{
    const auto owned =
        std::count_if(m_kernels.begin(), m_kernels.end(),
                      [&](const auto& entry) { return entry.second->owner == who.user; });
    return gateway::admission_error(who, static_cast<int>(m_kernels.size()),
                                    static_cast<int>(owned),
                                    {m_options.max_kernels, m_options.max_kernels_per_user});
}

void kernel_manager::start(const std::string& name, const identity& who,
                           std::map<std::string, std::string> env, start_handler done)
{
    if (m_specs.find(name) == nullptr)
    {
        done(std::nullopt, "No such kernel: " + name);
        return;
    }
    auto record = std::make_unique<kernel>();
    record->id = make_kernel_id();
    record->name = name;
    record->owner = who.user;
    record->env = std::move(env);
    m_users.limit_disk(who.user, who.limits.disk_bytes); // the latest token decides
    const kernel_allowance allowance =
        allowance_of(who, m_memory_bytes, m_options.cell_timeout_s, m_options.cell_timeout_cap_s);
    record->memory_bytes = allowance.memory_bytes;
    record->cell_timeout_s = allowance.cell_timeout_s;
    record->cell_timeout_cap_s = allowance.cell_timeout_cap_s;
    kernel& k = *record;
    m_kernels[k.id] = std::move(record);
    persist(); // known after a SIGKILL too (the answer waits for it): its id says it was lost
    const std::string id = k.id;
    auto timer = std::make_shared<boost::asio::steady_timer>(m_io, m_options.start_timeout);
    const auto requested = std::chrono::steady_clock::now();
    k.ready_waiters.push_back(
        [this, done, id, timer, requested](bool ok)
        {
            timer->cancel();
            if (!ok)
            {
                done(std::nullopt, "the kernel exited during start-up");
                return;
            }
            metric::kernel_start(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - requested)
                    .count());
            // Answered once its record is on disk (long since, as a rule): a gateway killed
            // after the answer still knows the id.
            after_persisted([done, id] { done(id, ""); });
        });
    try
    {
        launch(k);
    }
    catch (const std::exception& e)
    {
        if (kernel* failed = find(id))
        {
            failed->ready_waiters.clear(); // answered here, with the reason
            forget(id);
        }
        timer->cancel();
        done(std::nullopt, std::string("cannot start the kernel: ") + e.what());
        return;
    }
    timer->async_wait(
        [this, id](const boost::system::error_code& error)
        {
            kernel* k = find(id);
            if (error || k == nullptr || k->ready)
            {
                return;
            }
            log::warn("kernel start timed out", {{"kernel", id}});
            for (auto& waiter : std::exchange(k->ready_waiters, {}))
            {
                waiter(false);
            }
            shutdown(id, [] {});
        });
}

bool kernel_manager::interrupt(const std::string& id)
{
    kernel* k = find(id);
    if (k != nullptr && k->lifecycle.is(lifecycle_state::hibernated))
    {
        resume(*k); // nothing runs to interrupt; the client wants the kernel back
        return true;
    }
    if (k == nullptr || !k->process)
    {
        return false;
    }
    k->process->interrupt();
    log::info("kernel interrupted", {{"kernel", id}});
    return true;
}

void kernel_manager::shutdown(const std::string& id, std::function<void()> done)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        done();
        return;
    }
    if (!k->lifecycle.is(lifecycle_state::deleting))
    {
        k->lifecycle.move_to(lifecycle_state::deleting);
    }
    if (!k->process)
    {
        // Dead, or still starting: a process that arrives now finds no kernel and is
        // abandoned.
        forget(id);
        done();
        return;
    }
    k->exit_waiters.push_back(std::move(done));
    k->process->terminate();
    auto timer = std::make_shared<boost::asio::steady_timer>(m_io, std::chrono::seconds(2));
    const std::uint64_t serial = k->process->serial();
    timer->async_wait(
        [this, id, serial, timer](const boost::system::error_code&)
        {
            kernel* k = find(id);
            if (k != nullptr && k->process && k->process->serial() == serial)
            {
                k->process->kill(); // did not stop on SIGTERM
            }
        });
}

void kernel_manager::restart(const std::string& id, std::function<void(bool)> done)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        done(false);
        return;
    }
    if (k->lifecycle.is(lifecycle_state::hibernated))
    {
        // A restart asks for a fresh kernel: the saved state goes.
        m_images.remove(id);
        k->image_bytes = 0;
    }
    if (!k->lifecycle.move_to(lifecycle_state::restarting))
    {
        // Being shut down: its exit deletes it.
        log::info("kernel restart refused",
                  {{"kernel", id}, {"state", to_string(k->lifecycle.state())}});
        done(false);
        return;
    }
    metric::kernel_restart("request");
    log::info("kernel restarting", {{"kernel", id}, {"cause", "request"}});
    k->exit_waiters.push_back(
        [this, id, done]
        {
            // process_exited keeps the record while a restart waits for it.
            kernel* k = find(id);
            if (k == nullptr)
            {
                done(false);
                return;
            }
            k->lifecycle.move_to(lifecycle_state::starting);
            k->ready_waiters.push_back(done);
            try
            {
                launch(*k);
            }
            catch (const std::exception& e)
            {
                launch_failed(*k, std::string("restarting the kernel failed: ") + e.what());
            }
        });
    if (k->process)
    {
        stop_io(*k); // requests sent from now on wait for the new process
        k->process->terminate();
    }
    else
    {
        // Dead (or still starting): nothing to stop, start it again now.
        for (auto& waiter : std::exchange(k->exit_waiters, {}))
        {
            waiter();
        }
    }
}

void kernel_manager::forget(const std::string& id)
{
    m_images.remove(id); // images of deleted kernels do not stay behind
    if (m_kernels.erase(id) != 0)
    {
        persist();
        if (m_on_removed)
        {
            m_on_removed(id);
        }
    }
}

kernel_manager::kernel* kernel_manager::find(const std::string& id)
{
    const auto it = m_kernels.find(id);
    return it == m_kernels.end() ? nullptr : it->second.get();
}

kernel_manager::kernel* kernel_manager::find(const std::string& id, const identity& who)
{
    kernel* k = find(id);
    return k != nullptr && (who.admin || k->owner == who.user) ? k : nullptr;
}

nlohmann::json kernel_manager::model(const kernel& k) const
{
    return kernel_model(k);
}

nlohmann::json kernel_manager::list(const identity& who) const
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [id, k] : m_kernels)
    {
        if (who.admin || k->owner == who.user)
        {
            out.push_back(model(*k));
        }
    }
    return out;
}

nlohmann::json kernel_manager::pools() const
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto& backend : m_backends)
    {
        if (const auto pool = backend->pool())
        {
            out.push_back({{"kernelspec", pool->kernelspec},
                           {"kind", pool->kind},
                           {"ready", pool->ready},
                           {"size", pool->size},
                           {"target", pool->target},
                           {"max", pool->max}});
        }
    }
    return out;
}

std::map<std::string, int> kernel_manager::count_by_state() const
{
    std::map<std::string, int> counts;
    for (const auto& [id, k] : m_kernels)
    {
        ++counts[k->lifecycle.model_state(k->execution_state)];
    }
    return counts;
}

void kernel_manager::touch(kernel& k)
{
    k.last_activity = iso8601_now();
    k.active_at = std::chrono::steady_clock::now();
}

std::vector<std::pair<std::string, cull_view>> kernel_manager::cull_survey() const
{
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, cull_view>> kernels;
    for (const auto& [id, k] : m_kernels)
    {
        kernels.emplace_back(
            id, cull_view{std::chrono::duration<double>(now - k->active_at).count(),
                          k->lifecycle.is(lifecycle_state::dead), !k->exit_waiters.empty(),
                          k->lifecycle.model_state(k->execution_state), k->connections});
    }
    return kernels;
}

user_registry::home kernel_manager::home_of(const identity& who)
{
    m_users.limit_disk(who.user, who.limits.disk_bytes); // the latest token decides
    return m_users.home_of(who.user);
}

void kernel_manager::shutdown_all()
{
    if (!m_kernels.empty())
    {
        persist(/*stopping=*/true);
    }
    for (auto& [id, k] : m_kernels)
    {
        if (k->process)
        {
            k->process->terminate();
        }
    }
    // Every launcher and supervisor got SIGTERM by now or gets it next; one grace for all.
    const auto deadline = std::chrono::steady_clock::now() + shutdown_grace;
    // Pools stop what they run (a zygote's sessions among them) and wait until it is gone.
    for (auto& backend : m_backends)
    {
        backend->stop();
    }
    for (auto& [id, k] : m_kernels)
    {
        log::info("kernel shut down", {{"kernel", id}});
        k->io.reset();
        if (k->process)
        {
            k->process->reap_on_shutdown(deadline);
            std::error_code ignored;
            std::filesystem::remove_all(k->process->directory(), ignored);
        }
    }
    m_kernels.clear();
}

} // namespace cellbox::gateway
