#pragma once
// The stdout and stderr of the processes the gateway starts (kernel launchers, prespawned
// kernels, zygotes and their sessions). None of them gets the gateway's own: code in a cell
// could write lines that pass for the gateway's, read the log (and the admin token in its URL
// line) or truncate it. Each gets a pipe of its own instead, read on the io_context and logged
// line by line as `msg="kernel output"` records, the line in a field of its own (escaped by the
// log), tagged with where it comes from, bounded by output_lines.
//
// Lives on the io_context's thread. A child_output keeps itself alive while it reads: it ends
// at end of file, once every process holding the write end has exited.
#include "backends/output_lines.hpp"
#include "cellbox/unique_fd.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cellbox::gateway
{

// Where a line comes from, as logged.
struct output_tags
{
    std::string source;     // kernel, zygote
    std::string kernelspec; // its kernelspec's name
    std::string kernel;     // the kernel's id, once known
};

class child_output : public std::enable_shared_from_this<child_output>
{
public:
    // A pipe: the child gets child_end() as its stdout and stderr.
    static std::shared_ptr<child_output> pipe(boost::asio::io_context& io, output_tags tags);
    // A FIFO made at `path` (mode 0600), for a child that opens its output by name (a zygote's
    // session: its supervisor opens it before entering the sandbox). Until close_child_end(),
    // the gateway holds a write end itself: the child may open its end late, and a FIFO without
    // writers reads as end of file.
    static std::shared_ptr<child_output> fifo(boost::asio::io_context& io, const std::string& path,
                                              output_tags tags);

    child_output(boost::asio::io_context& io, unique_fd read_end, unique_fd write_end,
                 output_tags tags);

    // The write end for the child (the gateway's copy until close_child_end()).
    int child_end() const { return m_write_end.get(); }
    // Closes the gateway's copy of the write end: the output ends once the child's copies
    // close. For a pipe, right after the fork; for a FIFO, once the child has exited.
    void close_child_end() { m_write_end.reset(); }
    // Tags the lines that follow: a pooled process handed to a kernel, its launcher's pid.
    void set_kernel(std::string id) { m_tags.kernel = std::move(id); }
    void set_pid(pid_t pid) { m_pid = pid; }

private:
    void read();
    void log_lines(const std::vector<output_line>& lines);
    void log_suppressed();
    void wait_for_window(bool then_read);
    void finish();

    boost::asio::posix::stream_descriptor m_read_end;
    unique_fd m_write_end;
    output_tags m_tags;
    pid_t m_pid = -1;
    output_lines m_lines;
    boost::asio::steady_timer m_window_timer;
    bool m_timer_armed = false;
    bool m_resume_after_timer = false;
    std::vector<char> m_buffer;
};

// What spawn_logged started.
struct logged_child
{
    pid_t pid = -1;
    std::shared_ptr<child_output> output;
};

// spawn_in_own_session (child_process.hpp) with its stdout and stderr on a child_output tagged
// `tags`; `pass_fd` is given to the child as fd 3.
logged_child spawn_logged(boost::asio::io_context& io, std::vector<std::string> argv,
                          const std::string& what, output_tags tags, int pass_fd = -1);

} // namespace cellbox::gateway
