// The responder (gateway/http/responder.hpp) over a real listener on loopback: whole and
// streamed (chunked) responses, over plain TCP and TLS, a slow reader, a reader that stops,
// and a client that leaves mid-stream. The server runs on its own thread; the client is
// Boost.Beast's synchronous one.
#include "http/server.hpp"

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <thread>
#include <unistd.h>

using namespace cellbox::gateway;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using verb = http::verb;

namespace
{

// A listener on 127.0.0.1 with `routes`, served by a thread of its own until destroyed.
class test_server
{
public:
    explicit test_server(router routes, server_options options = {})
    {
        options.token.clear(); // no authentication: every caller is the admin
        m_server.emplace(m_io, tcp::endpoint{net::ip::make_address("127.0.0.1"), 0}, options,
                         std::move(routes));
        m_server->start();
        m_thread = std::thread([this] { m_io.run(); });
    }
    ~test_server()
    {
        m_io.stop();
        m_thread.join();
    }
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const { return m_server->port(); }

private:
    net::io_context m_io;
    std::optional<server> m_server;
    std::thread m_thread;
};

http::request<http::empty_body> get(const std::string& target)
{
    http::request<http::empty_body> req{verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    return req;
}

beast::tcp_stream connect(net::io_context& io, unsigned short port)
{
    beast::tcp_stream stream(io);
    stream.connect(tcp::endpoint{net::ip::make_address("127.0.0.1"), port});
    return stream;
}

// `count` chunks of `size` bytes, chunk i filled with the letter 'a' + i % 26.
std::string chunk_of(std::size_t i, std::size_t size)
{
    return std::string(size, static_cast<char>('a' + i % 26));
}

std::string expected_body(std::size_t count, std::size_t size)
{
    std::string all;
    for (std::size_t i = 0; i < count; ++i)
    {
        all += chunk_of(i, size);
    }
    return all;
}

// A handler that writes `count` chunks, each once the one before is written (the pace of the
// client), then finishes. `written` gets how many were confirmed.
struct paced_writer : std::enable_shared_from_this<paced_writer>
{
    std::shared_ptr<responder> respond;
    std::size_t count = 0;
    std::size_t size = 0;
    std::size_t next = 0;
    std::shared_ptr<std::promise<std::size_t>> written; // how many were, once over

    void step()
    {
        if (next == count)
        {
            respond->finish();
            written->set_value(next);
            return;
        }
        respond->write(chunk_of(next, size),
                       [self = shared_from_this()](bool ok)
                       {
                           if (!ok)
                           {
                               self->written->set_value(self->next);
                               return;
                           }
                           ++self->next;
                           self->step();
                       });
    }
};

router streaming_routes(std::size_t count, std::size_t size,
                        std::shared_ptr<std::promise<std::size_t>> done)
{
    router routes;
    routes.add({verb::get}, "/api/whole",
               [](http_call call) {
                   call.respond->send(json_response(call.req, http::status::ok, {{"whole", true}}));
               });
    routes.add({verb::get}, "/api/stream",
               [count, size, done](http_call call)
               {
                   http::fields headers;
                   headers.set(http::field::content_type, "application/x-ndjson");
                   call.respond->start(http::status::ok, std::move(headers));
                   auto writer = std::make_shared<paced_writer>();
                   writer->respond = call.respond;
                   writer->count = count;
                   writer->size = size;
                   writer->written = done;
                   writer->step();
               });
    return routes;
}

// GET /api/stream on `stream`, and the response as the client reads it: chunked, with the
// status the handler started it with.
template <class Stream>
http::response<http::string_body> read_stream(Stream& stream, beast::flat_buffer& buffer)
{
    http::write(stream, get("/api/stream"));
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    CHECK(res.result() == http::status::ok);
    CHECK(res.chunked());
    return res;
}

// A self-signed certificate and its key, in a directory removed afterwards.
struct certificate
{
    std::filesystem::path dir;
    std::string cert;
    std::string key;

    certificate()
    {
        char tmpl[] = "/tmp/cellbox-responder-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        cert = (dir / "cert.pem").string();
        key = (dir / "key.pem").string();
        const std::string command = "openssl req -x509 -newkey ec -pkeyopt "
                                    "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                                    "/CN=localhost -keyout " +
                                    key + " -out " + cert + " 2>/dev/null";
        REQUIRE(std::system(command.c_str()) == 0);
    }
    ~certificate() { std::filesystem::remove_all(dir); }
    certificate(const certificate&) = delete;
    certificate& operator=(const certificate&) = delete;
};

} // namespace

TEST_CASE("a whole response, then another request on the same connection")
{
    auto done = std::make_shared<std::promise<std::size_t>>();
    test_server server(streaming_routes(0, 0, done));
    net::io_context io;
    auto stream = connect(io, server.port());
    beast::flat_buffer buffer;
    for (int i = 0; i < 2; ++i)
    {
        http::write(stream, get("/api/whole"));
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        CHECK(res.result() == http::status::ok);
        CHECK(res.body() == R"({"whole":true})");
        CHECK(res.keep_alive());
    }
}

TEST_CASE("a streamed response arrives chunked, whole and in order, and ends the connection")
{
    auto done = std::make_shared<std::promise<std::size_t>>();
    auto finished = done->get_future();
    test_server server(streaming_routes(50, 1000, done));
    net::io_context io;
    auto stream = connect(io, server.port());
    beast::flat_buffer buffer;
    auto res = read_stream(stream, buffer);
    CHECK(res[http::field::content_type] == "application/x-ndjson");
    CHECK_FALSE(res.keep_alive());
    CHECK(res.body() == expected_body(50, 1000));
    CHECK(finished.get() == 50);
    // The server closes its side after the last chunk.
    beast::error_code error;
    http::read(stream, buffer, res, error);
    CHECK(error == http::error::end_of_stream);
}

TEST_CASE("a streamed response over TLS")
{
    certificate tls;
    server_options options;
    options.certfile = tls.cert;
    options.keyfile = tls.key;
    auto done = std::make_shared<std::promise<std::size_t>>();
    auto finished = done->get_future();
    test_server server(streaming_routes(20, 5000, done), options);

    net::io_context io;
    net::ssl::context client_tls(net::ssl::context::tls_client);
    client_tls.set_verify_mode(net::ssl::verify_none); // self-signed: what is tested is the stream
    beast::ssl_stream<beast::tcp_stream> stream(connect(io, server.port()), client_tls);
    stream.handshake(net::ssl::stream_base::client);
    beast::flat_buffer buffer;
    CHECK(read_stream(stream, buffer).body() == expected_body(20, 5000));
    CHECK(finished.get() == 20);
}

TEST_CASE("a slow reader gets everything from a handler that keeps its pace")
{
    // Far more than the queue may hold: only a handler that waits for each chunk to be
    // written (on_written) gets it all out to a client that reads slowly.
    server_options options;
    options.ws_max_outbox_bytes = 256 * 1024;
    const std::size_t count = 64;
    const std::size_t size = 64 * 1024;
    auto done = std::make_shared<std::promise<std::size_t>>();
    auto finished = done->get_future();
    test_server server(streaming_routes(count, size, done), options);
    net::io_context io;
    auto stream = connect(io, server.port());
    http::write(stream, get("/api/stream"));

    http::response_parser<http::string_body> parser;
    parser.body_limit(count * size);
    beast::flat_buffer buffer;
    http::read_header(stream, buffer, parser);
    std::size_t reads = 0;
    while (!parser.is_done())
    {
        if (++reads % 16 == 0)
        {
            // Slow: the server's socket buffers fill meanwhile.
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        http::read_some(stream, buffer, parser);
    }
    CHECK(parser.get().body() == expected_body(count, size));
    CHECK(finished.get() == count);
}

TEST_CASE("a handler that writes more than the queue holds to a client that does not read "
          "has its client dropped, and is told")
{
    server_options options;
    options.ws_max_outbox_bytes = 64 * 1024;
    auto results = std::make_shared<std::vector<bool>>();
    auto gone = std::make_shared<std::promise<void>>();
    auto all_told = std::make_shared<std::promise<void>>();
    const std::size_t chunks = 8;
    router routes;
    routes.add({verb::get}, "/api/flood",
               [=](http_call call)
               {
                   call.respond->on_client_gone([gone] { gone->set_value(); });
                   call.respond->start(http::status::ok, {});
                   // All at once, without waiting: 8 x 32 KiB against a 64 KiB queue.
                   for (std::size_t i = 0; i < chunks; ++i)
                   {
                       call.respond->write(std::string(32 * 1024, 'x'),
                                           [=](bool ok)
                                           {
                                               results->push_back(ok);
                                               if (results->size() == chunks)
                                               {
                                                   all_told->set_value();
                                               }
                                           });
                   }
                   call.respond->finish();
               });
    test_server server(std::move(routes), options);
    net::io_context io;
    auto stream = connect(io, server.port());
    http::write(stream, get("/api/flood"));
    gone->get_future().get();
    all_told->get_future().get();
    // Every chunk is told, and none was written: they were all queued behind the header
    // when the queue overflowed.
    CHECK(results->size() == chunks);
    CHECK(std::none_of(results->begin(), results->end(), [](bool ok) { return ok; }));
    // The client gets an incomplete response: no last chunk.
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    beast::flat_buffer buffer;
    beast::error_code error;
    http::read(stream, buffer, parser, error);
    CHECK(error);
    CHECK_FALSE(parser.is_done());
}

TEST_CASE("a client that leaves mid-stream is noticed, and later writes are refused")
{
    auto gone = std::make_shared<std::promise<bool>>(); // with client_gone() then
    auto refused = std::make_shared<std::promise<bool>>();
    auto respond_held = std::make_shared<std::shared_ptr<responder>>();
    router routes;
    routes.add({verb::get}, "/api/stream",
               [=](http_call call)
               {
                   *respond_held = call.respond; // the execution outlives its client
                   call.respond->on_client_gone(
                       [=]
                       {
                           (*respond_held)->write("late", [=](bool ok) { refused->set_value(ok); });
                           gone->set_value((*respond_held)->client_gone());
                       });
                   call.respond->start(http::status::ok, {});
                   call.respond->write("first\n", nullptr);
               });
    test_server server(std::move(routes));
    {
        net::io_context io;
        auto stream = connect(io, server.port());
        http::write(stream, get("/api/stream"));
        http::response_parser<http::string_body> parser;
        beast::flat_buffer buffer;
        http::read_header(stream, buffer, parser);
        while (parser.get().body().empty())
        {
            http::read_some(stream, buffer, parser);
        }
        CHECK(parser.get().body() == "first\n");
        CHECK_FALSE(parser.is_done());
    } // closed here, mid-stream
    CHECK(gone->get_future().get());
    CHECK_FALSE(refused->get_future().get());
    // The route's handler holds the responder it kept, the responder its connection, and the
    // connection the route table: let go, as an execution does when it ends (LeakSanitizer).
    respond_held->reset();
}

TEST_CASE("a client that stops reading a paced stream is dropped once a write outlasts the write "
          "timeout")
{
    // The queue never overflows (each chunk waits for the one before): only the write timeout
    // can tell that the client stopped reading, once the sockets' buffers are full.
    server_options options;
    options.http_write_timeout_s = 0.5;
    options.ws_max_outbox_bytes = std::size_t(1) << 30;
    const std::size_t count = 1000000; // 64 GiB: never all written
    auto done = std::make_shared<std::promise<std::size_t>>();
    auto written = done->get_future();
    test_server server(streaming_routes(count, 64 * 1024, done), options);
    net::io_context io;
    auto stream = connect(io, server.port());
    http::write(stream, get("/api/stream"));
    // Never reads. Without the timeout the handler would wait for ever.
    REQUIRE(written.wait_for(std::chrono::seconds(60)) == std::future_status::ready);
    const std::size_t confirmed = written.get();
    CHECK(confirmed > 0); // it wrote until the buffers filled
    CHECK(confirmed < count);
}
