#pragma once
// The streamed half of a responder (responder.hpp): a chunked response body written to one
// connection as its handler produces it, with backpressure, a bounded queue and a watch on
// the client's side of the connection. http_session creates one per streamed response.
#include "http/transport.hpp"

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace cellbox::gateway
{

template <class Stream>
class response_stream : public std::enable_shared_from_this<response_stream<Stream>>
{
public:
    using header_type = boost::beast::http::response<boost::beast::http::empty_body>;
    using written_fn = std::function<void(bool written)>;

    // `stream` belongs to `owner` (the HTTP session), kept alive as long as this is. `done`
    // runs once the response is over: `complete` when all of it was written (the owner then
    // ends the connection politely), else the client is gone and the socket closed.
    response_stream(Stream& stream, std::shared_ptr<void> owner, std::size_t max_queued_bytes,
                    std::chrono::steady_clock::duration write_timeout,
                    std::function<void(bool complete)> done)
        : m_stream(stream), m_owner(std::move(owner)), m_max_queued(max_queued_bytes),
          m_write_timeout(write_timeout), m_done(std::move(done))
    {
    }

    // Writes the header, and from then on watches for the client leaving.
    void start(header_type header)
    {
        m_header = std::make_unique<header_type>(std::move(header));
        m_header->chunked(true);
        m_serializer = std::make_unique<
            boost::beast::http::response_serializer<boost::beast::http::empty_body>>(*m_header);
        m_writing = true;
        beast_stream().expires_after(m_write_timeout);
        boost::beast::http::async_write_header(
            m_stream, *m_serializer,
            [self = this->shared_from_this()](boost::beast::error_code error, std::size_t)
            {
                self->m_writing = false;
                if (error)
                {
                    self->lose_client();
                    return;
                }
                // The watch waits as long as the response lasts (a cell may run for hours):
                // its read has no expiry; each write still gets one (write_next).
                self->beast_stream().expires_never();
                self->watch();
                self->write_next();
            });
    }

    void write(std::string chunk, written_fn on_written)
    {
        if (m_gone || m_finishing)
        {
            later(std::move(on_written), false);
            return;
        }
        if (chunk.empty())
        {
            later(std::move(on_written), true);
            return;
        }
        m_queued_bytes += chunk.size();
        m_queue.push_back({std::move(chunk), std::move(on_written), false});
        if (m_max_queued > 0 && m_queued_bytes > m_max_queued)
        {
            // It does not read, or not fast enough: nothing bounds what would wait for it.
            lose_client();
            return;
        }
        write_next();
    }

    void finish()
    {
        if (m_gone || m_finishing)
        {
            return;
        }
        m_finishing = true;
        m_queue.push_back({std::string(), nullptr, true});
        write_next();
    }

    void on_gone(std::function<void()> callback)
    {
        if (m_gone)
        {
            later_call(std::move(callback));
            return;
        }
        m_on_gone = std::move(callback);
    }

    bool gone() const { return m_gone; }

    // The handler let go of its responder before finishing: the client would wait for ever.
    void abandon()
    {
        if (!m_finishing)
        {
            lose_client();
        }
    }

private:
    struct item
    {
        std::string data;
        written_fn on_written;
        bool last = false; // the terminating zero-length chunk
    };

    boost::beast::tcp_stream& beast_stream() { return boost::beast::get_lowest_layer(m_stream); }

    void write_next()
    {
        if (m_writing || m_gone || m_queue.empty() || !m_serializer ||
            !m_serializer->is_header_done())
        {
            return;
        }
        m_writing = true;
        // Out of the queue while written: a client lost meanwhile empties the queue, and the
        // write may still hold pointers into this one.
        m_in_flight = std::move(m_queue.front());
        m_queue.pop_front();
        const bool last = m_in_flight.last;
        m_prefix = last ? std::string("0\r\n\r\n") : to_hex(m_in_flight.data.size()) + "\r\n";
        const std::array<boost::asio::const_buffer, 3> buffers{
            boost::asio::buffer(m_prefix), boost::asio::buffer(m_in_flight.data),
            boost::asio::buffer("\r\n", last ? 0 : 2)};
        // With the watch's read pending, this bounds the write only (basic_stream keeps the
        // pending read's expiry): a client that stops reading is dropped after the timeout.
        beast_stream().expires_after(m_write_timeout);
        boost::asio::async_write(
            m_stream, buffers,
            [self = this->shared_from_this()](boost::beast::error_code error, std::size_t)
            { self->on_written(error); });
    }

    void on_written(boost::beast::error_code error)
    {
        m_writing = false;
        if (error || m_gone)
        {
            later(std::move(m_in_flight.on_written), false);
            lose_client();
            return;
        }
        m_queued_bytes -= m_in_flight.data.size();
        if (m_in_flight.last)
        {
            m_complete = true;
            // Ends the watch; its handler hands the connection back (see watch).
            beast_stream().cancel();
            return;
        }
        if (auto callback = std::move(m_in_flight.on_written))
        {
            callback(true);
        }
        write_next();
    }

    // Reads the client's side while the response streams: end of file or an error is the
    // client leaving. What it sends meanwhile is dropped (the connection closes after this
    // response, so nothing of it is a next request).
    void watch()
    {
        m_stream.async_read_some(
            boost::asio::buffer(m_discard),
            [self = this->shared_from_this()](boost::beast::error_code error, std::size_t)
            {
                if (self->m_complete)
                {
                    self->end(true);
                }
                else if (error)
                {
                    self->lose_client();
                }
                else
                {
                    self->watch();
                }
            });
    }

    void lose_client()
    {
        if (m_gone || m_complete)
        {
            return;
        }
        m_gone = true;
        beast_stream().close(); // fails the pending read and write
        for (auto& pending : m_queue)
        {
            later(std::move(pending.on_written), false);
        }
        m_queue.clear();
        m_queued_bytes = 0;
        if (m_on_gone)
        {
            later_call(std::exchange(m_on_gone, nullptr));
        }
        end(false);
    }

    void end(bool complete)
    {
        if (m_done)
        {
            std::exchange(m_done, nullptr)(complete);
        }
    }

    void later(written_fn callback, bool written)
    {
        if (callback)
        {
            later_call([callback = std::move(callback), written] { callback(written); });
        }
    }

    void later_call(std::function<void()> callback)
    {
        boost::asio::post(m_stream.get_executor(), std::move(callback));
    }

    static std::string to_hex(std::size_t n)
    {
        static const char digits[] = "0123456789abcdef";
        std::string out;
        do
        {
            out.insert(out.begin(), digits[n % 16]);
            n /= 16;
        } while (n != 0);
        return out;
    }

    Stream& m_stream;
    std::shared_ptr<void> m_owner;
    std::size_t m_max_queued;
    std::chrono::steady_clock::duration m_write_timeout;
    std::function<void(bool)> m_done;
    std::unique_ptr<header_type> m_header;
    std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
        m_serializer;
    std::deque<item> m_queue;
    item m_in_flight;
    std::size_t m_queued_bytes = 0;
    std::string m_prefix; // of the chunk being written
    std::array<char, 512> m_discard{};
    std::function<void()> m_on_gone;
    bool m_writing = false;
    bool m_finishing = false;
    bool m_complete = false; // the last chunk is written
    bool m_gone = false;
};

} // namespace cellbox::gateway
