#pragma once
// The kernels a gateway runs: their records, their lifecycle (start, restart, shut down,
// death), their clients' traffic. Where processes run is the backends' business
// (backends/kernel_backend.hpp): the manager sees kernel_process objects, never pids.
// Implemented in three files: kernel_manager.cpp (the public calls), kernel_processes.cpp
// (launching through the backends, connecting, exits and deaths), kernel_traffic.cpp
// (attaching clients, sending, holding and answering requests).
#include "auth/identity.hpp"
#include "backends/kernel_backend.hpp"
#include "backends/work_quota.hpp"
#include "kernels/culler.hpp"
#include "kernels/execution_tracker.hpp"
#include "kernels/hibernation_store.hpp"
#include "kernels/kernel_lifecycle.hpp"
#include "kernels/kernel_record.hpp"
#include "kernels/kernel_records.hpp"
#include "kernels/kernel_request.hpp"
#include "kernels/kernelspec_catalog.hpp"
#include "kernels/state_file_writer.hpp"
#include "kernels/user_registry.hpp"
#include "streams/kernel_io.hpp"
#include "streams/stream_options.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>
#include <zmq.hpp>

namespace cellbox::gateway
{

class image_handover;

struct manager_options
{
    std::string sandbox_program;         // cellbox-sandbox
    bool sandbox_allow_degraded = false; // run without a protection the policy requires
    std::string memory_limit = "1G";     // per kernel, enforced by the sandbox's cgroup
    bool restart_on_death = true;        // restart a kernel that died on its own
    double cell_timeout_s = 30;          // default per-cell limit (0: none); requests may lower it
    double cell_timeout_cap_s = 0;       // the most a request may ask for (0: no cap)
    std::chrono::milliseconds kill_grace{3000}; // after the soft limit, before the hard kill
    std::string runtime_dir;                    // kernels' private directories
    std::string work_dir;          // users' persistent directories: WORK/users/NAME at /work
    work_quota_options work_quota; // each user's /work: a filesystem of this size
    int first_user_uid = 200000;   // sandbox uids of users, in order of appearance
    int max_kernels = 1024;        // on the whole server, starting ones included (0: none)
    int max_kernels_per_user = 16; // per token user; the admin is exempt (0: none)
    std::chrono::seconds start_timeout{60};
    stream_options streams; // replay buffers, output cap, iopub rate limits
    // Instant sessions for kernelspecs whose kernel.json has metadata.cellbox.zygote: this
    // many pre-forked sessions each (0: every kernel is launched through cellbox-sandbox).
    std::size_t pool_size = 4;
    std::string pool_warm_modules = "numpy,pandas,matplotlib";
    // After bursts of starts a pool keeps as many sessions as were started in the last
    // pool_window_s seconds, up to pool_max (pool_size: a fixed pool) and within free memory.
    std::size_t pool_max = 32;
    double pool_window_s = 60;
    // Other kernelspecs (ipykernel...): this many sandboxed kernels launched ahead each, bound
    // to their user when taken (0: every kernel is launched on demand). Needs a root gateway.
    std::size_t launch_pool_size = 1;
    // As pool_max for those: up to this many after bursts of takes (0: launch_pool_size, a
    // fixed pool; each one is a whole interpreter, tens of MiB and half a second of CPU).
    std::size_t launch_pool_max = 0;
    // Idle culling, as jupyter_server's MappingKernelManager: a kernel without activity for
    // cull_idle_timeout_s (0: never) is shut down, checked every cull_interval_s. Kernels with
    // WebSocket connections or a running cell are spared unless cull_connected / cull_busy.
    double cull_idle_timeout_s = 0;
    double cull_interval_s = 300;
    bool cull_connected = false;
    bool cull_busy = false;
    // What culling does to an idle kernel: "hibernate" (its namespace saved, its process
    // stopped, resumed on the next request) or "shutdown" (deleted, as jupyter_server).
    std::string cull_action = "hibernate";
    // Hibernation images (kernels/hibernation_store.hpp): where (empty: no hibernation), how
    // many bytes of images one user may have (0: no limit), how long saving or restoring may
    // take before it counts as failed.
    std::string state_dir;
    std::uint64_t hibernate_max_bytes = 4ull << 30;
    std::chrono::seconds hibernate_timeout{300};
    double checkpoint_interval_s = 0; // 0: no checkpoints
};

// The running kernels. Lives on the server's io_context thread; kernel_io threads report
// back by posting to it.
class kernel_manager
{
public:
    // One kernel, as the manager keeps it (kernels/kernel_record.hpp).
    using kernel = kernel_record;
    using start_handler = std::function<void(std::optional<std::string> id, std::string error)>;

    kernel_manager(boost::asio::io_context& io, const kernelspec_catalog& specs,
                   manager_options options);
    ~kernel_manager();

    // Why `who` may not start another kernel now (quota, global max), or nothing. Kernels
    // still starting count; check and start() in the same handler, so none slips past.
    std::optional<std::string> admission_error(const identity& who) const;
    // Starts a kernel owned by `who` and calls `done` once it answers (or failed / timed out).
    // `env`: KERNEL_* variables already checked by validate_kernel_env.
    void start(const std::string& name, const identity& who, std::map<std::string, std::string> env,
               start_handler done);
    void shutdown(const std::string& id, std::function<void()> done);
    void restart(const std::string& id, std::function<void(bool)> done);
    bool interrupt(const std::string& id);
    // Hibernation (kernel_hibernation.cpp): saves the kernel's namespace into the state
    // directory and stops its process; the first request that needs it resumes it. `done`:
    // an empty error and the kernel's manifest (saved, not_saved and why), or why not (then
    // the kernel runs on as before). `conflict` tells a kernel in the wrong state for it.
    using hibernate_handler =
        std::function<void(std::string error, bool conflict, nlohmann::json manifest)>;
    void hibernate(const std::string& id, hibernate_handler done);
    // Every checkpoint_interval: idle kernels active since their last image saved again,
    // their processes kept (a fallback for a SIGKILL of the gateway).
    void checkpoint_all();
    // A graceful stop (SIGTERM): every idle kernel hibernated, then `done` (within
    // stop_hibernate_timeout however many are left); shutdown_all records the rest as lost.
    void hibernate_all(std::function<void()> done);
    // Why the kernel `id` of `who` (its owner, or the admin) is gone for good, if it was one
    // of an earlier gateway's that could not be saved; nothing for an unknown id.
    std::optional<std::string> lost_reason(const std::string& id, const identity& who) const;

    // WebSocket connections (the deliver function runs on the kernel's I/O thread).
    bool attach(const std::string& id, std::uint64_t connection, const std::string& session_id,
                kernel_io::deliver_fn deliver);
    // `undelivered`: what the connection had taken but not sent, for the session's replay.
    void detach(const std::string& id, std::uint64_t connection,
                std::vector<shared_message> undelivered = {});
    void send(const std::string& id, std::uint64_t connection, kernel_message message);

    kernel* find(const std::string& id);
    // The kernel if `who` may see it (its owner, or the admin): others' kernels do not exist.
    kernel* find(const std::string& id, const identity& who);
    nlohmann::json model(const kernel& k) const;
    nlohmann::json list(const identity& who) const;
    // How many kernels are in each execution_state of their model (for /api/status and
    // /metrics).
    std::map<std::string, int> count_by_state() const;
    // Each pool's kernelspec, kind, ready sessions and size (for /api/status).
    nlohmann::json pools() const;
    // Users' homes and their /work usage (for /api/status).
    const user_registry& users() const { return m_users; }
    // Where the gateway keeps what outlives it (empty: nowhere).
    const std::string& state_dir() const { return m_images.directory(); }
    // The thread that writes the state directory's files (the sessions' registry's too).
    std::shared_ptr<state_file_writer> state_files() const { return m_state_files; }
    // The caller's /work on the host, made and mounted if it is not yet (with the disk quota
    // of the caller's token), for the contents API. Throws std::runtime_error as home_of.
    user_registry::home home_of(const identity& who);

    // How messages flow to clients; its budget is the gateway's stream memory budget.
    const stream_options& streams() const { return m_options.streams; }
    // `observer` is called with a kernel's id when its record goes (shut down, culled, failed
    // to start), so that what others keep about it (its sessions) goes too.
    void on_removed(std::function<void(const std::string& id)> observer)
    {
        m_on_removed = std::move(observer);
    }

    // A child of the gateway ended (from the server's SIGCHLD handling): its backend says
    // whose it was.
    void on_exit(pid_t pid, int status);
    // Stops every kernel (server shutdown).
    void shutdown_all();

private:
    // Starts k's next process through the first backend that serves it.
    void launch(kernel& k);
    // Tries the backends from `first` on; throws if none could start it.
    void launch_from(kernel& k, std::size_t first);
    // A backend's answer for launch `serial` of kernel `id`: its process, or a miss or failure
    // (then the next backend).
    void launched(const std::string& id, std::uint64_t serial, std::size_t backend,
                  std::unique_ptr<kernel_process> process, const std::string& error);
    // The launch failed for good: the kernel is dead, with `why`.
    void launch_failed(kernel& k, const std::string& why);
    // The gateway's ZeroMQ side of a launched kernel.
    void connect(kernel& k);
    // After a reply that left nothing pending: idle if no status comes within a grace period.
    void watch_for_lost_idle(kernel& k, std::function<kernel*()> current);
    // A process a backend started has ended.
    void process_exited(const process_exit& exit);
    // The kernel died on its own (or we killed a stuck cell): explain it to every waiting
    // request, then restart it.
    void handle_death(kernel& k, const contract::decoded<contract::verdict>& verdict);
    // The process is gone: stops its kernel_io, keeping its sessions' buffers in k.kept.
    void stop_io(kernel& k);
    // A request for a kernel between two processes: held for the next one, or answered with
    // an error when there will be none (dead) or too many wait already.
    void hold(kernel& k, std::uint64_t connection, kernel_message message);
    // Sends the held requests to the process that just became ready.
    void release_held(kernel& k);
    // The kernel is dead for good: every request still waiting gets an error answer.
    void refuse_unanswered(kernel& k, const std::string& ename, const std::string& evalue);
    // Requests the last process took and did not answer (its cells, completions...).
    void answer_in_flight(kernel& k, const std::string& ename, const std::string& evalue);
    void answer_with_error(kernel& k, const std::string& session_id, const kernel_message& request,
                           const std::string& ename, const std::string& evalue);
    // To every live connection of the session, else kept for its reconnect (io is null).
    void tell_session(kernel& k, const std::string& session_id, kernel_message message);
    void tell_session(kernel& k, const std::string& session_id, const shared_message& message);
    void on_execute_started(const std::string& id, const std::string& msg_id);
    void mark_ready(const std::string& id);
    void on_execute_reply(const std::string& id, const std::string& msg_id,
                          const std::string& status, const std::string& ename);
    void touch(kernel& k);
    // Removes the kernel's record and tells the on_removed observer.
    void forget(const std::string& id);
    // Hibernation (kernel_hibernation.cpp). A hibernated kernel gets a process again, which
    // restores the image before anything else reaches it.
    void resume(kernel& k);
    // hibernate() once the kernel has no cell left, or at `deadline` (then refused if busy).
    void hibernate_when_idle(const std::string& id, std::chrono::steady_clock::time_point deadline,
                             hibernate_handler done);
    // hibernate(), or a checkpoint with `keep_running`: the image saved, the process kept.
    void save_image(const std::string& id, bool keep_running, hibernate_handler done);
    // Whether `k` (null: gone) is still hibernating; if not, `done` is told it stopped.
    bool still_hibernating(kernel* k, const hibernate_handler& done);
    // The kernel's image could not be saved: it runs on, and `done` says why.
    void hibernation_failed(kernel& k, const std::string& error, const hibernate_handler& done);
    // The image is in the store: the kernel hibernated (its process stopped), or checkpointed.
    void image_saved(kernel& k, const hibernation_store::taken& image,
                     std::chrono::steady_clock::time_point started, bool keep_running,
                     const hibernate_handler& done);
    // Its image is in its new process's exchange directory, or offered by `handover` (null
    // then): the kernel is asked to restore it.
    void ask_restore(kernel& k, const std::string& exchange,
                     std::shared_ptr<image_handover> handover);
    // Runs checkpoint_all every checkpoint_interval_s.
    void schedule_checkpoints();
    // Its new process answered: the image goes into its exchange directory and is restored.
    void restore_image(kernel& k);
    // The restore failed: the user's next cell is told so, and the kernel starts afresh.
    void restore_failed(kernel& k, const std::string& why);
    // Its process exited while it hibernated (expected) or restored (not): true if handled.
    bool hibernation_exit(kernel& k);
    // The kernels of the previous gateway on this state directory: the hibernated ones back
    // as hibernated kernels, the others remembered as lost.
    void load_records();
    // Queues the records (kernel_records.hpp) for the state file writer; the event loop
    // does not wait for the disk. `stopping`: kernels that are not hibernated are recorded as
    // lost, since they end with this gateway, and the write is waited for.
    void persist(bool stopping = false);
    // As persist, and waits for the write: a checkpoint or hibernation is reported (and a
    // gateway killed after that report finds it) only once its record is on disk. Rare, and
    // beside an image of megabytes written just before.
    void persist_now();
    // `then` on the manager's thread once every record queued so far is on disk (not if the
    // manager is gone by then).
    void after_persisted(std::function<void()> then);
    // The cull policy's action on an idle kernel.
    void cull(const std::string& id);
    // One silent execute_request (no history, no execution count) on a connection of the
    // gateway's own; `done` on the manager's thread with the kernel (null if it went or its
    // process changed) and an empty error or the kernel's ename and evalue.
    using silent_handler = std::function<void(kernel* k, const std::string& error)>;
    void ask_silently(kernel& k, const std::string& code, silent_handler done);
    // Moving an image (a copy of up to gigabytes, and an fsync) would hold up every other
    // kernel and request on the manager's thread: `work` runs on the image thread, then
    // `then` back on the manager's thread with what `work` threw ("" if nothing). Images move
    // one at a time, in order.
    void on_image_thread(std::function<void()> work, std::function<void(std::string error)> then);
    // Bytes of images `owner`'s hibernated kernels hold.
    std::uint64_t image_bytes_of(const std::string& owner) const;
    // The kernel took its process: ready, held requests released, waiters told.
    void serve(kernel& k);
    // What the culler sees of every kernel now.
    std::vector<std::pair<std::string, cull_view>> cull_survey() const;

    boost::asio::io_context& m_io;
    const kernelspec_catalog& m_specs;
    manager_options m_options;
    std::uint64_t m_memory_bytes;
    user_registry m_users;
    zmq::context_t m_zmq;
    // Where kernels run, in the order they are tried: the zygote pools, the launch pools,
    // then cellbox-sandbox on demand (backends/kernel_backend.hpp). Before m_kernels: their
    // processes refer to their backends.
    std::vector<std::unique_ptr<kernel_backend>> m_backends;
    std::map<std::string, std::unique_ptr<kernel>> m_kernels;
    hibernation_store m_images;
    // Shared with the sessions' registry (api/api_context.cpp): one writer thread for both.
    std::shared_ptr<state_file_writer> m_state_files = std::make_shared<state_file_writer>();
    std::map<std::string, lost_kernel> m_lost;
    std::unique_ptr<boost::asio::steady_timer> m_checkpoints;
    culler m_culler;
    std::function<void(const std::string& id)> m_on_removed;
    // Gone with the manager: image work that finishes later finds no manager to answer to.
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
    // Last: joined first, before anything its work refers to goes.
    boost::asio::thread_pool m_image_thread{1};
};

} // namespace cellbox::gateway
