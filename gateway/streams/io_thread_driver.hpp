#pragma once
// Runs an io_thread that has no thread of its own (io_threads::driven()) on an asio event
// loop: the loop waits on the io_thread's epoll descriptor and its next timer, and serves the
// kernels' sockets between its other handlers. The gateway's HTTP thread then reads a
// kernel's message and writes it to the WebSocket itself: no hand-off to another thread per
// message (those wakeups were a fifth of the gateway's CPU under load).
#include "streams/io_thread.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>

namespace cellbox::gateway
{

class io_thread_driver
{
public:
    // Construct on the thread that runs `io`: it becomes the io_thread's thread. Destroy
    // before `io`, once it no longer runs.
    io_thread_driver(boost::asio::io_context& io, io_thread& thread);
    ~io_thread_driver();
    io_thread_driver(const io_thread_driver&) = delete;
    io_thread_driver& operator=(const io_thread_driver&) = delete;

private:
    void await_input();
    // One pass of the io_thread, then: again soon if more is ready, and the timer re-armed.
    void serve();
    void arm_timer();

    boost::asio::io_context& m_io;
    io_thread& m_thread;
    // On a duplicate of the epoll descriptor: asio closes its own.
    boost::asio::posix::stream_descriptor m_input;
    boost::asio::steady_timer m_timer;
    std::optional<io_thread::clock::time_point> m_armed; // the timer's expiry, if waiting
    bool m_again = false;                                // a pass is posted already
    // Handlers hold this, not the driver: they may outlive it inside a stopped loop.
    std::shared_ptr<bool> m_alive = std::make_shared<bool>(true);
};

} // namespace cellbox::gateway
