// The kernel manager's side of clients' messages: attaching clients, sending their requests
// (with the cell's time limit), holding them between two processes, answering for a kernel
// that cannot (restarting, dead), and keeping what a disconnected session missed.
#include "cellbox/bounded_json.hpp"
#include "kernels/kernel_manager.hpp"
#include "protocol/message_builder.hpp"
#include "protocol/message_fields.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

namespace cellbox::gateway
{

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
    if (k->lifecycle.is(lifecycle_state::hibernated))
    {
        resume(*k); // a client connected: it will want the kernel
    }
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
        // subscribed: outputs would be lost), or hibernated (this request resumes it).
        hold(*k, connection, std::move(message));
        return;
    }
    ++k->client_requests;
    if (message.channel == "shell")
    {
        const auto header = parse_json_bounded(message.header);
        if (string_field(header, "msg_type") == "execute_request" && !k->restore_failure.empty())
        {
            // The first cell after a failed restore: the user learns the state is gone.
            const auto attachment = k->attached.find(connection);
            answer_with_error(
                *k, attachment != k->attached.end() ? attachment->second.first : std::string(),
                message, "SessionRestoreError", std::exchange(k->restore_failure, {}));
            return;
        }
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
    if (k.lifecycle.is(lifecycle_state::hibernated))
    {
        resume(k);
    }
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

} // namespace cellbox::gateway
