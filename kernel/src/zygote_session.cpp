// One zygote session, from the fork on: its supervisor (outside the sandbox) and its payload
// (inside), which continues the warm interpreter as a fresh kernel. The isolation is
// cellbox-sandbox's own (run_sandboxed); only the last step differs: a function call instead
// of execve.
#include "zygote_session.hpp"

#include "cellbox/contract/zygote.hpp"
#include "cellbox/kernel/connection_file.hpp"
#include "cellbox/sandbox/handover.hpp"
#include "cellbox/sandbox/launcher.hpp"

#include <Python.h>
#include <csignal>
#include <fcntl.h>
#include <linux/close_range.h>
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char** environ;

namespace cellbox::kernel
{
namespace
{

namespace py = pybind11;

void redirect(int fd, const std::string& path, int flags)
{
    const int opened = open(path.c_str(), flags | O_CLOEXEC, 0600);
    if (opened < 0 || dup2(opened, fd) < 0)
    {
        _exit(125);
    }
    close(opened);
}

// The payload: this process is now confined (namespaces, uid, seccomp, no descriptors
// but stdio). It becomes a fresh session before any of the session's own code runs.
int run_session(const spawn_request& request, const py::object& support)
{
    // Python's bookkeeping for a fork (PyOS_BeforeFork ran in the zygote): this thread is the
    // main thread, locks are reset, at-fork hooks run (random reseeds itself).
    PyOS_AfterFork_Child();
    py::dict environment;
    for (char** entry = environ; *entry != nullptr; ++entry)
    {
        const std::string text = *entry;
        const auto equals = text.find('=');
        if (equals != std::string::npos)
        {
            environment[py::str(text.substr(0, equals))] = text.substr(equals + 1);
        }
    }
    // As CPython does at start-up (the zygote started Python without its signal handlers, and
    // the sandbox reset every disposition): a write past RLIMIT_FSIZE or to a closed pipe
    // raises OSError in the cell instead of killing the session.
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    support.attr("enter_session")(environment, !request.script.has_value());
    if (request.script)
    {
        return support.attr("run_script")(*request.script, request.script_argv).cast<int>();
    }
    serve_kernel(load_connection_file(request.connection_file), request.kernel);
    return 0;
}

} // namespace

void become_supervisor(const spawn_request& request, int link, const py::object& support)
{
    // Nothing of the zygote may reach the session: not its control connection, not the links
    // of other sessions. (Python holds no descriptor: the zygote checked before forking.)
    redirect(0, "/dev/null", O_RDONLY);
    if (!request.log_file.empty())
    {
        redirect(1, request.log_file, O_WRONLY | O_CREAT | O_APPEND);
        dup2(1, 2);
    }
    constexpr int owner_link = 3;
    if (link != owner_link && dup2(link, owner_link) < 0)
    {
        _exit(125);
    }
    syscall(SYS_close_range, owner_link + 1, ~0U, 0);
    prctl(PR_SET_NAME, "cellbox-session");

    sandbox::session_hooks hooks;
    hooks.owner_link = owner_link;
    hooks.payload = [&request, &support] { return run_session(request, support); };
    const sandbox::verdict result = sandbox::run_sandboxed(request.sandbox, hooks);
    if (!request.verdict_file.empty())
    {
        contract::write_verdict_file(request.verdict_file, result);
    }
    sandbox::send_record(owner_link, contract::encode_supervisor_record(result));
    _exit(result.exit_status());
}

} // namespace cellbox::kernel
