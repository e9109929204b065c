// The kernel manager's side of gateway restarts: the kernel records kept in the state
// directory (kernels/kernel_records.hpp), loaded at start-up (hibernated kernels come back
// under their ids, the others are explained as lost), and a graceful stop that hibernates
// every kernel it can first.
#include "kernels/kernel_manager.hpp"
#include "protocol/message_builder.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/post.hpp>

namespace cellbox::gateway
{
namespace
{

// A SIGTERM's hibernations must end before a service manager's kill (systemd waits 90 s by
// default, container runtimes 10 s); what is not saved by then is recorded as lost.
constexpr std::chrono::seconds stop_hibernate_timeout{8};

} // namespace

void kernel_manager::load_records()
{
    if (m_images.directory().empty())
    {
        return;
    }
    kernel_records records = load_kernel_records(m_images.directory());
    m_lost = std::move(records.lost);
    for (const auto& saved : records.kernels)
    {
        if (!saved.hibernated || !m_images.has(saved.id) || m_specs.find(saved.name) == nullptr)
        {
            m_lost[saved.id] = {saved.owner,
                                saved.hibernated
                                    ? "its saved state or its kernelspec is gone"
                                    : "the gateway stopped without hibernating it (it was killed "
                                      "or crashed, or the kernel was busy); its variables are "
                                      "lost"};
            m_images.remove(saved.id);
            continue;
        }
        auto record = std::make_unique<kernel>();
        record->id = saved.id;
        record->name = saved.name;
        record->owner = saved.owner;
        record->memory_bytes = saved.memory_bytes != 0 ? saved.memory_bytes : m_memory_bytes;
        record->cell_timeout_s = saved.cell_timeout_s;
        record->cell_timeout_cap_s = saved.cell_timeout_cap_s;
        record->env = saved.env;
        record->image_bytes = m_images.size_of(saved.id);
        record->lifecycle.move_to(lifecycle_state::hibernated);
        record->execution_state = "hibernated";
        touch(*record);
        log::info("hibernated kernel loaded", {{"kernel", saved.id}, {"owner", saved.owner}});
        m_kernels[saved.id] = std::move(record);
    }
    persist();
}

void kernel_manager::persist(bool stopping)
{
    if (m_images.directory().empty())
    {
        return;
    }
    kernel_records records;
    records.lost = m_lost;
    for (const auto& [id, k] : m_kernels)
    {
        // A running kernel with a checkpoint comes back from it.
        const bool hibernated =
            k->lifecycle.is(lifecycle_state::hibernated) || (k->image_bytes != 0 && !k->resuming);
        if (stopping && !hibernated)
        {
            records.lost[id] = {k->owner, "it was " + k->lifecycle.model_state(k->execution_state) +
                                              " when the gateway stopped and could not be "
                                              "hibernated; its variables are lost"};
            continue;
        }
        records.kernels.push_back({k->id, k->name, k->owner, k->memory_bytes, k->cell_timeout_s,
                                   k->cell_timeout_cap_s, k->env, hibernated});
    }
    m_state_files->write(records_path(m_images.directory()), encode_kernel_records(records));
    if (stopping)
    {
        m_state_files->flush();
    }
}

void kernel_manager::persist_now()
{
    persist();
    m_state_files->flush();
}

void kernel_manager::after_persisted(std::function<void()> then)
{
    m_state_files->when_written(
        [&io = m_io, alive = std::weak_ptr<bool>(m_alive), then = std::move(then)]
        {
            boost::asio::post(io,
                              [alive, then]
                              {
                                  if (alive.lock())
                                  {
                                      then();
                                  }
                              });
        });
}

std::optional<std::string> kernel_manager::lost_reason(const std::string& id,
                                                       const identity& who) const
{
    const auto it = m_lost.find(id);
    if (it == m_lost.end() || (!who.admin && it->second.owner != who.user))
    {
        return std::nullopt; // another user's id is not confirmed
    }
    return "Kernel " + id + " was lost: " + it->second.reason;
}

void kernel_manager::hibernate_all(std::function<void()> done)
{
    std::vector<std::string> ids;
    for (const auto& [id, k] : m_kernels)
    {
        if (k->lifecycle.is(lifecycle_state::ready))
        {
            ids.push_back(id);
        }
    }
    if (ids.empty() || m_images.directory().empty())
    {
        done();
        return;
    }
    log::info("hibernating every kernel before stopping", {{"kernels", ids.size()}});
    struct progress
    {
        std::size_t left;
        std::function<void()> done;
        boost::asio::steady_timer timer;
    };
    auto state = std::make_shared<progress>(
        progress{ids.size(), std::move(done), boost::asio::steady_timer(m_io)});
    auto finish = [state]
    {
        if (state->done)
        {
            state->timer.cancel();
            std::exchange(state->done, nullptr)();
        }
    };
    state->timer.expires_after(stop_hibernate_timeout);
    state->timer.async_wait(
        [finish](const boost::system::error_code& error)
        {
            if (!error)
            {
                log::warn("stopping before every kernel hibernated", {});
                finish();
            }
        });
    for (const auto& id : ids)
    {
        hibernate(
            id,
            [id, state, finish](const std::string& error, bool, const nlohmann::json&)
            {
                if (!error.empty())
                {
                    log::warn("kernel not hibernated at stop", {{"kernel", id}, {"why", error}});
                }
                if (--state->left == 0)
                {
                    finish();
                }
            });
    }
}

void kernel_manager::schedule_checkpoints()
{
    if (m_options.checkpoint_interval_s <= 0 || m_images.directory().empty())
    {
        return;
    }
    if (!m_checkpoints)
    {
        m_checkpoints = std::make_unique<boost::asio::steady_timer>(m_io);
    }
    m_checkpoints->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(m_options.checkpoint_interval_s)));
    m_checkpoints->async_wait(
        [this](const boost::system::error_code& error)
        {
            if (!error)
            {
                checkpoint_all();
                schedule_checkpoints();
            }
        });
}

void kernel_manager::checkpoint_all()
{
    for (const auto& entry : m_kernels)
    {
        // A copy: a lambda cannot capture a structured binding in C++17 (clang refuses it).
        const std::string id = entry.first;
        kernel* k = entry.second.get();
        // Only kernels that clients sent something since their last image.
        if (k->lifecycle.is(lifecycle_state::ready) && k->execution_state == "idle" &&
            (k->image_bytes == 0 || k->client_requests != k->checkpointed_requests))
        {
            k->checkpointed_requests = k->client_requests;
            save_image(id, true,
                       [id](const std::string& error, bool, const nlohmann::json&)
                       {
                           if (!error.empty())
                           {
                               log::warn("checkpoint failed", {{"kernel", id}, {"why", error}});
                           }
                       });
        }
    }
}

} // namespace cellbox::gateway
