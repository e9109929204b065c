#include "api/execution_runner.hpp"

#include "api/execution_registry.hpp"
#include "cellbox/bounded_json.hpp"
#include "protocol/connection_info.hpp"
#include "protocol/message_builder.hpp"
#include "protocol/message_fields.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace cellbox::gateway
{
namespace
{

namespace net = boost::asio;
using json = nlohmann::json;

// All executions of a kernel share one client session: the kernel_io keeps one set of
// sockets for it, however many executions come and go (a session per execution would keep
// three sockets and a replay buffer each for replay_timeout after it ended).
constexpr const char* execute_session = "cellbox-execute";

// An interrupt the cell has not answered this long after it is sent again, this many times
// in all.
constexpr auto reinterrupt_after = std::chrono::seconds(1);
constexpr int max_interrupts = 3;

std::size_t budget_of(const std::optional<std::size_t>& asked, std::size_t cap)
{
    return asked ? std::min(*asked, cap) : cap;
}

output_budget budget_for(const api_context& ctx, const execute_params& params)
{
    return output_budget(budget_of(params.max_output_bytes, ctx.options.execute_max_output_bytes),
                         budget_of(params.max_image_bytes, ctx.options.execute_max_image_bytes));
}

} // namespace

execution_runner::execution_runner(const std::shared_ptr<api_context>& ctx, std::string kernel_id,
                                   std::string user, execute_params params)
    : kernel_client(std::move(user), execute_session, ctx->options.ws_max_outbox_bytes), m_ctx(ctx),
      m_io(ctx->io), m_kernel_id(std::move(kernel_id)), m_params(std::move(params)),
      m_model(random_hex(16), random_hex(16), budget_for(*ctx, m_params)), m_grace(m_io),
      m_reinterrupt(m_io), m_expiry(m_io)
{
}

bool execution_runner::start()
{
    auto ctx = m_ctx.lock();
    if (!ctx)
    {
        return false;
    }
    std::weak_ptr<execution_runner> weak = shared_from_this();
    net::io_context& io = m_io;
    m_attached = ctx->kernels.attach(m_kernel_id, connection(), session_id(),
                                     deliverer(
                                         [weak, &io]
                                         {
                                             net::post(io,
                                                       [weak]
                                                       {
                                                           if (auto self = weak.lock())
                                                           {
                                                               self->drain();
                                                           }
                                                       });
                                         }));
    if (!m_attached)
    {
        return false;
    }
    if (m_params.stdin_lines)
    {
        // The kernel sends input_request on its stdin socket to this session's routing id,
        // and ZeroMQ drops it if the session's stdin socket, opened by the attach just now,
        // has not finished connecting. A kernel_info round trip on the session first gives it
        // that time.
        kernel_message probe =
            make_request("shell", "kernel_info_request", json::object(), session_id());
        m_probe_id = string_field(json::parse(probe.header), "msg_id");
        ctx->kernels.send(m_kernel_id, connection(), std::move(probe));
        return true;
    }
    send_cell(*ctx);
    return true;
}

void execution_runner::send_cell(api_context& ctx)
{
    json content = {{"code", m_params.code},
                    {"silent", false},
                    {"store_history", m_params.store_history},
                    {"user_expressions", json::object()},
                    {"allow_stdin", m_params.stdin_lines.has_value()},
                    {"stop_on_error", true}};
    kernel_message request = make_request("shell", "execute_request", content, session_id());
    json header = json::parse(request.header);
    header["msg_id"] = m_model.msg_id();
    header["username"] = user();
    request.header = header.dump();
    if (m_params.timeout)
    {
        // The kernel manager caps it (cell_limit) and enforces it softly, then hard: the same
        // path as a WebSocket client's metadata.cellbox.timeout.
        request.metadata = json{{"cellbox", {{"timeout", *m_params.timeout}}}}.dump();
    }
    ctx.kernels.send(m_kernel_id, connection(), std::move(request));
}

void execution_runner::watch(const std::weak_ptr<watcher>& w)
{
    m_watchers.erase(std::remove_if(m_watchers.begin(), m_watchers.end(),
                                    [](const auto& each) { return each.expired(); }),
                     m_watchers.end());
    m_watchers.push_back(w);
}

void execution_runner::drain()
{
    if (!m_attached)
    {
        return;
    }
    if (inbox().overflowed())
    {
        // The server's own thread fell behind this kernel's output by the outbox limit.
        m_model.end_died("OutputOverflow", "the gateway could not keep up with the cell's output");
        ended();
        return;
    }
    std::size_t bytes = 0;
    for (auto& entry : inbox().take())
    {
        bytes += message_bytes(*entry.message);
        on_kernel_message(*entry.message);
    }
    inbox().written(bytes, std::nullopt);
}

void execution_runner::on_kernel_message(const kernel_message& message)
{
    if (m_model.done())
    {
        return;
    }
    const message_info info = describe(message);
    if (!m_probe_id.empty() && message.channel == "shell" && info.parent_msg_id == m_probe_id)
    {
        m_probe_id.clear(); // any answer, even the gateway's error: the cell goes now
        if (auto ctx = m_ctx.lock())
        {
            send_cell(*ctx);
        }
        return;
    }
    if (info.parent_msg_id != m_model.msg_id())
    {
        return; // other clients' cells, or earlier executions of the shared session
    }
    if (message.channel == "stdin")
    {
        if (info.msg_type == "input_request")
        {
            answer_input(message);
        }
        return;
    }
    const bool changed = m_model.on_message(message);
    if (m_interrupt_pending && m_model.started() && !m_model.replied())
    {
        m_interrupt_pending = false;
        interrupt();
    }
    if (m_model.replied() && !m_model.done())
    {
        // From the execution's last message, not from its reply: its iopub may still be
        // arriving long after the reply (megabytes of output through a slow gateway), and
        // ending it then would lose output that was not lost.
        m_grace.expires_after(lost_idle_grace);
        m_grace.async_wait(
            [weak = weak_from_this()](const boost::system::error_code& error)
            {
                auto self = weak.lock();
                if (!error && self && !self->m_model.done())
                {
                    // lost_idle_grace (streams/stream_options.hpp) of silence after the
                    // reply.
                    log::warn("execution ended without its idle status: some output may be lost",
                              {{"kernel", self->m_kernel_id}, {"execution", self->id()}});
                    self->m_model.end_now();
                    self->ended();
                }
            });
    }
    if (!changed)
    {
        return;
    }
    if (m_model.done())
    {
        ended();
        return;
    }
    notify();
}

void execution_runner::answer_input(const kernel_message& request)
{
    auto ctx = m_ctx.lock();
    if (!ctx)
    {
        return;
    }
    // Past the given lines, input() reads an empty line, as at the end of a file.
    std::string line;
    if (m_params.stdin_lines && m_next_stdin < m_params.stdin_lines->size())
    {
        line = (*m_params.stdin_lines)[m_next_stdin++];
    }
    const auto content = parse_json_bounded(request.content);
    m_model.echo_input(content.is_object() ? string_field(content, "prompt") : std::string(), line);
    notify();
    kernel_message reply =
        make_request("stdin", "input_reply", {{"value", line}, {"status", "ok"}}, session_id());
    reply.parent_header = request.header;
    ctx->kernels.send(m_kernel_id, connection(), std::move(reply));
}

void execution_runner::notify()
{
    auto watchers = m_watchers; // a watcher may add or drop watchers while told
    for (const auto& w : watchers)
    {
        if (auto alive = w.lock())
        {
            alive->changed();
        }
    }
}

void execution_runner::ended()
{
    m_grace.cancel();
    m_reinterrupt.cancel();
    if (m_attached)
    {
        m_attached = false;
        if (auto ctx = m_ctx.lock())
        {
            ctx->kernels.detach(m_kernel_id, connection(), stop_taking());
        }
    }
    log::info("execution ended", {{"kernel", m_kernel_id},
                                  {"execution", id()},
                                  {"status", m_model.status()},
                                  {"user", user()}});
    notify();
    auto ctx = m_ctx.lock();
    if (!ctx)
    {
        return;
    }
    m_expiry.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(ctx->options.execution_keep_s)));
    m_expiry.async_wait(
        [weak_ctx = m_ctx, kernel = m_kernel_id, id = id()](const boost::system::error_code& error)
        {
            auto alive = weak_ctx.lock();
            if (!error && alive)
            {
                alive->executions->forget(kernel, id);
            }
        });
}

void execution_runner::interrupt()
{
    if (m_model.done())
    {
        return;
    }
    m_model.mark_interrupted();
    if (!m_model.started())
    {
        m_interrupt_pending = true;
        return;
    }
    send_interrupt();
}

void execution_runner::send_interrupt()
{
    auto ctx = m_ctx.lock();
    if (!ctx || m_model.replied())
    {
        return;
    }
    log::info("execution interrupted",
              {{"kernel", m_kernel_id}, {"execution", id()}, {"attempt", m_interrupts + 1}});
    ctx->kernels.interrupt(m_kernel_id);
    // The kernel takes SIGINT only while it runs code: one that lands between the cell's
    // execute_input and its first line is lost. Sent again while the cell has not answered.
    if (++m_interrupts >= max_interrupts)
    {
        return;
    }
    m_reinterrupt.expires_after(reinterrupt_after);
    m_reinterrupt.async_wait(
        [weak = weak_from_this()](const boost::system::error_code& error)
        {
            if (auto self = weak.lock(); self && !error)
            {
                self->send_interrupt();
            }
        });
}

void execution_runner::client_left()
{
    if (m_params.interrupt_on_disconnect)
    {
        interrupt();
    }
}

void execution_runner::kernel_removed()
{
    if (m_model.done())
    {
        return;
    }
    m_attached = false; // nothing left to detach from
    m_model.end_died("KernelDied", "the kernel was shut down while the cell ran");
    ended();
}

namespace
{

// Holds itself (and through it the execution) until the execution ends.
class done_watcher : public execution_runner::watcher,
                     public std::enable_shared_from_this<done_watcher>
{
public:
    done_watcher(std::shared_ptr<execution_runner> run, std::function<void(const execution&)> done,
                 std::function<void(const execution&)> on_change)
        : m_run(std::move(run)), m_done(std::move(done)), m_changed(std::move(on_change))
    {
    }
    void arm()
    {
        m_self = shared_from_this();
        m_run->watch(m_self);
        changed();
    }
    void changed() override
    {
        if (!m_done)
        {
            return;
        }
        if (m_run->model().done())
        {
            auto keep = std::move(m_self); // this may go with the last line
            std::exchange(m_done, nullptr)(m_run->model());
        }
        else if (m_changed)
        {
            m_changed(m_run->model());
        }
    }

private:
    std::shared_ptr<execution_runner> m_run;
    std::function<void(const execution&)> m_done;
    std::function<void(const execution&)> m_changed;
    std::shared_ptr<done_watcher> m_self;
};

} // namespace

void when_done(std::shared_ptr<execution_runner> run, std::function<void(const execution&)> done,
               std::function<void(const execution&)> changed)
{
    std::make_shared<done_watcher>(std::move(run), std::move(done), std::move(changed))->arm();
}

} // namespace cellbox::gateway
