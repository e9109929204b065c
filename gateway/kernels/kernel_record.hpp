#pragma once

#include "backends/kernel_process.hpp"
#include "kernels/execution_tracker.hpp"
#include "kernels/kernel_lifecycle.hpp"
#include "streams/kernel_io.hpp"

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace cellbox::gateway
{

// One kernel as the kernel manager keeps it: who owns it and what it may use, its current
// process and connection, its lifecycle, the requests it has not answered, its clients.
struct kernel_record
{
    std::string id;
    std::string name;
    std::string owner;                      // user name ("admin" for the admin token)
    std::uint64_t memory_bytes = 0;         // cgroup limit of this kernel
    double cell_timeout_s = 0;              // default cell limit for this owner
    double cell_timeout_cap_s = 0;          // largest a request may ask (0: none)
    std::map<std::string, std::string> env; // validated KERNEL_* variables
    // Its current process, from a backend (none: starting, between two, or dead).
    std::unique_ptr<kernel_process> process;
    // The backend that started it (for abandoning it), an index into the manager's list.
    std::size_t backend = 0;
    // Counts launches: a backend's answer for an earlier one (the kernel was restarted or shut
    // down while it started) carries an older count and is abandoned.
    std::uint64_t launch_serial = 0;
    std::unique_ptr<kernel_io> io;
    kernel_lifecycle lifecycle;
    // Jupyter's execution_state: only the last status its process reported (the model
    // shows it while the kernel is ready); never decides what the gateway does.
    std::string execution_state = "starting";
    // Counts the kernel_io connections made and stopped: events a stopped one posted
    // before it stopped carry an older count and are ignored.
    std::uint64_t io_epoch = 0;
    std::string last_activity;
    std::chrono::steady_clock::time_point active_at;   // last_activity, for the culler
    std::chrono::steady_clock::time_point launched_at; // of the current process
    int connections = 0;
    std::string reason; // why it last died, for the model
    bool ready = false;
    // Requests sent and not answered, and those held between two processes (restarting)
    // or before the new one was ready: sent to it once it is, or answered with an error.
    execution_tracker requests;
    std::unique_ptr<boost::asio::steady_timer> hard_deadline; // of the running cell
    // Armed by a reply that leaves nothing pending while the kernel looks busy, dropped by
    // the next status: if it fires, the kernel's iopub lost the idle status (lost_idle_grace).
    std::unique_ptr<boost::asio::steady_timer> lost_idle;
    // The request answered last (session id, request header): the parent of the idle status
    // the gateway sends in place of a lost one.
    std::optional<execution_tracker::replied_request> last_replied;
    // A hibernate request waiting for the reply of a cell that just ended (hibernate()).
    std::unique_ptr<boost::asio::steady_timer> hibernate_wait;
    std::string kill_reason; // set before we kill it
    std::vector<std::function<void(bool)>> ready_waiters;
    std::vector<std::function<void()>> exit_waiters;
    // WebSocket connections, re-attached to the new process after a restart.
    std::map<std::uint64_t, std::pair<std::string, kernel_io::deliver_fn>> attached;
    // Between two processes (io is null): what disconnected sessions have waiting, handed
    // from the old kernel_io to the next.
    kernel_io::kept_sessions kept;
    // Hibernation (kernels/kernel_hibernation.cpp): the next process must restore the image
    // before it serves requests; the bytes of the image in the state directory (0: none);
    // why the last restore failed, told to the next execute_request (SessionRestoreError).
    bool resuming = false;
    std::chrono::steady_clock::time_point resume_started;
    double resume_process_ms = 0;  // resume_started to its new process answering
    double resume_handover_ms = 0; // the image handed to that process
    // Client requests sent to it, and how many there were at its last image: a checkpoint only
    // when they differ. Until quiet_until, messages are the gateway's own, not activity.
    std::uint64_t client_requests = 0;
    std::uint64_t checkpointed_requests = 0;
    std::chrono::steady_clock::time_point quiet_until;
    std::uint64_t image_bytes = 0;
    std::string restore_failure;
};

// jupyter_server's model of a kernel (GET /api/kernels/ID).
nlohmann::json kernel_model(const kernel_record& k);
// The client sessions of the kernel: connected, or kept for their reconnect (replay).
std::set<std::string> sessions_of(const kernel_record& k);
// A cell is running: a request waits for its reply, or the kernel's last status was busy.
bool running_a_cell(const kernel_record& k);
// Ends a hibernate request's wait (hibernate_wait) once the kernel is done with its cell: the
// reply and the idle status come on two sockets, so both call this.
void wake_hibernate_wait(kernel_record& k);

} // namespace cellbox::gateway
