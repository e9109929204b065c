// The kernel manager's side of processes: starting a kernel's process through the backends,
// connecting to it, noticing it is ready, its exits and deaths, the hard kill of a stuck cell.
#include "cellbox/byte_size.hpp"
#include "kernels/kernel_manager.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/post.hpp>
#include <filesystem>
#include <set>
#include <sstream>

namespace cellbox::gateway
{
namespace
{

void remove_directory(const std::string& directory)
{
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
}

} // namespace

void kernel_manager::launch(kernel& k)
{
    k.execution_state = "starting";
    k.ready = false;
    k.quiet_until = {}; // a new process: its messages are activity
    k.launched_at = std::chrono::steady_clock::now();
    touch(k);
    launch_from(k, 0);
}

void kernel_manager::launch_from(kernel& k, std::size_t first)
{
    const kernelspec_catalog::entry* spec = m_specs.find(k.name);
    if (spec == nullptr)
    {
        throw std::runtime_error("its kernelspec " + k.name + " is gone");
    }
    const user_registry::home home = m_users.home_of(k.owner);
    const launch_spec wanted{k.id,           k.name, spec->spec["argv"], home.workdir, home.uid,
                             k.memory_bytes, k.env};
    for (std::size_t index = first; index < m_backends.size(); ++index)
    {
        if (!m_backends[index]->serves(wanted))
        {
            continue;
        }
        const std::uint64_t serial = ++k.launch_serial;
        const std::string id = k.id;
        m_backends[index]->launch(wanted,
                                  [this, id, serial, index](std::unique_ptr<kernel_process> process,
                                                            const std::string& error)
                                  { launched(id, serial, index, std::move(process), error); });
        return;
    }
    throw std::runtime_error("no backend can start kernelspec " + k.name);
}

void kernel_manager::launched(const std::string& id, std::uint64_t serial, std::size_t backend,
                              std::unique_ptr<kernel_process> process, const std::string& error)
{
    kernel* k = find(id);
    if (k == nullptr || k->launch_serial != serial)
    {
        // Shut down or restarted while it started.
        m_backends[backend]->abandon(std::move(process));
        return;
    }
    if (!process)
    {
        if (!error.empty())
        {
            log::warn("the backend could not start the kernel, trying the next",
                      {{"kernel", id}, {"backend", m_backends[backend]->name()}, {"error", error}});
        }
        try
        {
            launch_from(*k, backend + 1);
        }
        catch (const std::exception& e)
        {
            launch_failed(*k, std::string("starting the kernel failed: ") + e.what());
        }
        return;
    }
    k->process = std::move(process);
    k->backend = backend;
    connect(*k);
}

void kernel_manager::launch_failed(kernel& k, const std::string& why)
{
    log::error("kernel start failed", {{"kernel", k.id}, {"error", why}});
    k.lifecycle.move_to(lifecycle_state::dead);
    k.reason = why;
    for (auto& waiter : std::exchange(k.ready_waiters, {}))
    {
        waiter(false);
    }
    refuse_unanswered(k, "KernelDied", why);
}

void kernel_manager::watch_for_lost_idle(kernel& k, std::function<kernel*()> current)
{
    k.lost_idle = std::make_unique<boost::asio::steady_timer>(m_io, lost_idle_grace);
    k.lost_idle->async_wait(
        [this, current = std::move(current)](boost::system::error_code error)
        {
            // Cancelled (a status came, or the kernel went): error is operation_aborted.
            kernel* k = error ? nullptr : current();
            if (k != nullptr && k->execution_state == "busy" && k->requests.pending_count() == 0)
            {
                // Else the culler and hibernation would wait for it forever, and so would a
                // client (JupyterLab ends a request on its reply and its idle status): each
                // connected session gets the idle status, as the kernel's own goes to all.
                log::warn("kernel's idle status lost (iopub over its high-water mark): idle",
                          {{"kernel", k->id}});
                k->execution_state = "idle";
                wake_hibernate_wait(*k);
                const std::string parent = k->last_replied ? k->last_replied->header : "{}";
                const kernel_message idle = make_lost_idle_status(parent);
                for (const auto& session_id : sessions_of(*k))
                {
                    tell_session(*k, session_id, idle);
                }
            }
        });
}

void kernel_manager::connect(kernel& k)
{
    const std::string id = k.id;
    const std::uint64_t epoch = ++k.io_epoch;
    // The kernel if these events are from its current connection: what an old process said
    // just before it was stopped (its last statuses, a ready or a failure) reaches this
    // thread later, and is not about the kernel any more.
    auto current = [this, id, epoch]() -> kernel*
    {
        kernel* k = find(id);
        return k != nullptr && k->io_epoch == epoch ? k : nullptr;
    };
    // Each event is handled on the manager's thread, for the current connection only.
    auto on_manager = [this, current](std::function<void(kernel&)> handle)
    {
        boost::asio::post(m_io,
                          [current, handle = std::move(handle)]
                          {
                              if (kernel* k = current())
                              {
                                  handle(*k);
                              }
                          });
    };
    kernel_io::callbacks events;
    events.on_ready = [this, on_manager] { on_manager([this](kernel& k) { mark_ready(k.id); }); };
    events.on_status = [on_manager](const std::string& state)
    {
        on_manager(
            [state](kernel& k)
            {
                k.lost_idle.reset(); // a status came: none was lost
                // The kernel's own "starting" can arrive after its kernel_info reply made it
                // ready (idle): keep idle, or an unused kernel would look like it never
                // started.
                if (!state.empty() && !(state == "starting" && k.ready))
                {
                    k.execution_state = state;
                }
                wake_hibernate_wait(k);
            });
    };
    events.on_reply = [this, current, on_manager](const std::string& parent_msg_id)
    {
        on_manager(
            [this, current, parent_msg_id](kernel& k)
            {
                if (auto request = k.requests.replied(parent_msg_id))
                {
                    k.last_replied = std::move(request);
                }
                k.hard_deadline.reset(); // the cell answered in time
                if (k.execution_state == "busy" && k.requests.pending_count() == 0)
                {
                    watch_for_lost_idle(k, current);
                }
                wake_hibernate_wait(k);
            });
    };
    events.on_execute_started = [this, on_manager](const std::string& msg_id)
    { on_manager([this, msg_id](kernel& k) { on_execute_started(k.id, msg_id); }); };
    events.on_execute_reply =
        [this, id](const std::string& msg_id, const std::string& status, const std::string& ename)
    {
        boost::asio::post(m_io, [this, id, msg_id, status, ename]
                          { on_execute_reply(id, msg_id, status, ename); });
    };
    events.on_activity = [this, current, on_manager]
    {
        on_manager(
            [this, current](kernel& k)
            {
                const auto now = std::chrono::steady_clock::now();
                // The gateway's own silent requests (checkpoints) are not activity.
                if (now >= k.quiet_until)
                {
                    touch(k);
                }
                // The kernel is still talking after its reply (its output is being read):
                // the idle status is late, not lost, so the grace counts from here.
                if (k.lost_idle && k.lost_idle->expiry() > now)
                {
                    watch_for_lost_idle(k, current);
                }
            });
    };
    events.on_failure = [this, on_manager](const std::string& reason)
    {
        on_manager(
            [this, reason](kernel& k)
            {
                k.reason = "the gateway cannot reach the kernel: " + reason;
                for (auto& waiter : std::exchange(k.ready_waiters, {}))
                {
                    waiter(false);
                }
                shutdown(k.id, [] {});
            });
    };
    if (auto client = k.process->take_client())
    {
        // A pooled session: the pool's connection is subscribed and has its kernel_info
        // answer already; reconnecting would cost a subscription and a handshake.
        k.io = std::move(client);
        k.io->adopt(std::move(events), std::exchange(k.kept, {}));
    }
    else
    {
        k.io = std::make_unique<kernel_io>(m_zmq, k.process->connection(), std::move(events),
                                           m_options.streams, std::exchange(k.kept, {}));
    }
    for (const auto& [connection, attachment] : k.attached)
    {
        k.io->attach(connection, attachment.first, attachment.second);
    }
}

void kernel_manager::mark_ready(const std::string& id)
{
    kernel* k = find(id);
    if (k == nullptr || k->ready || !k->process)
    {
        return;
    }
    if (k->resuming)
    {
        restore_image(*k); // then serve()
        return;
    }
    serve(*k);
}

void kernel_manager::serve(kernel& ready)
{
    kernel* k = &ready;
    const std::string id = k->id;
    k->ready = true;
    if (!k->lifecycle.is(lifecycle_state::deleting))
    {
        k->lifecycle.move_to(lifecycle_state::ready);
    }
    k->execution_state = "idle"; // it just answered kernel_info: nothing is running
    k->process->on_ready();
    const std::chrono::duration<double, std::milli> startup =
        std::chrono::steady_clock::now() - k->launched_at;
    log::info("kernel ready", {{"kernel", id}, {"startup_ms", startup.count()}});
    release_held(*k);
    for (auto& waiter : std::exchange(k->ready_waiters, {}))
    {
        waiter(true);
    }
}

void kernel_manager::on_execute_started(const std::string& id, const std::string& msg_id)
{
    kernel* k = find(id);
    if (k == nullptr || !k->process)
    {
        return;
    }
    const std::optional<double> limit = k->requests.started(msg_id);
    k->hard_deadline.reset();
    if (!limit)
    {
        return;
    }
    const auto deadline = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                              std::chrono::duration<double>(*limit)) +
                          m_options.kill_grace;
    k->hard_deadline = std::make_unique<boost::asio::steady_timer>(m_io, deadline);
    const double seconds = *limit;
    const std::uint64_t serial = k->process->serial();
    k->hard_deadline->async_wait(
        [this, id, msg_id, seconds, serial](const boost::system::error_code& error)
        {
            kernel* k = find(id);
            if (error || k == nullptr || !k->process || k->process->serial() != serial ||
                !k->requests.is_pending(msg_id))
            {
                return;
            }
            std::ostringstream limit_text;
            limit_text << seconds;
            k->kill_reason = "the cell ran past its time limit of " + limit_text.str() +
                             " s and did not stop when interrupted";
            log::warn("killing kernel", {{"kernel", id}, {"reason", k->kill_reason}});
            k->process->kill();
            // From now on requests wait for the next process instead of going to this one.
            stop_io(*k);
        });
}

void kernel_manager::on_exit(pid_t pid, int)
{
    for (auto& backend : m_backends)
    {
        if (backend->on_child_exit(pid))
        {
            return;
        }
    }
}

void kernel_manager::process_exited(const process_exit& exit)
{
    kernel* found = find(exit.kernel_id);
    if (found == nullptr || !found->process || found->process->serial() != exit.serial)
    {
        return;
    }
    kernel& k = *found;
    const std::unique_ptr<kernel_process> gone = std::move(k.process);
    stop_io(k);
    // Before anything starts the next process, which may use the same directory.
    remove_directory(gone->directory());
    if (hibernation_exit(k))
    {
        return;
    }
    if (k.exit_waiters.empty() &&
        (k.lifecycle.is(lifecycle_state::ready) || k.lifecycle.is(lifecycle_state::hibernating)))
    {
        handle_death(k, exit.verdict);
        return;
    }
    auto waiters = std::exchange(k.exit_waiters, {});
    // Only the lifecycle decides: a status the old process sent just before it was
    // stopped must not turn a restart into a deletion.
    const bool restarting = k.lifecycle.is(lifecycle_state::restarting);
    for (auto& waiter : std::exchange(k.ready_waiters, {}))
    {
        waiter(false);
    }
    if (waiters.empty())
    {
        log::warn("kernel exited before it was ready", {{"kernel", k.id}});
        k.lifecycle.move_to(lifecycle_state::dead);
        refuse_unanswered(k, "KernelDied", "the kernel exited before it was ready");
        return;
    }
    // What it was asked and had not answered: the restart or shutdown ended it.
    answer_in_flight(k, restarting ? "KernelRestarted" : "KernelShutDown",
                     restarting ? "the kernel was restarted before it answered; its "
                                  "variables were lost"
                                : "the kernel was shut down before it answered");
    if (!restarting)
    {
        log::info("kernel shut down", {{"kernel", k.id}});
        forget(std::string(k.id)); // a copy: k goes
    }
    for (auto& waiter : waiters)
    {
        waiter();
    }
}

namespace
{

// What happened, from the sandbox's verdict (none: the launcher left none).
std::pair<std::string, std::string> death_cause(const contract::decoded<contract::verdict>& verdict,
                                                const std::string& memory_limit)
{
    const std::string kind = verdict ? verdict->kind : "";
    if (kind == "oom")
    {
        return {"MemoryLimitExceeded", "the kernel used more than its memory limit of " +
                                           memory_limit + " and was killed"};
    }
    if (kind == "signal" || kind == "seccomp")
    {
        return {"KernelDied",
                "the kernel was killed by " +
                    (verdict->signal != 0 ? contract::signal_name(verdict->signal) : "a signal")};
    }
    if (kind == "timeout_wall" || kind == "timeout_cpu")
    {
        return {"CellTimeoutError", "the kernel ran past its time limit and was killed"};
    }
    if (verdict && verdict->exited())
    {
        return {"KernelDied", "the kernel exited with code " + std::to_string(verdict->exit_code)};
    }
    return {"KernelDied", "the kernel died unexpectedly"};
}

} // namespace

void kernel_manager::handle_death(kernel& k, const contract::decoded<contract::verdict>& verdict)
{
    auto [ename, evalue] = death_cause(verdict, format_byte_size(k.memory_bytes));
    if (!k.kill_reason.empty())
    {
        ename = "CellTimeoutError";
        evalue = std::exchange(k.kill_reason, {});
    }
    // What comes next, in the same sentence.
    const bool restarts = m_options.restart_on_death && m_specs.find(k.name) != nullptr;
    evalue += restarts ? "; the kernel was restarted and its variables were lost"
                       : "; the kernel is dead and is not restarted (restart_on_death is off)";
    k.hard_deadline.reset();
    const bool out_of_memory = verdict && verdict->kind == "oom";
    log::warn("kernel died", {{"kernel", k.id},
                              {"verdict", verdict ? verdict->kind : "unknown"},
                              {"ename", ename},
                              {"reason", evalue},
                              {"pending_cells", k.requests.pending_count()}});
    metric::kernel_death(ename, out_of_memory);
    if (ename == "CellTimeoutError")
    {
        metric::cell_timeout(true);
    }
    const auto death = k.requests.take_for_death(std::chrono::steady_clock::now());
    for (const double seconds : death.pending_ages)
    {
        metric::execution("error", seconds);
    }
    // A client that went away while its cell ran gets the explanation on its reconnect. Its
    // other requests (completion, inspection...) died with it.
    for (const auto& answer : death.answers)
    {
        if (answer.aborted)
        {
            // Queued behind the cell that died: never ran, as after an error with
            // stop_on_error.
            const std::string& request = answer.request.header;
            tell_session(k, answer.session_id,
                         make_reply("shell", "execute_reply", request,
                                    {{"status", "aborted"}, {"execution_count", nullptr}}));
            tell_session(k, answer.session_id,
                         make_reply("iopub", "status", request, {{"execution_state", "idle"}}));
            continue;
        }
        answer_with_error(k, answer.session_id, answer.request, ename, evalue);
    }
    k.reason = evalue;
    if (!restarts)
    {
        k.lifecycle.move_to(lifecycle_state::dead);
        refuse_unanswered(k, "KernelDied", evalue);
        return;
    }
    for (const auto& session_id : sessions_of(k))
    {
        tell_session(k, session_id,
                     make_reply("iopub", "status", "{}", {{"execution_state", "restarting"}}));
    }
    metric::kernel_restart("death");
    log::info("kernel restarting", {{"kernel", k.id}, {"cause", "death"}});
    k.lifecycle.move_to(lifecycle_state::restarting);
    try
    {
        launch(k);
    }
    catch (const std::exception& e)
    {
        launch_failed(k, evalue + "; restarting it failed: " + e.what());
    }
}

void kernel_manager::stop_io(kernel& k)
{
    if (!k.io)
    {
        return;
    }
    for (auto& [session_id, waiting] : k.io->stop())
    {
        k.kept.insert_or_assign(session_id, std::move(waiting));
    }
    k.io.reset();
    ++k.io_epoch; // what it posted before it stopped is about the old process
}

} // namespace cellbox::gateway
