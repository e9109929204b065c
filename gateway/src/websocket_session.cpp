#include "websocket_session.hpp"

#include "cellbox/gateway/websocket_framing.hpp"
#include "http_util.hpp"
#include "log.hpp"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>

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
std::atomic<std::uint64_t> next_connection{1};

class websocket_session : public std::enable_shared_from_this<websocket_session>
{
public:
    websocket_session(tcp::socket&& socket, std::shared_ptr<server::context> ctx,
                      std::string kernel_id)
        : m_ws(std::move(socket)), m_ctx(std::move(ctx)), m_kernel_id(std::move(kernel_id)),
          m_connection(next_connection++)
    {
    }

    void run(http_request req)
    {
        const std::string offered(req[http::field::sec_websocket_protocol]);
        m_v1 = offered.find(v1_protocol) != std::string::npos;
        m_session_id = query_parameter(std::string(req.target()), "session_id");
        if (m_session_id.empty())
        {
            m_session_id = "cellbox-" + std::to_string(m_connection);
        }
        m_ws.read_message_max(m_ctx->options.max_message_bytes);
        m_ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
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
        m_ws.async_accept(
            req, beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
    }

private:
    void on_accept(beast::error_code error)
    {
        if (error)
        {
            return;
        }
        std::weak_ptr<websocket_session> weak = shared_from_this();
        auto executor = m_ws.get_executor();
        const bool attached =
            m_ctx->kernels.attach(m_kernel_id, m_connection, m_session_id,
                                  [weak, executor](kernel_message message)
                                  {
                                      net::post(executor,
                                                [weak, message = std::move(message)]() mutable
                                                {
                                                    if (auto self = weak.lock())
                                                    {
                                                        self->queue(std::move(message));
                                                    }
                                                });
                                  });
        if (!attached)
        {
            m_ws.async_close(websocket::close_code::policy_error,
                             [self = shared_from_this()](beast::error_code) {});
            return;
        }
        m_attached = true;
        read();
    }

    void read()
    {
        m_ws.async_read(m_buffer,
                        beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
    }

    void on_read(beast::error_code error, std::size_t)
    {
        if (error)
        {
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
            m_ctx->kernels.send(m_kernel_id, m_connection, std::move(message));
        }
        catch (const protocol_error& e)
        {
            log::warn("dropped a WebSocket frame", {{"kernel", m_kernel_id}, {"error", e.what()}});
        }
        read();
    }

    void queue(kernel_message message)
    {
        try
        {
            if (m_v1)
            {
                m_outbox.push_back({encode_v1(message), true});
            }
            else
            {
                legacy_frame frame = encode_legacy(message);
                m_outbox.push_back({std::move(frame.data), frame.binary});
            }
        }
        catch (const protocol_error& e)
        {
            log::warn("cannot relay a kernel message",
                      {{"kernel", m_kernel_id}, {"error", e.what()}});
            return;
        }
        if (m_outbox.size() == 1)
        {
            write();
        }
    }

    void write()
    {
        m_ws.binary(m_outbox.front().binary);
        m_ws.async_write(
            net::buffer(m_outbox.front().data),
            beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
    }

    void on_write(beast::error_code error, std::size_t)
    {
        if (error)
        {
            close();
            return;
        }
        m_outbox.pop_front();
        if (!m_outbox.empty())
        {
            write();
        }
    }

    void close()
    {
        if (m_attached)
        {
            m_attached = false;
            m_ctx->kernels.detach(m_kernel_id, m_connection);
        }
    }

    struct outgoing
    {
        std::string data;
        bool binary;
    };

    websocket::stream<beast::tcp_stream> m_ws;
    std::shared_ptr<server::context> m_ctx;
    std::string m_kernel_id;
    std::uint64_t m_connection;
    std::string m_session_id;
    bool m_v1 = false;
    bool m_attached = false;
    beast::flat_buffer m_buffer;
    std::deque<outgoing> m_outbox;
};

} // namespace

void run_websocket_session(tcp::socket&& socket, std::shared_ptr<server::context> ctx,
                           std::string kernel_id, http_request req)
{
    std::make_shared<websocket_session>(std::move(socket), std::move(ctx), std::move(kernel_id))
        ->run(std::move(req));
}

} // namespace cellbox::gateway
