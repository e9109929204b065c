#pragma once

#include "cellbox/unique_fd.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace cellbox::kernel
{

// Replaces file descriptors 1 and 2 of this process with pipes and hands what is written to
// them to `sink` as valid UTF-8 text. This is how output that bypasses sys.stdout reaches the
// frontend: C extensions, os.system(), subprocesses with inherited descriptors.
class fd_capture
{
public:
    // Returns false when it does not take the text (no cell is running): the text then goes to
    // the descriptor that was there before the capture, i.e. the kernel's log.
    using sink = std::function<bool(const std::string& stream_name, const std::string& text)>;

    explicit fd_capture(sink on_output);
    ~fd_capture();

    fd_capture(const fd_capture&) = delete;
    fd_capture& operator=(const fd_capture&) = delete;

    // Flushes C stdio and waits (at most `limit`) until every byte already written to the
    // pipes has been handed to the sink.
    void drain(std::chrono::milliseconds limit = std::chrono::milliseconds(200));

private:
    struct captured_stream
    {
        int target_fd;
        const char* name;
    };
    static constexpr captured_stream streams[2] = {{1, "stdout"}, {2, "stderr"}};

    void read_loop();
    bool pipes_empty() const;

    sink m_sink;
    unique_fd m_saved[2];
    unique_fd m_read_end[2];
    unique_fd m_stop_read;
    unique_fd m_stop_write;
    std::atomic<int> m_in_flight{0};
    std::thread m_reader;
};

} // namespace cellbox::kernel
