// The kernel manager's side of hibernation: a kernel's namespace saved by the kernel itself
// (kernel/python/cellbox_hibernate.py, asked by a silent execute_request) into its exchange
// directory, moved into the state directory, its process stopped; on the first request that
// needs it, a process from the backends (a pool hit when there is one), the image copied in
// and restored, then the requests that waited. The gateway never unpickles an image.
//
// Why a silent execute_request and not a comm: every IPython kernel answers it without
// anything registered first, `silent` keeps it out of the user's outputs and execution count,
// `store_history: false` out of In/history, and its execute_reply says whether it worked.
#include "cellbox/bounded_json.hpp"
#include "kernels/image_handover.hpp"
#include "kernels/kernel_manager.hpp"
#include "protocol/message_builder.hpp"
#include "protocol/message_fields.hpp"
#include "streams/kernel_client.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/post.hpp>
#include <tuple>

namespace cellbox::gateway
{
namespace
{

double seconds_since(std::chrono::steady_clock::time_point start)
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "a, b (why), ..." of a manifest's not_saved object, for the user's SessionRestoreError.
std::string not_saved_text(const nlohmann::json& manifest)
{
    const auto it = manifest.find("not_saved");
    if (it == manifest.end() || !it->is_object() || it->empty())
    {
        return "nothing";
    }
    std::string text;
    for (const auto& [name, why] : it->items())
    {
        text += (text.empty() ? "" : "; ") + name + " (" +
                (why.is_string() ? why.get<std::string>() : "?") + ")";
    }
    return text;
}

} // namespace

void kernel_manager::ask_silently(kernel& k, const std::string& code, silent_handler done)
{
    const std::uint64_t connection = next_connection_id();
    const std::string session = "cellbox-hibernation-" + std::to_string(connection);
    kernel_message request = make_request("shell", "execute_request",
                                          {{"code", code},
                                           {"silent", true},
                                           {"store_history", false},
                                           {"user_expressions", nlohmann::json::object()},
                                           {"allow_stdin", false},
                                           {"stop_on_error", false}},
                                          session);
    // No cell time limit in the kernel: the gateway's hibernate_timeout bounds it.
    request.metadata = R"({"cellbox":{"timeout":0}})";
    const std::string msg_id = string_field(parse_json_bounded(request.header), "msg_id");
    const std::string id = k.id;
    const std::uint64_t serial = k.launch_serial;
    auto finished = std::make_shared<bool>(false);
    auto timer = std::make_shared<boost::asio::steady_timer>(m_io, m_options.hibernate_timeout);
    auto finish = [this, id, serial, connection, finished, timer, done](const std::string& error)
    {
        if (std::exchange(*finished, true))
        {
            return;
        }
        timer->cancel();
        kernel* k = find(id);
        if (k != nullptr && k->io)
        {
            k->io->detach(connection);
        }
        done(k != nullptr && k->launch_serial == serial ? k : nullptr, error);
    };
    // On the kernel's I/O thread: only the reply matters, handled on the manager's thread.
    k.io->attach(connection, session,
                 [this, msg_id, finish](const shared_message& message)
                 {
                     if (message->channel != "shell")
                     {
                         return true;
                     }
                     const auto parent = parse_json_bounded(message->parent_header);
                     if (string_field(parent, "msg_id") != msg_id)
                     {
                         return true;
                     }
                     const auto content = parse_json_bounded(message->content);
                     std::string error;
                     if (string_field(content, "status") != "ok")
                     {
                         error = string_field(content, "ename") + ": " +
                                 string_field(content, "evalue");
                     }
                     boost::asio::post(m_io, [finish, error] { finish(error); });
                     return true;
                 });
    k.io->send(connection, std::move(request));
    timer->async_wait(
        [finish](const boost::system::error_code& error)
        {
            if (!error)
            {
                finish("the kernel did not answer in time");
            }
        });
}

void kernel_manager::on_image_thread(std::function<void()> work,
                                     std::function<void(std::string error)> then)
{
    boost::asio::post(m_image_thread,
                      [this, alive = std::weak_ptr<bool>(m_alive), work = std::move(work),
                       then = std::move(then)]() mutable
                      {
                          std::string error;
                          try
                          {
                              work();
                          }
                          catch (const std::exception& e)
                          {
                              error = e.what();
                          }
                          if (alive.expired())
                          {
                              return;
                          }
                          boost::asio::post(m_io,
                                            [alive, then = std::move(then), error]
                                            {
                                                if (!alive.expired())
                                                {
                                                    then(error);
                                                }
                                            });
                      });
}

std::uint64_t kernel_manager::image_bytes_of(const std::string& owner) const
{
    std::uint64_t bytes = 0;
    for (const auto& [id, k] : m_kernels)
    {
        bytes += k->owner == owner ? k->image_bytes : 0;
    }
    return bytes;
}

void kernel_manager::hibernate(const std::string& id, hibernate_handler done)
{
    // A client may ask as soon as it sees its cell's idle status: the execute_reply comes on
    // another socket (shell), in no fixed order with iopub's status, and until the gateway has
    // read it the kernel still counts a cell pending. So a kernel that is finishing gets a
    // moment to become idle; one running a longer cell is refused after it (409).
    hibernate_when_idle(id, std::chrono::steady_clock::now() + std::chrono::seconds(2),
                        std::move(done));
}

void kernel_manager::hibernate_when_idle(const std::string& id,
                                         std::chrono::steady_clock::time_point deadline,
                                         hibernate_handler done)
{
    kernel* k = find(id);
    const bool busy =
        k != nullptr && k->lifecycle.is(lifecycle_state::ready) && k->ready && running_a_cell(*k);
    if (!busy)
    {
        save_image(id, false, std::move(done));
        return;
    }
    // One waiting request per kernel: a second one replaces the first's timer, and the first
    // is answered at once (as without the wait). The kernel's reply and idle status end the
    // wait early (wake_hibernate_wait); at the deadline, a cell still running is refused.
    k->hibernate_wait = std::make_unique<boost::asio::steady_timer>(m_io, deadline);
    k->hibernate_wait->async_wait([this, id, done = std::move(done)](boost::system::error_code)
                                  { save_image(id, false, std::move(done)); });
}

void kernel_manager::save_image(const std::string& id, bool keep_running, hibernate_handler done)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        done("no such kernel", false, {});
        return;
    }
    if (k->lifecycle.is(lifecycle_state::hibernated))
    {
        done("", false, m_images.manifest(id));
        return;
    }
    if (m_images.directory().empty())
    {
        done("hibernation is off: the gateway has no state_dir", true, {});
        return;
    }
    if (!k->lifecycle.is(lifecycle_state::ready) || !k->ready || !k->io || !k->process ||
        running_a_cell(*k))
    {
        done(std::string("the kernel is ") + k->lifecycle.model_state(k->execution_state) +
                 ": only an idle running kernel can hibernate",
             true, {});
        return;
    }
    // Its own last checkpoint is replaced, so it does not count.
    const std::uint64_t used = image_bytes_of(k->owner) - k->image_bytes;
    const std::uint64_t limit = m_options.hibernate_max_bytes;
    if (limit != 0 && used >= limit)
    {
        done("the user's hibernated kernels hold " + std::to_string(used) +
                 " bytes of images already, the limit (hibernate_max_bytes)",
             true, {});
        return;
    }
    const std::uint64_t room = limit == 0 ? 0 : limit - used;
    k->lifecycle.move_to(lifecycle_state::hibernating);
    k->quiet_until = std::chrono::steady_clock::time_point::max();
    k->ready = false; // requests wait from now on: for this process, or for the next one
    const std::string exchange = ipc_dir_of(k->process->directory());
    const auto started = std::chrono::steady_clock::now();
    log::info("kernel hibernating", {{"kernel", id}});
    ask_silently(
        *k,
        "__import__('cellbox_hibernate').hibernate(" + nlohmann::json(exchange).dump() + ", " +
            std::to_string(room) + ")",
        [this, id, exchange, room, started, keep_running, done,
         active = std::make_pair(k->active_at, k->last_activity)](kernel* k, std::string error)
        {
            if (k != nullptr)
            {
                // The gateway's own messages are not the user's activity: they must
                // not postpone culling (the last ones arrive a moment later).
                std::tie(k->active_at, k->last_activity) = active;
                k->quiet_until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            }
            if (!still_hibernating(k, done))
            {
                return;
            }
            if (!error.empty())
            {
                hibernation_failed(*k, error, done);
                return;
            }
            auto image = std::make_shared<hibernation_store::taken>();
            on_image_thread([store = m_images, exchange, id, room, image]
                            { *image = store.take(exchange, id, room == 0 ? UINT64_MAX : room); },
                            [this, id, started, keep_running, done, image](const std::string& error)
                            {
                                kernel* k = find(id);
                                if (!still_hibernating(k, done))
                                {
                                    // Its image moved meanwhile: it goes too (unless it replaced
                                    // a checkpoint the kernel still counts on).
                                    if (k == nullptr || k->image_bytes == 0)
                                    {
                                        m_images.remove(id);
                                    }
                                    return;
                                }
                                if (!error.empty())
                                {
                                    hibernation_failed(*k, error, done);
                                    return;
                                }
                                image_saved(*k, *image, started, keep_running, done);
                            });
        });
}

bool kernel_manager::still_hibernating(kernel* k, const hibernate_handler& done)
{
    if (k != nullptr && k->lifecycle.is(lifecycle_state::hibernating))
    {
        return true;
    }
    // Shut down, or died (its death was handled): nothing to save any more.
    metric::hibernation_failure("hibernate");
    done("the kernel stopped while it hibernated", true, {});
    return false;
}

void kernel_manager::hibernation_failed(kernel& k, const std::string& error,
                                        const hibernate_handler& done)
{
    log::warn("kernel hibernation failed", {{"kernel", k.id}, {"error", error}});
    metric::hibernation_failure("hibernate");
    k.lifecycle.move_to(lifecycle_state::ready);
    k.ready = true;
    release_held(k);
    done("the kernel could not hibernate: " + error, true, {});
}

void kernel_manager::image_saved(kernel& k, const hibernation_store::taken& image,
                                 std::chrono::steady_clock::time_point started, bool keep_running,
                                 const hibernate_handler& done)
{
    k.image_bytes = image.bytes;
    if (keep_running)
    {
        // A checkpoint: what a SIGKILL of the gateway would fall back on.
        k.lifecycle.move_to(lifecycle_state::ready);
        k.ready = true;
        persist_now();
        release_held(k);
        log::info("kernel checkpointed", {{"kernel", k.id},
                                          {"image_bytes", image.bytes},
                                          {"ms", seconds_since(started) * 1000}});
        done("", false, image.manifest);
        return;
    }
    k.lifecycle.move_to(lifecycle_state::hibernated);
    persist_now();
    stop_io(k); // requests wait for the next process
    k.process->terminate();
    metric::hibernation(seconds_since(started));
    log::info(
        "kernel hibernated",
        {{"kernel", k.id}, {"image_bytes", image.bytes}, {"ms", seconds_since(started) * 1000}});
    done("", false, image.manifest);
}

void kernel_manager::resume(kernel& k)
{
    if (k.process || !k.lifecycle.move_to(lifecycle_state::starting))
    {
        return; // its hibernated process is still exiting: its exit resumes it
    }
    k.resuming = true;
    k.resume_started = std::chrono::steady_clock::now();
    log::info("kernel resuming", {{"kernel", k.id}, {"image_bytes", k.image_bytes}});
    try
    {
        launch(k);
    }
    catch (const std::exception& e)
    {
        k.resuming = false;
        launch_failed(k, std::string("resuming the hibernated kernel failed: ") + e.what());
    }
}

void kernel_manager::restore_image(kernel& k)
{
    const std::string exchange = ipc_dir_of(k.process->directory());
    k.resume_process_ms = seconds_since(k.resume_started) * 1000;
    const auto handover_started = std::chrono::steady_clock::now();
    // Without a copy when the sandbox cannot write the store's file: the kernel maps it from a
    // read-only descriptor (image_handover.hpp); only the small manifest is copied, here.
    hibernation_store::mappable image;
    try
    {
        image = m_images.open_for_mapping(k.id, exchange);
    }
    catch (const std::exception& e)
    {
        restore_failed(k, e.what());
        return;
    }
    std::shared_ptr<image_handover> handover;
    if (image.image)
    {
        try
        {
            m_images.give(k.id, exchange, false);
            handover = image_handover::offer(m_io, std::move(image.image), exchange, image.owner,
                                             image.group);
        }
        catch (const std::exception& e)
        {
            log::warn("image handover impossible, the image is copied",
                      {{"kernel", k.id}, {"error", e.what()}});
        }
    }
    if (handover)
    {
        k.resume_handover_ms = seconds_since(handover_started) * 1000;
        ask_restore(k, exchange, std::move(handover));
        return;
    }
    on_image_thread([store = m_images, id = k.id, exchange] { store.give(id, exchange); },
                    [this, id = k.id, serial = k.launch_serial, exchange,
                     handover_started](const std::string& error)
                    {
                        kernel* k = find(id);
                        if (k == nullptr || !k->resuming || k->launch_serial != serial ||
                            !k->process)
                        {
                            return; // shut down, or its process went: handled there
                        }
                        if (!error.empty())
                        {
                            restore_failed(*k, error);
                            return;
                        }
                        k->resume_handover_ms = seconds_since(handover_started) * 1000;
                        ask_restore(*k, exchange, nullptr);
                    });
}

void kernel_manager::ask_restore(kernel& k, const std::string& exchange,
                                 std::shared_ptr<image_handover> handover)
{
    const auto asked = std::chrono::steady_clock::now();
    ask_silently(
        k, "__import__('cellbox_hibernate').restore(" + nlohmann::json(exchange).dump() + ")",
        // The handover lives until the kernel answers (its socket goes then, taken or not).
        [this, asked, handover = std::move(handover)](kernel* k, const std::string& error)
        {
            if (k == nullptr || !k->resuming)
            {
                return; // its process exited meanwhile: hibernation_exit handled it
            }
            if (!error.empty())
            {
                restore_failed(*k, error);
                return;
            }
            k->resuming = false;
            m_images.remove(k->id);
            k->image_bytes = 0;
            persist_now();
            metric::restore(seconds_since(k->resume_started));
            // Where a resume's time goes: a process (a pool hit, or a launch), the image handed
            // to it, the kernel's restore (round trip included).
            log::info("kernel restored", {{"kernel", k->id},
                                          {"ms", seconds_since(k->resume_started) * 1000},
                                          {"process_ms", k->resume_process_ms},
                                          {"handover_ms", k->resume_handover_ms},
                                          {"mapped", handover != nullptr},
                                          {"restore_ms", seconds_since(asked) * 1000}});
            serve(*k);
        });
}

void kernel_manager::restore_failed(kernel& k, const std::string& why)
{
    log::warn("kernel restore failed", {{"kernel", k.id}, {"error", why}});
    metric::hibernation_failure("restore");
    k.resuming = false;
    k.restore_failure = "the kernel's saved state could not be restored (" + why +
                        "); this is a fresh kernel without its variables. Not saved at "
                        "hibernation: " +
                        not_saved_text(m_images.manifest(k.id));
    m_images.remove(k.id);
    persist_now();
    k.image_bytes = 0;
    // A fresh process: the one that failed may hold part of the image, or worse.
    restart(k.id, [](bool) {});
}

bool kernel_manager::hibernation_exit(kernel& k)
{
    if (k.lifecycle.is(lifecycle_state::hibernated))
    {
        log::info("hibernated kernel's process stopped", {{"kernel", k.id}});
        for (auto& waiter : std::exchange(k.exit_waiters, {}))
        {
            waiter();
        }
        if (k.requests.held_count() != 0)
        {
            resume(k); // requests came while it saved
        }
        return true;
    }
    if (k.resuming && k.exit_waiters.empty())
    {
        k.resuming = false;
        k.restore_failure = "the kernel's process exited while it restored the saved state; "
                            "this is a fresh kernel without its variables";
        log::warn("kernel restore failed",
                  {{"kernel", k.id}, {"error", "the process exited while it restored"}});
        metric::hibernation_failure("restore");
        m_images.remove(k.id);
        persist_now();
        k.image_bytes = 0;
        try
        {
            launch(k);
        }
        catch (const std::exception& e)
        {
            launch_failed(k, std::string("starting a fresh kernel failed: ") + e.what());
        }
        return true;
    }
    return false;
}

void kernel_manager::cull(const std::string& id)
{
    kernel* k = find(id);
    if (k == nullptr)
    {
        return;
    }
    if (m_options.cull_action != "hibernate" || k->lifecycle.is(lifecycle_state::dead))
    {
        shutdown(id, [] {});
        return;
    }
    hibernate(
        id,
        [this, id](const std::string& error, bool, const nlohmann::json&)
        {
            if (!error.empty())
            {
                log::info("culled kernel shut down instead", {{"kernel", id}, {"why", error}});
                shutdown(id, [] {});
            }
        });
}

} // namespace cellbox::gateway
