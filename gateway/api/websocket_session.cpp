#include "api/websocket_session.hpp"

#include "http/http_util.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/spliced_frame.hpp"
#include "protocol/websocket_framing.hpp"
#include "streams/kernel_client.hpp"
#include "streams/stream_budget.hpp"
#include "telemetry/log.hpp"
#include "telemetry/metrics.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace cellbox::gateway
{
namespace
{

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* v1_protocol = "v1.kernel.websocket.jupyter.org";
using clock = std::chrono::steady_clock;

// How long a connection closed for the stream budget may take to exchange close frames
// before its socket is closed under it: the frame being written holds its message until then.
constexpr auto budget_close_grace = std::chrono::seconds(5);

// A WebSocket as a kernel client: messages from the kernel's I/O thread reach its strand
// through the client's inbox. Once closed it refuses new ones, so the kernel's side buffers
// them for a reconnect instead of losing them to a connection that is going away.
template <class Stream>
class websocket_session : public kernel_client,
                          public std::enable_shared_from_this<websocket_session<Stream>>
{
public:
    websocket_session(Stream&& stream, std::shared_ptr<api_context> ctx, std::string kernel_id,
                      std::string user, const http_request& req, connection_slot slot)
        : kernel_client(std::move(user), query_parameter(std::string(req.target()), "session_id"),
                        ctx->options.ws_max_outbox_bytes),
          m_ws(std::move(stream)), m_ctx(std::move(ctx)), m_kernel_id(std::move(kernel_id)),
          m_close_timer(m_ws.get_executor()), m_slot(std::move(slot))
    {
    }

    void run(http_request req)
    {
        const std::string offered(req[http::field::sec_websocket_protocol]);
        m_v1 = offered.find(v1_protocol) != std::string::npos;
        m_ws.read_message_max(m_ctx->options.max_message_bytes);
        m_ws.set_option(timeouts(m_ctx->options.ws_ping_interval_s));
        const bool v1 = m_v1;
        m_ws.set_option(websocket::stream_base::decorator(
            [v1](websocket::response_type& res)
            {
                res.set(http::field::server, "cellbox");
                if (v1)
                {
                    res.set(http::field::sec_websocket_protocol, v1_protocol);
                }
            }));
        m_ws.async_accept(req, beast::bind_front_handler(&websocket_session::on_accept,
                                                         this->shared_from_this()));
    }

private:
    // Beast pings after half the idle timeout and closes the connection when the other half
    // passes without a frame (a pong counts): so pings every `interval` seconds, and a peer
    // silent for one more interval after a ping is gone.
    static websocket::stream_base::timeout timeouts(double interval)
    {
        websocket::stream_base::timeout t{};
        t.handshake_timeout = std::chrono::seconds(30);
        if (interval > 0)
        {
            t.idle_timeout = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                std::chrono::duration<double>(2 * interval));
            t.keep_alive_pings = true;
        }
        else
        {
            t.idle_timeout = websocket::stream_base::none();
            t.keep_alive_pings = false;
        }
        return t;
    }

    void on_accept(beast::error_code error)
    {
        if (error)
        {
            return;
        }
        std::weak_ptr<websocket_session> weak = this->shared_from_this();
        auto executor = m_ws.get_executor();
        const bool attached =
            m_ctx->kernels.attach(m_kernel_id, connection(), session_id(),
                                  deliverer(
                                      [weak, executor]
                                      {
                                          net::post(executor,
                                                    [weak]
                                                    {
                                                        if (auto self = weak.lock())
                                                        {
                                                            self->drain();
                                                        }
                                                    });
                                      }));
        if (!attached)
        {
            m_ws.async_close(websocket::close_code::policy_error,
                             [self = this->shared_from_this()](beast::error_code) {});
            return;
        }
        m_attached = true;
        if (const auto& budget = m_ctx->kernels.streams().budget)
        {
            // The budget calls this on any thread: it only posts to the strand.
            m_budget_place =
                budget->enroll_connection(inbox().backlog(),
                                          [weak, executor]
                                          {
                                              net::post(executor,
                                                        [weak]
                                                        {
                                                            if (auto self = weak.lock())
                                                            {
                                                                self->close_for_budget();
                                                            }
                                                        });
                                          });
        }
        read();
    }

    void read()
    {
        m_ws.async_read(m_buffer, beast::bind_front_handler(&websocket_session::on_read,
                                                            this->shared_from_this()));
    }

    void on_read(beast::error_code error, std::size_t)
    {
        if (error)
        {
            if (error == websocket::error::message_too_big)
            {
                log::warn("WebSocket frame too large, closing the connection",
                          {{"kernel", m_kernel_id},
                           {"max_message_bytes", m_ctx->options.max_message_bytes}});
            }
            else if (error == beast::error::timeout)
            {
                log::warn("WebSocket did not answer pings, closing it",
                          {{"kernel", m_kernel_id}, {"session", session_id()}});
            }
            close();
            return;
        }
        const std::string frame = beast::buffers_to_string(m_buffer.data());
        m_buffer.consume(m_buffer.size());
        try
        {
            kernel_message message =
                m_v1 ? decode_v1(frame) : decode_legacy(frame, !m_ws.got_text());
            if (message.channel != "shell" && message.channel != "control" &&
                message.channel != "stdin")
            {
                throw protocol_error("unknown channel \"" + message.channel + "\"");
            }
            check_client_message(message);
            m_ctx->kernels.send(m_kernel_id, connection(), std::move(message));
        }
        catch (const std::exception& e) // protocol_error, or anything a bad frame provokes
        {
            log::warn("dropped a WebSocket frame", {{"kernel", m_kernel_id}, {"error", e.what()}});
        }
        read();
    }

    // On the strand: moves what the kernel side delivered into the outbox.
    void drain()
    {
        if (inbox().overflowed())
        {
            drop_slow_client();
            return;
        }
        auto entries = inbox().take();
        if (entries.size() > 1 || (!entries.empty() && !m_outbox.empty()))
        {
            cork(true);
        }
        for (auto& entry : entries)
        {
            queue(std::move(entry));
        }
    }

    // While more than one message waits, the socket is corked, and uncorked when the outbox
    // empties: messages that queue up together (a cell's reply and idle status, a burst of
    // output) leave in one TCP segment instead of one each, and each segment is a transmit
    // and, on loopback, the receiver's softirq too (sendmsg was a sixth of the gateway's CPU
    // in the closed loop). There it took the machine's TCP segments per cell from 11.3 to 9.0-9.2.
    void cork(bool on)
    {
        if (m_corked == on)
        {
            return;
        }
        m_corked = on;
        const int value = on ? 1 : 0;
        // Failure only costs the coalescing (uncorking pushes what waits).
        (void)::setsockopt(beast::get_lowest_layer(m_ws).socket().native_handle(), IPPROTO_TCP,
                           TCP_CORK, &value, sizeof value);
    }

    void drop_slow_client()
    {
        if (!m_attached)
        {
            return;
        }
        log::warn("WebSocket client not reading, dropping the connection (its messages go to "
                  "the replay buffer)",
                  {{"kernel", m_kernel_id},
                   {"session", session_id()},
                   {"waiting_over_bytes", m_ctx->options.ws_max_outbox_bytes}});
        close();
        // The pending write may never finish: close the socket under it rather than
        // exchanging close frames with a client that does not read.
        beast::error_code ignored;
        beast::get_lowest_layer(m_ws).socket().close(ignored);
    }

    // The stream budget chose this connection: its client has left messages unread longest
    // while the gateway holds too much. What waits for it is dropped (not replayed: memory is
    // what is short), and the client is told why in the close frame.
    void close_for_budget()
    {
        if (!m_attached)
        {
            m_budget_place.reset();
            return;
        }
        const auto& budget = *m_ctx->kernels.streams().budget;
        // Queued frames go now; the one being written (the front) stays until the socket is
        // done with it.
        if (!m_outbox.empty())
        {
            m_outbox.erase(std::next(m_outbox.begin()), m_outbox.end());
        }
        const std::size_t waiting =
            m_outbox.empty() ? inbox().discard(0, std::nullopt)
                             : inbox().discard(m_outbox.front().bytes, m_outbox.front().taken);
        log::warn("stream memory budget exceeded, closing the WebSocket whose client left "
                  "messages unread longest",
                  {{"kernel", m_kernel_id},
                   {"session", session_id()},
                   {"waiting_bytes", waiting},
                   {"held_bytes", budget.bytes()},
                   {"budget_bytes", budget.limit()}});
        metric::stream_budget_drop("connection");
        m_attached = false;
        m_ctx->kernels.detach(m_kernel_id, connection());
        m_budget_place.reset(); // the budget may ask the next holder
        m_close_timer.expires_after(budget_close_grace);
        m_close_timer.async_wait(
            [self = this->shared_from_this()](beast::error_code error)
            {
                if (!error) // the client did not take the close frame either
                {
                    beast::error_code ignored;
                    beast::get_lowest_layer(self->m_ws).socket().close(ignored);
                }
            });
        m_ws.async_close(
            websocket::close_reason(websocket::close_code::policy_error,
                                    "stream memory budget exceeded: the client did not read "
                                    "its messages"),
            [self = this->shared_from_this()](beast::error_code) { self->m_close_timer.cancel(); });
    }

    void queue(client_inbox::entry entry)
    {
        const std::size_t bytes = message_bytes(*entry.message);
        try
        {
            // Over the one shared copy of the message: no copy per connection.
            spliced_frame frame =
                m_v1 ? spliced_frame::v1(*entry.message) : spliced_frame::legacy(*entry.message);
            m_outbox.push_back({std::move(entry.message), std::move(frame), bytes, entry.taken});
        }
        catch (const std::exception& e)
        {
            log::warn("cannot relay a kernel message",
                      {{"kernel", m_kernel_id}, {"error", e.what()}});
            written(bytes);
            if (m_outbox.empty())
            {
                cork(false); // nothing of this drain to wait for
            }
            return;
        }
        if (m_outbox.size() == 1)
        {
            write();
        }
    }

    void write()
    {
        const outgoing& front = m_outbox.front();
        std::vector<net::const_buffer> buffers;
        for (const std::string_view piece : front.frame.pieces())
        {
            buffers.emplace_back(piece.data(), piece.size());
        }
        m_ws.binary(front.frame.binary());
        m_ws.async_write(buffers, beast::bind_front_handler(&websocket_session::on_write,
                                                            this->shared_from_this()));
    }

    void on_write(beast::error_code error, std::size_t)
    {
        if (error)
        {
            close();
            return;
        }
        const std::size_t bytes = m_outbox.front().bytes;
        m_outbox.pop_front();
        written(bytes);
        if (!m_outbox.empty())
        {
            write();
        }
        else
        {
            cork(false);
        }
    }

    void written(std::size_t bytes)
    {
        inbox().written(bytes,
                        m_outbox.empty() ? std::nullopt : std::optional(m_outbox.front().taken));
    }

    // Stops taking messages and detaches; those taken but not yet queued go back to the
    // kernel side for the session's replay.
    void close()
    {
        if (!m_attached)
        {
            return;
        }
        m_attached = false;
        m_budget_place.reset(); // closing frees what it holds; nothing for the budget to ask
        m_ctx->kernels.detach(m_kernel_id, connection(), stop_taking());
    }

    struct outgoing
    {
        shared_message message; // `frame` points into it
        spliced_frame frame;
        std::size_t bytes; // as counted in the inbox's pending bytes
        clock::time_point taken;
    };

    websocket::stream<Stream> m_ws;
    std::shared_ptr<api_context> m_ctx;
    std::string m_kernel_id;
    bool m_v1 = false;
    bool m_attached = false;
    bool m_corked = false; // see cork()
    beast::flat_buffer m_buffer;
    // Before the outbox, so that it goes after it: withdrawing lets the budget ask the next
    // holder, once this connection's messages are gone (close() and close_for_budget() have
    // emptied the inbox already).
    stream_budget::enrollment m_budget_place;
    std::deque<outgoing> m_outbox;
    net::steady_timer m_close_timer;
    connection_slot m_slot;
};

} // namespace

void run_websocket_session(plain_stream&& stream, std::shared_ptr<api_context> ctx,
                           std::string kernel_id, std::string user, http_request req,
                           connection_slot slot)
{
    std::make_shared<websocket_session<plain_stream>>(std::move(stream), std::move(ctx),
                                                      std::move(kernel_id), std::move(user), req,
                                                      std::move(slot))
        ->run(std::move(req));
}

void run_websocket_session(tls_stream&& stream, std::shared_ptr<api_context> ctx,
                           std::string kernel_id, std::string user, http_request req,
                           connection_slot slot)
{
    std::make_shared<websocket_session<tls_stream>>(std::move(stream), std::move(ctx),
                                                    std::move(kernel_id), std::move(user), req,
                                                    std::move(slot))
        ->run(std::move(req));
}

} // namespace cellbox::gateway
