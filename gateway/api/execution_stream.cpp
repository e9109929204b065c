#include "api/execution_stream.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <vector>

namespace cellbox::gateway
{
namespace
{

namespace http = boost::beast::http;

std::string lowercase(std::string_view text)
{
    std::string out(text);
    for (char& c : out)
    {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

const char* content_type(stream_format format)
{
    switch (format)
    {
    case stream_format::ndjson:
        return "application/x-ndjson";
    case stream_format::sse:
        return "text/event-stream";
    case stream_format::json:
        break;
    }
    return "application/json";
}

class follower : public execution_runner::watcher, public std::enable_shared_from_this<follower>
{
public:
    follower(std::shared_ptr<execution_runner> run, std::shared_ptr<responder> respond,
             follow_options options, boost::asio::io_context& io)
        : m_run(std::move(run)), m_respond(std::move(respond)), m_options(std::move(options)),
          m_keepalive(io), m_next(m_options.from)
    {
    }

    void start(const std::string& location)
    {
        http::fields headers;
        headers.set(http::field::content_type, content_type(m_options.format));
        headers.set(http::field::cache_control, "no-cache");
        headers.set(http::field::location, location);
        headers.set("X-Cellbox-Execution-Id", m_run->id());
        headers.set("X-Accel-Buffering", "no"); // a proxy in front must not hold events back
        m_respond->start(http::status::ok, std::move(headers));
        std::weak_ptr<follower> weak = shared_from_this();
        m_respond->on_client_gone(
            [weak]
            {
                if (auto self = weak.lock())
                {
                    self->gone();
                }
            });
        m_run->watch(weak);
        // The runner and the responder hold weak pointers only: this follower keeps itself
        // until the answer is over.
        m_self = shared_from_this();
        pump();
    }

    void changed() override { pump(); }

    // The gateway stopped: its loop will never complete the write this follower waits on, so
    // it lets itself go (otherwise it, its runner and its session outlive the loop).
    void let_go()
    {
        m_over = true;
        m_self.reset(); // the last reference may be this one: nothing after it
    }

private:
    void pump()
    {
        if (m_writing || m_over)
        {
            return;
        }
        const execution& model = m_run->model();
        std::string chunk;
        if (m_options.format == stream_format::json)
        {
            if (model.done() && m_next < model.events().size())
            {
                chunk = model.result(true).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace) +
                        "\n";
                m_next = model.events().size();
            }
        }
        else
        {
            const auto& events = model.events();
            // A few hundred events per chunk at most: the write keeps pace with the client.
            for (std::size_t n = 0; m_next < events.size() && n < 256; ++m_next, ++n)
            {
                const auto& e = events[m_next];
                if (m_options.format == stream_format::ndjson)
                {
                    chunk += e.json + "\n";
                }
                else
                {
                    chunk += "event: " + e.type + "\nid: " + std::to_string(m_next) +
                             "\ndata: " + e.json + "\n\n";
                }
            }
        }
        if (!chunk.empty())
        {
            write(std::move(chunk));
            return;
        }
        if (model.done() && m_next >= model.events().size())
        {
            m_respond->finish();
            over();
            return;
        }
        arm_keepalive();
    }

    void write(std::string chunk)
    {
        m_writing = true;
        m_keepalive.cancel();
        std::weak_ptr<follower> weak = shared_from_this();
        m_respond->write(std::move(chunk),
                         [weak](bool written)
                         {
                             auto self = weak.lock();
                             if (!self)
                             {
                                 return;
                             }
                             self->m_writing = false;
                             if (written)
                             {
                                 self->pump();
                             }
                             else
                             {
                                 self->gone();
                             }
                         });
    }

    void arm_keepalive()
    {
        if (m_options.keepalive.count() <= 0)
        {
            return;
        }
        m_keepalive.expires_after(m_options.keepalive);
        std::weak_ptr<follower> weak = shared_from_this();
        m_keepalive.async_wait(
            [weak](const boost::system::error_code& error)
            {
                auto self = weak.lock();
                if (error || !self || self->m_writing || self->m_over)
                {
                    return;
                }
                // NDJSON: a line of its own type; SSE: a comment; JSON: whitespace, which a
                // JSON parser skips before the answer.
                switch (self->m_options.format)
                {
                case stream_format::ndjson:
                    self->write("{\"type\":\"keepalive\"}\n");
                    break;
                case stream_format::sse:
                    self->write(": keepalive\n\n");
                    break;
                case stream_format::json:
                    self->write("\n");
                    break;
                }
            });
    }

    void gone()
    {
        if (m_over)
        {
            return;
        }
        if (m_options.on_client_gone)
        {
            std::exchange(m_options.on_client_gone, nullptr)();
        }
        over();
    }

    void over()
    {
        if (m_over)
        {
            return;
        }
        m_over = true;
        m_keepalive.cancel();
        if (m_options.on_over)
        {
            std::exchange(m_options.on_over, nullptr)();
        }
        m_self.reset(); // the last reference may be this one: nothing after it
    }

    std::shared_ptr<execution_runner> m_run;
    std::shared_ptr<responder> m_respond;
    follow_options m_options;
    boost::asio::steady_timer m_keepalive;
    std::size_t m_next;
    bool m_writing = false;
    bool m_over = false;
    std::shared_ptr<follower> m_self;
};

} // namespace

std::optional<stream_format> negotiate_format(std::string_view accept)
{
    const std::string asked = lowercase(accept);
    if (asked.find("text/event-stream") != std::string::npos)
    {
        return stream_format::sse;
    }
    if (asked.find("application/x-ndjson") != std::string::npos)
    {
        return stream_format::ndjson;
    }
    if (asked.empty() || asked.find("application/json") != std::string::npos ||
        asked.find("*/*") != std::string::npos || asked.find("application/*") != std::string::npos)
    {
        return stream_format::json;
    }
    return std::nullopt;
}

namespace
{

// The followers started on this server's thread, for release_followers.
std::vector<std::weak_ptr<follower>>& started_followers()
{
    static std::vector<std::weak_ptr<follower>> followers;
    return followers;
}

} // namespace

void follow_execution(const std::shared_ptr<execution_runner>& run,
                      std::shared_ptr<responder> respond, const std::string& location,
                      follow_options options)
{
    auto& io = run->io();
    auto started = std::make_shared<follower>(run, std::move(respond), std::move(options), io);
    auto& followers = started_followers();
    followers.erase(std::remove_if(followers.begin(), followers.end(),
                                   [](const auto& weak) { return weak.expired(); }),
                    followers.end());
    followers.push_back(started);
    started->start(location);
}

void release_followers()
{
    for (const auto& weak : std::exchange(started_followers(), {}))
    {
        if (const auto alive = weak.lock())
        {
            alive->let_go();
        }
    }
}

} // namespace cellbox::gateway
