#pragma once
// Where kernels run: the one interface the kernel manager starts kernels through, shaped like
// jupyter_client's KernelProvisionerBase (launch, then the process's interrupt, terminate and
// kill, and its exit with a typed verdict). Implementations: a launch through cellbox-sandbox
// (any kernelspec, the fallback of the others), prespawned launches bound to their user when
// taken, and the zygote's forked sessions. A kernel on another machine, or a hibernated one
// whose process is gone, is one more implementation.
//
// Backends live on the server's io_context thread, like the kernel manager.
#include "backends/kernel_process.hpp"
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/verdict.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>

namespace cellbox::gateway
{

// One kernel to start: whose, with what, bound to which /work.
struct launch_spec
{
    std::string kernel_id;
    std::string kernelspec;
    nlohmann::json argv;   // the kernelspec's
    std::string workdir;   // the owner's directory, mounted at /work
    std::uint32_t uid = 0; // the owner's sandbox uid
    std::uint64_t memory_bytes = 0;
    std::map<std::string, std::string> env; // validated KERNEL_* variables
};

// A process a backend started has ended.
struct process_exit
{
    std::string kernel_id;
    std::uint64_t serial = 0; // kernel_process::serial
    // What the sandbox said happened (none: it left no verdict).
    contract::decoded<contract::verdict> verdict;
};

// What a pool-backed backend has ready (GET /api/status).
struct pool_figures
{
    std::string kernelspec;
    const char* kind;   // "zygote" or "launch"
    std::size_t ready;  // sessions that answer and wait to be taken
    std::size_t size;   // how many it keeps ready at least (pool_size)
    std::size_t target; // how many it keeps now: more than size after a burst of starts
    std::size_t max;    // how many it may keep at most (pool_max)
};

class kernel_backend
{
public:
    // The process, connectable and bound to its user; or none, with the reason (the caller
    // tries the next backend).
    using launch_handler =
        std::function<void(std::unique_ptr<kernel_process> process, std::string error)>;
    using exit_handler = std::function<void(const process_exit&)>;

    virtual ~kernel_backend() = default;

    // Short, for logs: "zygote pool", "launch pool", "sandbox".
    const char* name() const { return name_impl(); }
    // Whether this backend can start `spec` now (its pool has the kernelspec and is ready,
    // no environment it cannot give...).
    bool serves(const launch_spec& spec) const { return serves_impl(spec); }
    // Starts the kernel: `done` exactly once, possibly before launch returns. Throws only when
    // nothing was started (the caller fails the kernel).
    void launch(const launch_spec& spec, launch_handler done)
    {
        launch_impl(spec, std::move(done));
    }
    // The process was not taken after all (its kernel went while it started): ends it and
    // forgets it, without an exit report.
    void abandon(std::unique_ptr<kernel_process> process);
    // SIGCHLD: true if `pid` was this backend's (a process it reports, or a helper of its own).
    bool on_child_exit(pid_t pid) { return on_child_exit_impl(pid); }
    // Server shutdown: what the backend runs for itself (zygotes, pooled sessions) stops.
    void stop() { stop_impl(); }
    // Its pool, if it keeps one.
    std::optional<pool_figures> pool() const { return pool_impl(); }

    // Where exits of handed-out processes are reported.
    void on_exit(exit_handler handler) { m_on_exit = std::move(handler); }

protected:
    // Reports `pid`'s exit to on_exit if it is a process this backend handed out (and
    // forgets it); false if it is not.
    bool report_exit(pid_t pid);
    // Hands out a process: its exit will be reported under `kernel_id`.
    std::unique_ptr<kernel_process> hand_out(std::unique_ptr<kernel_process> process, pid_t pid,
                                             const std::string& kernel_id);
    // A pooled session's binding to its user answered: the process handed out to `done`, or
    // discarded (its directory removed) and `done` told why.
    void bound(std::unique_ptr<kernel_process> process, pid_t pid, const std::string& kernel_id,
               bool ok, const std::string& error, const launch_handler& done);

private:
    virtual const char* name_impl() const = 0;
    virtual bool serves_impl(const launch_spec& spec) const = 0;
    virtual void launch_impl(const launch_spec& spec, launch_handler done) = 0;
    virtual bool on_child_exit_impl(pid_t pid) { return report_exit(pid); }
    virtual void stop_impl() {}
    virtual std::optional<pool_figures> pool_impl() const { return std::nullopt; }

    struct handed_out
    {
        std::string kernel_id;
        std::uint64_t serial;
        std::string directory; // where its verdict is
    };
    std::map<pid_t, handed_out> m_handed_out;
    exit_handler m_on_exit;
};

} // namespace cellbox::gateway
