#include "backends/child_output.hpp"

#include "backends/child_process.hpp"
#include "telemetry/log.hpp"

#include <boost/asio/buffer.hpp>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

// Per process: a kernel's start-up banners, warnings and tracebacks fit in the burst; a print
// loop on fd 2 adds at most 10 lines (20 KiB) a second to the log, and is made to wait once it
// wrote 256 KiB in a second.
constexpr output_lines::limits output_limits{2048, 100, 10, 256 * 1024,
                                             std::chrono::milliseconds(1000)};
constexpr std::size_t read_size = 64 * 1024;

std::system_error failure(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

} // namespace

std::shared_ptr<child_output> child_output::pipe(boost::asio::io_context& io, output_tags tags)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
    {
        throw failure("pipe for a child's output");
    }
    auto output =
        std::make_shared<child_output>(io, unique_fd(fds[0]), unique_fd(fds[1]), std::move(tags));
    output->read();
    return output;
}

std::shared_ptr<child_output> child_output::fifo(boost::asio::io_context& io,
                                                 const std::string& path, output_tags tags)
{
    if (mkfifo(path.c_str(), 0600) != 0)
    {
        throw failure("mkfifo " + path);
    }
    // The read end first: opening a FIFO for writing without a reader would fail (nonblocking)
    // or wait.
    unique_fd read_end(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    unique_fd write_end(read_end ? open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC) : -1);
    if (!write_end)
    {
        throw failure("open " + path);
    }
    auto output = std::make_shared<child_output>(io, std::move(read_end), std::move(write_end),
                                                 std::move(tags));
    output->read();
    return output;
}

child_output::child_output(boost::asio::io_context& io, unique_fd read_end, unique_fd write_end,
                           output_tags tags)
    : m_read_end(io), m_write_end(std::move(write_end)), m_tags(std::move(tags)),
      m_lines(output_limits), m_window_timer(io), m_buffer(read_size)
{
    m_read_end.assign(read_end.release());
}

void child_output::read()
{
    m_read_end.async_read_some(
        boost::asio::buffer(m_buffer),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t length)
        {
            if (error)
            {
                self->finish(); // end of file: every writer has exited (or we are stopping)
                return;
            }
            const auto now = output_lines::clock::now();
            self->log_lines(self->m_lines.feed({self->m_buffer.data(), length}, now));
            if (self->m_lines.over_byte_budget(now))
            {
                self->wait_for_window(true);
                return;
            }
            self->read();
        });
}

void child_output::log_lines(const std::vector<output_line>& lines)
{
    for (const output_line& line : lines)
    {
        std::vector<log::field> fields = {{"source", m_tags.source}};
        if (!m_tags.kernel.empty())
        {
            fields.emplace_back("kernel", m_tags.kernel);
        }
        fields.emplace_back("kernelspec", m_tags.kernelspec);
        if (m_pid > 0)
        {
            fields.emplace_back("pid", m_pid);
        }
        // The line is a field of its own, never the record: escaped by the log, it cannot end
        // the record early or start one that reads like the gateway's.
        fields.emplace_back("line", line.text);
        if (line.cut_bytes > 0)
        {
            fields.emplace_back("cut_bytes", line.cut_bytes);
        }
        log::write(spdlog::level::info, "kernel output", fields);
    }
    if (!m_timer_armed && m_lines.suppressed() > 0)
    {
        wait_for_window(false); // the count is logged when the window ends
    }
}

void child_output::log_suppressed()
{
    const std::size_t suppressed = m_lines.take_suppressed();
    if (suppressed == 0)
    {
        return;
    }
    std::vector<log::field> fields = {{"source", m_tags.source}};
    if (!m_tags.kernel.empty())
    {
        fields.emplace_back("kernel", m_tags.kernel);
    }
    fields.emplace_back("kernelspec", m_tags.kernelspec);
    fields.emplace_back("lines", suppressed);
    log::write(spdlog::level::warn, "kernel output suppressed", fields);
}

void child_output::wait_for_window(bool then_read)
{
    m_resume_after_timer = m_resume_after_timer || then_read;
    if (m_timer_armed)
    {
        return;
    }
    m_timer_armed = true;
    m_window_timer.expires_at(m_lines.window_end());
    m_window_timer.async_wait(
        [self = shared_from_this()](const boost::system::error_code& error)
        {
            self->m_timer_armed = false;
            if (error)
            {
                return; // cancelled: the output ended
            }
            self->log_suppressed();
            if (std::exchange(self->m_resume_after_timer, false))
            {
                self->read();
            }
        });
}

void child_output::finish()
{
    if (auto last = m_lines.finish(output_lines::clock::now()))
    {
        log_lines({std::move(*last)});
    }
    log_suppressed();
    m_resume_after_timer = false;
    m_window_timer.cancel();
}

logged_child spawn_logged(boost::asio::io_context& io, std::vector<std::string> argv,
                          const std::string& what, output_tags tags, int pass_fd)
{
    logged_child child;
    child.output = child_output::pipe(io, std::move(tags));
    try
    {
        child.pid =
            spawn_in_own_session(std::move(argv), what, {child.output->child_end(), pass_fd});
    }
    catch (...)
    {
        child.output->close_child_end(); // no writer left: the reader ends
        throw;
    }
    child.output->close_child_end();
    child.output->set_pid(child.pid);
    return child;
}

} // namespace cellbox::gateway
