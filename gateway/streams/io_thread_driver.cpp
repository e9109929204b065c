#include "streams/io_thread_driver.hpp"

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <string>

namespace cellbox::gateway
{

namespace net = boost::asio;

namespace
{

int duplicate(int fd)
{
    const int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
    {
        throw std::runtime_error(std::string("dup: ") + std::strerror(errno));
    }
    return copy;
}

} // namespace

io_thread_driver::io_thread_driver(net::io_context& io, io_thread& thread)
    : m_io(io), m_thread(thread), m_input(io, duplicate(thread.wait_fd())), m_timer(io)
{
    m_thread.claim_current_thread();
    await_input();
    // Work posted before the driver existed has signalled already.
    net::post(m_io,
              [this, alive = std::weak_ptr<bool>(m_alive)]
              {
                  if (alive.lock())
                      serve();
              });
}

io_thread_driver::~io_thread_driver()
{
    m_alive.reset();
}

void io_thread_driver::await_input()
{
    // Kept waiting at all times: asio registers the descriptor edge-triggered, so a readiness
    // signalled while no wait was queued would not be reported again.
    m_input.async_wait(
        net::posix::stream_descriptor::wait_read,
        [this, alive = std::weak_ptr<bool>(m_alive)](const boost::system::error_code& error)
        {
            if (error || !alive.lock())
            {
                return;
            }
            await_input();
            serve();
        });
}

void io_thread_driver::serve()
{
    if (m_thread.poll() && !m_again)
    {
        // Others' handlers first (the WebSocket writes of what was just read), then the rest.
        m_again = true;
        net::post(m_io,
                  [this, alive = std::weak_ptr<bool>(m_alive)]
                  {
                      if (alive.lock())
                      {
                          m_again = false;
                          serve();
                      }
                  });
    }
    arm_timer();
}

void io_thread_driver::arm_timer()
{
    const auto next = m_thread.next_timer();
    if (next == m_armed)
    {
        return;
    }
    m_armed = next;
    if (!next)
    {
        m_timer.cancel();
        return;
    }
    m_timer.expires_at(*next); // cancels the wait for the previous expiry
    m_timer.async_wait(
        [this, alive = std::weak_ptr<bool>(m_alive),
         at = *next](const boost::system::error_code& error)
        {
            if (error || !alive.lock() || m_armed != at)
            {
                return;
            }
            m_armed.reset();
            serve();
        });
}

} // namespace cellbox::gateway
