#include "kernels/kernel_manager.hpp"

#include "backends/child_output.hpp"
#include "backends/sandbox_launch_backend.hpp"
#include "cellbox/bounded_json.hpp"
#include "cellbox/byte_size.hpp"
#include "kernels/admission.hpp"
#include "protocol/message_builder.hpp"
#include "protocol/message_fields.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <filesystem>
#include <iostream>
#include <set>
#include <signal.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;

} // namespace

kernel_manager::kernel_manager(boost::asio::io_context& io, const kernelspec_catalog& specs,
                               manager_options options)
    : m_io(io), m_specs(specs), m_options(std::move(options)),
      m_memory_bytes(parse_byte_size(m_options.memory_limit)),
      m_users(m_options.work_dir, m_options.first_user_uid, m_options.work_quota),
      m_culler(
          io,
          {m_options.cull_idle_timeout_s, m_options.cull_interval_s, m_options.cull_connected,
           m_options.cull_busy},
          [this] { return cull_survey(); }, [this](const std::string& id) { shutdown(id, [] {}); })
{
    // ZeroMQ caps a context at 1023 sockets by default; each kernel takes about five.
    zmq_ctx_set(m_zmq.handle(), ZMQ_MAX_SOCKETS, 65536);
    if (!m_options.streams.budget)
    {
        // One for the whole gateway: every kernel's buffers and every connection draw on it.
        m_options.streams.budget = stream_budget::create(m_options.streams.memory_budget);
    }
    fs::create_directories(m_options.runtime_dir);
    m_culler.start();
    start_pools();
    start_launch_pools();
}

namespace
{

// kernel.json's metadata.cellbox.zygote: the kernel can serve as a zygote.
bool has_zygote(const kernelspec_catalog::entry& entry)
{
    const auto& metadata = entry.spec.value("metadata", nlohmann::json::object());
    return metadata.is_object() && metadata.contains("cellbox") &&
           metadata["cellbox"].is_object() && metadata["cellbox"].value("zygote", false);
}

} // namespace

void kernel_manager::start_pools()
{
    if (m_options.pool_size == 0)
    {
        return;
    }
    for (const auto& [name, entry] : m_specs.all())
    {
        const auto& argv = entry.spec.value("argv", nlohmann::json::array());
        if (!has_zygote(entry) || argv.empty() || !argv[0].is_string())
        {
            continue;
        }
        pool_options options;
        options.kernel_program = argv[0].get<std::string>();
        options.warm_modules = m_options.pool_warm_modules;
        options.size = m_options.pool_size;
        options.runtime_dir = m_options.runtime_dir;
        options.memory_bytes = m_memory_bytes;
        options.soft_memory_bytes = soft_memory_limit(m_memory_bytes);
        options.streams = m_options.streams;
        options.next_uid = [this] { return m_users.next_session_uid(); };
        auto pool = std::make_unique<zygote_pool>(m_io, m_zmq, name, std::move(options));
        pool->on_session_exit = [this](pid_t pid) { on_exit(pid, 0); };
        pool->start();
        m_pools.emplace(name, std::move(pool));
    }
}

void kernel_manager::start_launch_pools()
{
    if (m_options.launch_pool_size == 0)
    {
        return;
    }
    if (geteuid() != 0)
    {
        // Binding a pooled kernel to its user's directory is an idmapped mount: root only.
        log::info("no prespawned kernels: the gateway does not run as root");
        return;
    }
    for (const auto& [name, entry] : m_specs.all())
    {
        const auto& argv = entry.spec.value("argv", nlohmann::json::array());
        if (has_zygote(entry) || argv.empty() || !argv[0].is_string())
        {
            continue;
        }
        auto command = [this, name = name](const pooled_session& s)
        {
            // One uid per prespawned kernel, from the gateway's block (apart from users').
            return sandbox_command(
                m_options.sandbox_program, m_options.sandbox_allow_degraded,
                {s.directory, "", m_users.next_session_uid(), m_memory_bytes, {}},
                m_specs.find(name)->spec["argv"]);
        };
        auto pool = std::make_unique<launcher_pool>(m_io, m_zmq, name, m_options.launch_pool_size,
                                                    m_options.runtime_dir, m_options.streams,
                                                    std::move(command));
        pool->start();
        m_launch_pools.emplace(name, std::move(pool));
    }
}

void kernel_manager::kill_hard(const kernel& k)
{
    if (k.launcher <= 0)
    {
        return;
    }
    if (k.from_zygote)
    {
        if (zygote_pool* pool = pool_of(k))
        {
            pool->kill(k.launcher);
        }
        return;
    }
    kill(k.launcher, SIGKILL); // the sandbox and everything in it go with the launcher
}

kernel_manager::~kernel_manager()
{
    shutdown_all();
}

void kernel_manager::launch_plain(kernel& k, const kernelspec_catalog::entry& spec)
{
    k.from_zygote = false;
    k.directory = m_options.runtime_dir + "/kernel-" + k.id;
    k.connection = prepare_kernel_directory(k.directory);
    const user_registry::home home = m_users.home_of(k.owner);
    const pid_t pid =
        spawn_logged(m_io,
                     sandbox_command(m_options.sandbox_program, m_options.sandbox_allow_degraded,
                                     {k.directory, home.workdir, home.uid, k.memory_bytes, k.env},
                                     spec.spec["argv"])
                         .to_argv(),
                     "the kernel launcher", {"kernel", k.name, k.id})
            .pid;
    k.launcher = pid;
    log::info("kernel started", {{"kernel", k.id}, {"name", k.name}, {"launcher_pid", pid}});
}

void kernel_manager::launch(kernel& k, const kernelspec_catalog::entry& spec)
{
    k.execution_state = "starting";
    k.ready = false;
    k.from_zygote = false;
    k.handed_client.reset(); // a previous process's, never handed over
    k.owner_link.reset();
    k.launched_at = std::chrono::steady_clock::now();
    touch(k);
    if (zygote_pool* pool = pool_for(k))
    {
        launch_from_pool(k, *pool);
        return;
    }
    if (launcher_pool* pool = launch_pool_for(k))
    {
        if (auto claimed = pool->take())
        {
            k.owner_link = std::move(claimed->link);
            const int link = k.owner_link.get();
            hand_over(k, std::move(claimed->session), false,
                      [pool, link](const contract::late_binding_request& binding,
                                   launcher_pool::go_handler done)
                      { pool->go(link, binding, std::move(done)); });
            return;
        }
    }
    launch_plain(k, spec);
    connect(k);
}

zygote_pool* kernel_manager::pool_of(const kernel& k)
{
    const auto pool = m_pools.find(k.name);
    return pool != m_pools.end() ? pool->second.get() : nullptr;
}

zygote_pool* kernel_manager::pool_for(const kernel& k)
{
    zygote_pool* pool = pool_of(k);
    // The pool's sessions were forked with the server's environment: KERNEL_* variables need
    // a launch of their own.
    return pool != nullptr && pool->ready() && k.env.empty() ? pool : nullptr;
}

launcher_pool* kernel_manager::launch_pool_for(const kernel& k)
{
    const auto pool = m_launch_pools.find(k.name);
    // Prespawned without KERNEL_* variables: a kernel that has some is launched for itself.
    return pool != m_launch_pools.end() && k.env.empty() ? pool->second.get() : nullptr;
}

void kernel_manager::adopt_session(kernel& k, const pooled_session& s, bool from_zygote)
{
    std::error_code ignored;
    if (!k.directory.empty() && k.directory != s.directory)
    {
        fs::remove_all(k.directory, ignored);
    }
    k.directory = s.directory;
    k.connection = s.connection;
    if (s.output)
    {
        s.output->set_kernel(k.id); // its output was logged under its kernelspec until now
    }
    k.launcher = s.pid;
    k.from_zygote = from_zygote;
}

void kernel_manager::fall_back_to_sandbox(const std::string& id, const std::string& why)
{
    kernel* k = find(id);
    const kernelspec_catalog::entry* spec = k != nullptr ? m_specs.find(k->name) : nullptr;
    if (k == nullptr || spec == nullptr)
    {
        return;
    }
    log::warn("the pool could not serve, launching through the sandbox",
              {{"kernel", id}, {"error", why}});
    k->handed_client.reset();
    k->owner_link.reset();
    std::error_code ignored;
    fs::remove_all(k->directory, ignored);
    launch_plain(*k, *spec);
    connect(*k);
}

void kernel_manager::hand_over(kernel& k, taken_session claimed, bool from_zygote, bind_fn bind)
{
    const std::string id = k.id;
    const pid_t pid = claimed.s.pid;
    adopt_session(k, claimed.s, from_zygote);
    k.handed_client = std::move(claimed.client);
    log::info("kernel started",
              {{"kernel", id}, {"name", k.name}, {"from", "pool"}, {"session_pid", pid}});
    // The user's directory at /work, idmapped: their files are the session's.
    const user_registry::home home = m_users.home_of(k.owner);
    bind({home.workdir, contract::workdir_owner{home.uid, home.uid}, k.memory_bytes},
         [this, id, pid](bool ok, const std::string& error)
         {
             kernel* k = find(id);
             if (k == nullptr || k->launcher != pid)
             {
                 return;
             }
             if (!ok && !k->exit_waiters.empty())
             {
                 // Shut down (or restarted) while being handed over: the session is going,
                 // its exit event completes the waiting request.
                 return;
             }
             if (!ok)
             {
                 if (k->owner_link)
                 {
                     // A prespawned launcher ends its sandbox (and removes its cgroups) when
                     // its link closes; SIGKILL would leave the cgroups behind.
                     k->owner_link.reset();
                 }
                 else
                 {
                     kill_hard(*k);
                 }
                 k->launcher = -1;
                 fall_back_to_sandbox(id, "handing over the pooled session failed: " + error);
                 return;
             }
             connect(*k);
         });
}

void kernel_manager::launch_from_pool(kernel& k, zygote_pool& pool)
{
    if (auto claimed = pool.take())
    {
        const pid_t pid = claimed->s.pid;
        hand_over(k, std::move(*claimed), true,
                  [&pool, pid](const contract::late_binding_request& binding,
                               zygote_pool::go_handler done)
                  { pool.go(pid, binding, std::move(done)); });
        return;
    }
    const std::string id = k.id;
    const user_registry::home home = m_users.home_of(k.owner);
    k.launcher = -1; // until the zygote answers
    log::info("kernel started", {{"kernel", id}, {"name", k.name}, {"from", "zygote"}});
    pool.spawn(home.workdir, home.uid, k.memory_bytes,
               [this, id, &pool](std::optional<pooled_session> s, const std::string& error)
               {
                   kernel* k = find(id);
                   if (!s)
                   {
                       fall_back_to_sandbox(id, error);
                       return;
                   }
                   if (k == nullptr || k->launcher != -1 || !k->exit_waiters.empty())
                   {
                       pool.kill(s->pid); // shut down while it was being forked
                       std::error_code ignored;
                       fs::remove_all(s->directory, ignored);
                       return;
                   }
                   adopt_session(*k, *s, true);
                   k->cold_start_pending = true;
                   connect(*k);
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
    kernel_io::callbacks events;
    events.on_ready = [this, current]
    {
        boost::asio::post(m_io,
                          [this, current]
                          {
                              if (kernel* k = current())
                              {
                                  mark_ready(k->id);
                              }
                          });
    };
    events.on_status = [this, current](const std::string& state)
    {
        boost::asio::post(m_io,
                          [current, state]
                          {
                              // The kernel's own "starting" can arrive after its
                              // kernel_info reply made it ready (idle): keep idle, or an
                              // unused kernel would look like it never started.
                              kernel* k = current();
                              if (k != nullptr && !state.empty() &&
                                  !(state == "starting" && k->ready))
                              {
                                  k->execution_state = state;
                              }
                          });
    };
    events.on_reply = [this, id](const std::string& parent_msg_id)
    {
        boost::asio::post(m_io,
                          [this, id, parent_msg_id]
                          {
                              if (kernel* k = find(id))
                              {
                                  k->requests.replied(parent_msg_id);
                                  k->hard_deadline.reset(); // the cell answered in time
                              }
                          });
    };
    events.on_execute_started = [this, current](const std::string& msg_id)
    {
        boost::asio::post(m_io,
                          [this, current, msg_id]
                          {
                              if (kernel* k = current())
                              {
                                  on_execute_started(k->id, msg_id);
                              }
                          });
    };
    events.on_execute_reply =
        [this, id](const std::string& msg_id, const std::string& status, const std::string& ename)
    {
        boost::asio::post(m_io, [this, id, msg_id, status, ename]
                          { on_execute_reply(id, msg_id, status, ename); });
    };
    events.on_activity = [this, id]
    {
        boost::asio::post(m_io,
                          [this, id]
                          {
                              if (kernel* k = find(id))
                              {
                                  touch(*k);
                              }
                          });
    };
    events.on_failure = [this, id, current](const std::string& reason)
    {
        boost::asio::post(m_io,
                          [this, id, current, reason]
                          {
                              kernel* k = current();
                              if (k == nullptr)
                              {
                                  return;
                              }
                              k->reason = "the gateway cannot reach the kernel: " + reason;
                              for (auto& waiter : std::exchange(k->ready_waiters, {}))
                              {
                                  waiter(false);
                              }
                              shutdown(id, [] {});
                          });
    };
    if (k.handed_client)
    {
        // A pooled session: the pool's connection is subscribed and has its kernel_info
        // answer already; reconnecting would cost a subscription and a handshake.
        k.io = std::move(k.handed_client);
        k.io->adopt(std::move(events), std::exchange(k.kept, {}));
    }
    else
    {
        k.io = std::make_unique<kernel_io>(m_zmq, k.connection, std::move(events),
                                           m_options.streams, std::exchange(k.kept, {}));
    }
    for (const auto& [connection, attachment] : k.attached)
    {
        k.io->attach(connection, attachment.first, attachment.second);
    }
}

bool kernel_manager::attach(const std::string& id, std::uint64_t connection,
                            const std::string& session_id, kernel_io::deliver_fn deliver)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        return false;
    }
    k->attached[connection] = {session_id, deliver};
    ++k->connections;
    if (k->io)
    {
        k->io->attach(connection, session_id, std::move(deliver));
    }
    return true;
}

void kernel_manager::detach(const std::string& id, std::uint64_t connection,
                            std::vector<shared_message> undelivered)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        return;
    }
    const auto attachment = k->attached.find(connection);
    if (attachment == k->attached.end())
    {
        return;
    }
    const std::string session_id = attachment->second.first;
    k->attached.erase(attachment);
    --k->connections;
    if (k->io)
    {
        k->io->detach(connection, std::move(undelivered));
        return;
    }
    for (const auto& message : undelivered) // between two processes: keep them ourselves
    {
        tell_session(*k, session_id, message);
    }
}

void kernel_manager::send(const std::string& id, std::uint64_t connection, kernel_message message)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        return;
    }
    if (!k->io || !k->ready)
    {
        // Between two processes, or the new one has not answered yet (its iopub may not be
        // subscribed: outputs would be lost).
        hold(*k, connection, std::move(message));
        return;
    }
    if (message.channel == "shell")
    {
        const auto header = parse_json_bounded(message.header);
        if (string_field(header, "msg_type") == "execute_request")
        {
            // The kernel enforces the limit softly (state kept); the gateway kills the kernel
            // if the cell is still running kill_grace later.
            auto metadata = parse_json_bounded(message.metadata);
            if (!metadata.is_object())
            {
                metadata = nlohmann::json::object();
            }
            // Its metadata.cellbox.timeout, else the owner's default, never above the cap.
            const double limit = cell_limit(metadata, k->cell_timeout_s, k->cell_timeout_cap_s);
            if (limit > 0)
            {
                if (!metadata["cellbox"].is_object())
                {
                    metadata["cellbox"] = nlohmann::json::object(); // a client's odd value
                }
                metadata["cellbox"]["timeout"] = limit;
                message.metadata = metadata.dump();
            }
            const std::string msg_id = string_field(header, "msg_id");
            const auto attachment = k->attached.find(connection);
            k->requests.execute_sent(
                msg_id, attachment != k->attached.end() ? attachment->second.first : std::string(),
                message.header, limit, std::chrono::steady_clock::now());
        }
        else if (const std::string msg_id = string_field(header, "msg_id"); !msg_id.empty())
        {
            const auto attachment = k->attached.find(connection);
            k->requests.request_sent(
                msg_id, attachment != k->attached.end() ? attachment->second.first : std::string(),
                message.header, message.channel);
        }
    }
    k->io->send(connection, std::move(message));
}

void kernel_manager::hold(kernel& k, std::uint64_t connection, kernel_message message)
{
    const auto attachment = k.attached.find(connection);
    const std::string session_id =
        attachment != k.attached.end() ? attachment->second.first : std::string();
    if (k.lifecycle.is(lifecycle_state::dead))
    {
        answer_with_error(k, session_id, message, "KernelDied",
                          k.reason.empty() ? "the kernel is dead" : k.reason);
        return;
    }
    if (!k.requests.can_hold())
    {
        answer_with_error(k, session_id, message, "KernelRestarting",
                          "the kernel is restarting and already holds " +
                              std::to_string(execution_tracker::max_held) +
                              " requests; send this one again once it is idle");
        return;
    }
    k.requests.hold(connection, std::move(message));
}

void kernel_manager::release_held(kernel& k)
{
    const std::string id = k.id;
    for (auto& [connection, message] : k.requests.take_held())
    {
        if (k.attached.count(connection) == 0)
        {
            // Its WebSocket closed while the kernel restarted: nobody is left to answer.
            log::info("request dropped: its connection closed during a restart",
                      {{"kernel", id}, {"channel", message.channel}});
            continue;
        }
        send(id, connection, std::move(message));
    }
}

void kernel_manager::answer_with_error(kernel& k, const std::string& session_id,
                                       const kernel_message& request, const std::string& ename,
                                       const std::string& evalue)
{
    for (const auto& answer : make_error_answer(request, ename, evalue))
    {
        tell_session(k, session_id, answer);
    }
}

void kernel_manager::refuse_unanswered(kernel& k, const std::string& ename,
                                       const std::string& evalue)
{
    for (auto& [connection, message] : k.requests.take_held())
    {
        const auto attachment = k.attached.find(connection);
        if (attachment != k.attached.end())
        {
            answer_with_error(k, attachment->second.first, message, ename, evalue);
        }
    }
    answer_in_flight(k, ename, evalue);
}

void kernel_manager::answer_in_flight(kernel& k, const std::string& ename,
                                      const std::string& evalue)
{
    k.hard_deadline.reset();
    for (const auto& answer : k.requests.take_in_flight())
    {
        answer_with_error(k, answer.session_id, answer.request, ename, evalue);
    }
}

void kernel_manager::on_execute_started(const std::string& id, const std::string& msg_id)
{
    kernel* k = find(id);
    if (k == nullptr)
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
    const pid_t launcher = k->launcher;
    k->hard_deadline->async_wait(
        [this, id, msg_id, seconds, launcher](const boost::system::error_code& error)
        {
            kernel* k = find(id);
            if (error || k == nullptr || k->launcher != launcher || !k->requests.is_pending(msg_id))
            {
                return;
            }
            std::ostringstream limit_text;
            limit_text << seconds;
            k->kill_reason = "the cell ran past its time limit of " + limit_text.str() +
                             " s and did not stop when interrupted";
            log::warn("killing kernel", {{"kernel", id}, {"reason", k->kill_reason}});
            kill_hard(*k);
            // From now on requests wait for the next process instead of going to this one.
            stop_io(*k);
        });
}

void kernel_manager::mark_ready(const std::string& id)
{
    kernel* k = find(id);
    if (k == nullptr || k->ready)
    {
        return;
    }
    k->ready = true;
    if (!k->lifecycle.is(lifecycle_state::deleting))
    {
        k->lifecycle.move_to(lifecycle_state::ready);
    }
    k->execution_state = "idle"; // it just answered kernel_info: nothing is running
    if (std::exchange(k->cold_start_pending, false))
    {
        if (zygote_pool* pool = pool_of(*k))
        {
            pool->cold_start_finished(k->launcher);
        }
    }
    const std::chrono::duration<double, std::milli> startup =
        std::chrono::steady_clock::now() - k->launched_at;
    log::info("kernel ready", {{"kernel", id}, {"startup_ms", startup.count()}});
    release_held(*k);
    for (auto& waiter : std::exchange(k->ready_waiters, {}))
    {
        waiter(true);
    }
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
    const kernelspec_catalog::entry* spec = m_specs.find(name);
    if (spec == nullptr)
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
    try
    {
        launch(k, *spec);
    }
    catch (const std::exception& e)
    {
        forget(k.id);
        done(std::nullopt, std::string("cannot start the kernel: ") + e.what());
        return;
    }
    const std::string id = k.id;
    auto timer = std::make_shared<boost::asio::steady_timer>(m_io, m_options.start_timeout);
    const auto requested = std::chrono::steady_clock::now();
    k.ready_waiters.push_back(
        [done, id, timer, requested](bool ok)
        {
            timer->cancel();
            if (ok)
            {
                metric::kernel_start(
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - requested)
                        .count());
            }
            done(ok ? std::optional<std::string>(id) : std::nullopt,
                 ok ? "" : "the kernel exited during start-up");
        });
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
    if (k == nullptr || k->launcher <= 0)
    {
        return false;
    }
    kill(k->launcher, SIGINT); // the launcher forwards it into the sandbox
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
    if (k->launcher <= 0)
    {
        forget(id);
        done();
        return;
    }
    k->exit_waiters.push_back(std::move(done));
    kill(k->launcher, SIGTERM);
    auto timer = std::make_shared<boost::asio::steady_timer>(m_io, std::chrono::seconds(2));
    const pid_t pid = k->launcher;
    timer->async_wait(
        [this, id, pid, timer](const boost::system::error_code&)
        {
            if (kernel* k = find(id); k != nullptr && k->launcher == pid)
            {
                kill_hard(*k); // did not stop on SIGTERM
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
            // on_exit keeps the record while a restart waits for it.
            kernel* k = find(id);
            const kernelspec_catalog::entry* spec = k ? m_specs.find(k->name) : nullptr;
            if (k == nullptr || spec == nullptr)
            {
                done(false);
                return;
            }
            k->lifecycle.move_to(lifecycle_state::starting);
            try
            {
                launch(*k, *spec);
                k->ready_waiters.push_back(done);
            }
            catch (const std::exception& e)
            {
                log::error("kernel restart failed", {{"kernel", id}, {"error", e.what()}});
                k->lifecycle.move_to(lifecycle_state::dead);
                k->reason = std::string("restarting the kernel failed: ") + e.what();
                done(false);
            }
        });
    if (k->launcher > 0)
    {
        stop_io(*k); // requests sent from now on wait for the new process
        kill(k->launcher, SIGTERM);
    }
    else
    {
        // Dead (or still being forked): nothing to stop, start it again now. (kill(-1) would
        // signal every process.)
        for (auto& waiter : std::exchange(k->exit_waiters, {}))
        {
            waiter();
        }
    }
}

void kernel_manager::on_exit(pid_t pid, int)
{
    for (auto it = m_kernels.begin(); it != m_kernels.end(); ++it)
    {
        kernel& k = *it->second;
        if (k.launcher != pid)
        {
            continue;
        }
        k.launcher = -1;
        k.owner_link.reset();
        stop_io(k);
        if (k.exit_waiters.empty() && k.lifecycle.is(lifecycle_state::ready))
        {
            handle_death(k); // reads the verdict: before the directory goes
            return;
        }
        std::error_code ignored;
        fs::remove_all(k.directory, ignored);
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
        return;
    }
    for (auto& [name, pool] : m_pools)
    {
        if (pool->on_child_exit(pid))
        {
            return;
        }
    }
    for (auto& [name, pool] : m_launch_pools)
    {
        if (pool->on_child_exit(pid))
        {
            return;
        }
    }
}

namespace
{

// What to tell the user, from the sandbox's verdict (none: the launcher left none).
std::pair<std::string, std::string>
death_explanation(const contract::decoded<contract::verdict>& verdict,
                  const std::string& memory_limit)
{
    const std::string kind = verdict ? verdict->kind : "";
    const std::string lost = "; the kernel was restarted and its variables were lost";
    if (kind == "oom")
    {
        return {"MemoryLimitExceeded", "the kernel used more than its memory limit of " +
                                           memory_limit + " and was killed" + lost};
    }
    if (kind == "signal" || kind == "seccomp")
    {
        return {"KernelDied",
                "the kernel was killed by " +
                    (verdict->signal != 0 ? contract::signal_name(verdict->signal) : "a signal") +
                    lost};
    }
    if (kind == "timeout_wall" || kind == "timeout_cpu")
    {
        return {"CellTimeoutError", "the kernel ran past its time limit and was killed" + lost};
    }
    if (verdict && verdict->exited())
    {
        return {"KernelDied",
                "the kernel exited with code " + std::to_string(verdict->exit_code) + lost};
    }
    return {"KernelDied", "the kernel died unexpectedly" + lost};
}

} // namespace

void kernel_manager::handle_death(kernel& k)
{
    const auto verdict = contract::read_verdict_file(verdict_file_of(k.directory));
    auto [ename, evalue] = death_explanation(verdict, format_byte_size(k.memory_bytes));
    if (!k.kill_reason.empty())
    {
        ename = "CellTimeoutError";
        evalue = std::exchange(k.kill_reason, {}) +
                 "; the kernel was restarted and its variables were lost";
    }
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
    std::error_code ignored;
    fs::remove_all(k.directory, ignored);
    const kernelspec_catalog::entry* spec = m_specs.find(k.name);
    if (!m_options.restart_on_death || spec == nullptr)
    {
        k.lifecycle.move_to(lifecycle_state::dead);
        refuse_unanswered(k, "KernelDied", evalue);
        return;
    }
    std::set<std::string> sessions;
    for (const auto& [connection, attachment] : k.attached)
    {
        sessions.insert(attachment.first);
    }
    for (const auto& [session_id, waiting] : k.kept)
    {
        sessions.insert(session_id);
    }
    for (const auto& session_id : sessions)
    {
        tell_session(k, session_id,
                     make_reply("iopub", "status", "{}", {{"execution_state", "restarting"}}));
    }
    metric::kernel_restart("death");
    log::info("kernel restarting", {{"kernel", k.id}, {"cause", "death"}});
    k.lifecycle.move_to(lifecycle_state::restarting);
    try
    {
        launch(k, *spec);
    }
    catch (const std::exception& e)
    {
        log::error("kernel restart failed", {{"kernel", k.id}, {"error", e.what()}});
        k.lifecycle.move_to(lifecycle_state::dead);
        refuse_unanswered(k, "KernelDied", evalue + "; restarting it failed: " + e.what());
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

void kernel_manager::tell_session(kernel& k, const std::string& session_id, kernel_message message)
{
    tell_session(k, session_id, share_message(m_options.streams.budget.get(), std::move(message)));
}

void kernel_manager::tell_session(kernel& k, const std::string& session_id,
                                  const shared_message& message)
{
    bool delivered = false;
    for (const auto& [connection, attachment] : k.attached)
    {
        if (attachment.first == session_id && attachment.second(message))
        {
            delivered = true;
        }
    }
    const auto& streams = m_options.streams;
    if (delivered || session_id.empty() || streams.replay_timeout.count() <= 0)
    {
        return;
    }
    // A session the old kernel_io kept keeps its deadline (counted from its disconnect).
    auto it =
        k.kept
            .try_emplace(session_id,
                         kernel_io::kept_session{
                             replay_buffer(streams.replay_max_messages, streams.replay_max_bytes),
                             std::chrono::steady_clock::now() + streams.replay_timeout})
            .first;
    it->second.buffer.push(message);
}

void kernel_manager::forget(const std::string& id)
{
    if (m_kernels.erase(id) != 0 && m_on_removed)
    {
        m_on_removed(id);
    }
}

kernel_manager::kernel* kernel_manager::find(const std::string& id)
{
    const auto it = m_kernels.find(id);
    return it == m_kernels.end() ? nullptr : it->second.get();
}

nlohmann::json kernel_manager::model(const kernel& k) const
{
    return kernel_model(k);
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

void kernel_manager::on_execute_reply(const std::string& id, const std::string& msg_id,
                                      const std::string& status, const std::string& ename)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        return;
    }
    const auto seconds = k->requests.execute_answered(msg_id, std::chrono::steady_clock::now());
    if (!seconds)
    {
        return; // not an execute_request of ours (or already answered for a death)
    }
    metric::execution(status.empty() ? "error" : status, *seconds);
    if (ename == "CellTimeoutError")
    {
        metric::cell_timeout(false); // the kernel interrupted the cell itself, state kept
    }
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

kernel_manager::kernel* kernel_manager::find(const std::string& id, const identity& who)
{
    kernel* k = find(id);
    return k != nullptr && (who.admin || k->owner == who.user) ? k : nullptr;
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

user_registry::home kernel_manager::home_of(const identity& who)
{
    m_users.limit_disk(who.user, who.limits.disk_bytes); // the latest token decides
    return m_users.home_of(who.user);
}

void kernel_manager::shutdown_all()
{
    for (auto& [id, k] : m_kernels)
    {
        if (k->launcher > 0)
        {
            kill(k->launcher, SIGTERM);
        }
    }
    // Zygote sessions: their pools stop them and wait until they are gone.
    for (auto& [name, pool] : m_pools)
    {
        pool->on_session_exit = nullptr;
        pool->stop();
    }
    for (auto& [name, pool] : m_launch_pools)
    {
        pool->stop();
    }
    for (auto& [id, k] : m_kernels)
    {
        log::info("kernel shut down", {{"kernel", id}});
        if (k->launcher > 0 && !k->from_zygote)
        {
            for (int i = 0; i < 40 && waitpid(k->launcher, nullptr, WNOHANG) == 0; ++i)
            {
                usleep(50000);
            }
            kill(k->launcher, SIGKILL);
            waitpid(k->launcher, nullptr, 0);
        }
        k->io.reset();
        std::error_code ignored;
        fs::remove_all(k->directory, ignored);
    }
    m_kernels.clear();
}

} // namespace cellbox::gateway
