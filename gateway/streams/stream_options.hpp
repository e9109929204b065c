#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

namespace cellbox::gateway
{

class stream_budget;

// A kernel's iopub is a PUB socket: it drops messages at ZeroMQ's high-water mark when the
// gateway reads slower than a cell writes, the cell's final idle status among them. A reply
// without its idle status this long after it: the cell is over anyway (nbclient's
// iopub_timeout). The execute API's runner ends the execution, the kernel manager the busy state.
constexpr std::chrono::seconds lost_idle_grace{2};

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
    // Bytes of kernel messages all replay buffers and WebSocket outboxes of the gateway may
    // hold together, each message counted once (0: no limit). 512 MiB: eight sessions' full
    // replay buffers or outboxes (64 MiB each) of distinct output fit, or 32 cells' full
    // output (max_output_bytes), and a tenant still cannot make the gateway hold more than
    // a small share of a host that runs 1 GiB kernels.
    std::size_t memory_budget = std::size_t(512) << 20;
    // Enforces memory_budget (kernel_manager makes it); null: messages are not counted.
    std::shared_ptr<stream_budget> budget;
    // ZeroMQ I/O threads that serve all kernels, fixed by the first kernel (0: one per core;
    // `serve` makes 0 mean its HTTP thread instead, see io_thread_driver).
    std::size_t io_threads = 0;
};

} // namespace cellbox::gateway
