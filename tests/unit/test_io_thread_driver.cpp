// An io_thread without a thread of its own, driven by an asio loop (what `cellbox serve` does
// with io_threads 0): posted work, sockets' messages and timers all run on the loop's thread,
// in order, and nothing is missed when several arrive between two passes.
#include "streams/io_thread.hpp"
#include "streams/io_thread_driver.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

using namespace cellbox::gateway;
using namespace std::chrono_literals;
namespace net = boost::asio;

namespace
{

// Runs `io` until `done()` or 5 s.
template <class Done> bool run_until(net::io_context& io, Done done)
{
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done() && std::chrono::steady_clock::now() < deadline)
    {
        io.run_for(10ms);
    }
    return done();
}

} // namespace

TEST_CASE("a driven io_thread runs posted work, socket input and timers on the loop's thread")
{
    net::io_context io;
    io_thread thread(false);
    io_thread_driver driver(io, thread);
    const auto loop_thread = std::this_thread::get_id();
    CHECK(thread.on_this_thread());

    zmq::context_t context;
    zmq::socket_t reader(context, zmq::socket_type::pair);
    zmq::socket_t writer(context, zmq::socket_type::pair);
    reader.bind("inproc://driven");
    writer.connect("inproc://driven");

    std::vector<std::string> seen;
    bool timer_fired = false;
    std::vector<std::thread::id> threads;
    constexpr io_thread::client_id client = 7;
    thread.start(client,
                 {[&]
                  {
                      timer_fired = true;
                      threads.push_back(std::this_thread::get_id());
                  },
                  [](const std::string&) {}},
                 [&]
                 {
                     thread.watch(client, reader, 0,
                                  [&]
                                  {
                                      zmq::message_t m;
                                      REQUIRE(reader.recv(m, zmq::recv_flags::dontwait));
                                      seen.push_back(m.to_string());
                                      threads.push_back(std::this_thread::get_id());
                                  });
                     thread.schedule(client, io_thread::clock::now() + 30ms);
                 });

    // Posted from another thread, while the loop runs: ordered, and run on the loop.
    std::thread poster(
        [&]
        {
            for (int i = 0; i < 3; ++i)
            {
                thread.post(client, [&, i] { seen.push_back("job " + std::to_string(i)); });
            }
        });
    poster.join();
    // Many messages at once: each descriptor signals once, all must be read.
    for (int i = 0; i < 50; ++i)
    {
        writer.send(zmq::buffer("message " + std::to_string(i)));
    }
    REQUIRE(run_until(io, [&] { return seen.size() == 53 && timer_fired; }));
    std::vector<std::string> jobs, messages;
    for (const auto& s : seen)
    {
        (s.rfind("job", 0) == 0 ? jobs : messages).push_back(s);
    }
    CHECK(jobs == std::vector<std::string>{"job 0", "job 1", "job 2"});
    REQUIRE(messages.size() == 50);
    CHECK(messages.front() == "message 0");
    CHECK(messages.back() == "message 49");
    for (const auto id : threads)
    {
        CHECK(id == loop_thread);
    }

    // Work posted after a quiet spell still wakes the loop.
    bool late = false;
    io.run_for(50ms);
    thread.post(client, [&] { late = true; });
    CHECK(run_until(io, [&] { return late; }));

    bool left = false;
    thread.post_always(
        [&]
        {
            thread.leave(client);
            left = true;
        });
    CHECK(run_until(io, [&] { return left; }));
}
