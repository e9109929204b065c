#include "cellbox/kernel/fd_capture.hpp"

#include "cellbox/kernel/utf8.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <system_error>
#include <unistd.h>
#include <utility>

namespace cellbox::kernel
{
namespace
{

std::pair<unique_fd, unique_fd> make_pipe()
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
    {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

void write_all(int fd, const std::string& bytes)
{
    std::size_t done = 0;
    while (done < bytes.size())
    {
        const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

fd_capture::fd_capture(sink on_output) : m_sink(std::move(on_output))
{
    std::fflush(stdout);
    std::fflush(stderr);
    for (int i = 0; i < 2; ++i)
    {
        const int target = streams[i].target_fd;
        m_saved[i].reset(fcntl(target, F_DUPFD_CLOEXEC, 3));
        if (!m_saved[i])
        {
            throw std::system_error(errno, std::generic_category(), "dup of stdout/stderr");
        }
        auto [read_end, write_end] = make_pipe();
        // A larger pipe lets bursts of output be written without waiting for the reader.
        fcntl(write_end.get(), F_SETPIPE_SZ, 1 << 20);
        if (dup2(write_end.get(), target) < 0)
        {
            throw std::system_error(errno, std::generic_category(), "dup2 onto stdout/stderr");
        }
        m_read_end[i] = std::move(read_end);
    }
    auto [stop_read, stop_write] = make_pipe();
    m_stop_read = std::move(stop_read);
    m_stop_write = std::move(stop_write);
    m_reader = std::thread([this] { read_loop(); });
}

fd_capture::~fd_capture()
{
    std::fflush(stdout);
    std::fflush(stderr);
    for (int i = 0; i < 2; ++i)
    {
        dup2(m_saved[i].get(), streams[i].target_fd);
    }
    m_stop_write.reset(); // the reader sees end-of-file on the stop pipe
    m_reader.join();
}

void fd_capture::read_loop()
{
    std::string pending[2]; // incomplete UTF-8 sequences carried to the next read
    char buffer[64 * 1024];
    pollfd fds[3] = {{m_read_end[0].get(), POLLIN, 0},
                     {m_read_end[1].get(), POLLIN, 0},
                     {m_stop_read.get(), POLLIN, 0}};
    while (true)
    {
        if (poll(fds, 3, -1) < 0)
        {
            if (errno == EINTR)
            {
                continue;
            }
            return;
        }
        if (fds[2].revents != 0)
        {
            return;
        }
        for (int i = 0; i < 2; ++i)
        {
            if ((fds[i].revents & (POLLIN | POLLHUP)) == 0)
            {
                continue;
            }
            ++m_in_flight;
            const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
            if (n > 0)
            {
                std::string& bytes = pending[i];
                bytes.append(buffer, static_cast<std::size_t>(n));
                const std::size_t tail = incomplete_utf8_tail(bytes);
                std::string complete = bytes.substr(0, bytes.size() - tail);
                bytes.erase(0, bytes.size() - tail);
                if (!complete.empty() && !m_sink(streams[i].name, sanitize_utf8(complete)))
                {
                    write_all(m_saved[i].get(), complete);
                }
            }
            --m_in_flight;
        }
    }
}

bool fd_capture::pipes_empty() const
{
    for (const auto& fd : m_read_end)
    {
        int available = 0;
        if (ioctl(fd.get(), FIONREAD, &available) == 0 && available > 0)
        {
            return false;
        }
    }
    return m_in_flight.load() == 0;
}

void fd_capture::drain(std::chrono::milliseconds limit)
{
    std::fflush(stdout);
    std::fflush(stderr);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pipes_empty() && std::chrono::steady_clock::now() < deadline)
    {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

} // namespace cellbox::kernel
