#pragma once

#include <chrono>
#include <cstddef>

namespace cellbox::gateway
{

// How a kernel's messages flow to its clients (kernel_io applies them).
struct stream_options
{
    // A client session none of whose WebSockets is connected keeps its messages this long,
    // for a reconnect with the same session_id (0: no buffering).
    std::chrono::milliseconds replay_timeout{std::chrono::minutes(5)};
    std::size_t replay_max_messages = 10000;
    std::size_t replay_max_bytes = std::size_t(64) << 20;
    std::size_t max_output_bytes = std::size_t(16) << 20; // per cell; 0: no cap
    double iopub_msg_rate_limit = 0;                      // messages/s; 0: off
    double iopub_data_rate_limit = 0;                     // bytes/s; 0: off
    double rate_limit_window = 3;                         // seconds
};

} // namespace cellbox::gateway
