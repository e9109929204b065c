#pragma once
// One kernel process as a backend hands it to the kernel manager: where to reach it (its
// private directory and connection file) and how to signal it. Shaped like jupyter_client's
// KernelProvisionerBase for a single kernel: interrupt, terminate, kill; its exit comes back
// through its backend (kernel_backend::on_exit) with a typed verdict. The manager never sees
// a pid: a zygote session is killed by its zygote, a prespawned launcher by closing its link,
// and a kernel on another machine would be one more subclass.
//
// Public calls are non-virtual and forward to private *_impl overrides (xeus' style), so that
// what every process does (logging, the serial) stays in one place.
#include "backends/child_output.hpp"
#include "protocol/connection_info.hpp"
#include "streams/kernel_io.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

// What a backend knows of a process it started: its directory, its connection file, the pid
// that stands for it on this machine, the log of its output.
struct process_place
{
    std::string directory;
    connection_info connection;
    pid_t pid = -1;
    std::shared_ptr<child_output> output;
};

class kernel_process
{
public:
    // `client`: the connection a pool already made to it (subscribed, kernel_info answered),
    // or none (the manager connects).
    kernel_process(process_place place, std::unique_ptr<kernel_io> client);
    virtual ~kernel_process() = default;
    kernel_process(const kernel_process&) = delete;
    kernel_process& operator=(const kernel_process&) = delete;

    // Unique in the gateway's life: tells this process's events from an earlier one's.
    std::uint64_t serial() const { return m_serial; }
    const std::string& directory() const { return m_place.directory; }
    const connection_info& connection() const { return m_place.connection; }
    // The pool's connection, once (null if there is none or it was taken).
    std::unique_ptr<kernel_io> take_client() { return std::move(m_client); }
    // From now on its output is logged under the kernel's id (a pooled one was logged under
    // its kernelspec).
    void log_as(const std::string& kernel_id);

    // SIGINT to the kernel (the launcher forwards it into the sandbox).
    void interrupt() { interrupt_impl(); }
    // Asks it to stop (SIGTERM); its exit follows.
    void terminate() { terminate_impl(); }
    // Ends it at once, with everything in its sandbox; its exit follows.
    void kill() { kill_impl(); }
    // Ends a process that was never used (its kernel went while it started, or binding it
    // failed); no exit is reported for it.
    void discard() { discard_impl(); }
    // The kernel answered for the first time.
    void on_ready() { on_ready_impl(); }
    // The gateway is stopping and terminate() was called: waits until `deadline` for it to
    // go, then kills it, so that nothing is left behind.
    void reap_on_shutdown(std::chrono::steady_clock::time_point deadline)
    {
        reap_on_shutdown_impl(deadline);
    }

protected:
    pid_t pid() const { return m_place.pid; }

private:
    virtual void interrupt_impl();
    virtual void terminate_impl();
    virtual void kill_impl();
    virtual void discard_impl() { kill_impl(); }
    virtual void on_ready_impl() {}
    virtual void reap_on_shutdown_impl(std::chrono::steady_clock::time_point deadline);

    std::uint64_t m_serial;
    process_place m_place;
    std::unique_ptr<kernel_io> m_client;
};

} // namespace cellbox::gateway
