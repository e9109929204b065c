// The zygote: one warm interpreter that forks a sandboxed kernel per request. It never runs
// session code itself, holds nothing a session could use after the fork, reaps its children
// and dies with its owner's connection (sessions notice through their links and clean up).
#include "cellbox/kernel/zygote.hpp"

#include "cellbox/contract/zygote.hpp"
#include "cellbox/kernel/huge_pages.hpp"
#include "cellbox/kernel/python_interpreter.hpp"
#include "cellbox/kernel/zygote_request.hpp"
#include "cellbox/sandbox/handover.hpp"
#include "cellbox/sandbox/policy.hpp"
#include "cellbox/unique_fd.hpp"
#include "cellbox_zygote_py_source.hpp" // generated: python/cellbox_zygote.py
#include "default_policy_toml.hpp"      // generated: share/cellbox/policies/default.toml
#include "memory_hygiene.hpp"
#include "zygote_session.hpp"

#include <Python.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <iostream>
#include <map>
#include <poll.h>
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace cellbox::kernel
{
namespace
{

namespace py = pybind11;
using nlohmann::json;

std::system_error system_failure(const std::string& what)
{
    return std::system_error(errno, std::generic_category(), what);
}

std::vector<std::string> directory_entries(const char* path)
{
    std::vector<std::string> names;
    DIR* dir = opendir(path);
    if (dir == nullptr)
    {
        throw system_failure(std::string("list ") + path);
    }
    while (const dirent* entry = readdir(dir))
    {
        if (entry->d_name[0] != '.')
        {
            names.emplace_back(entry->d_name);
        }
    }
    closedir(dir);
    return names;
}

// A fork copies only the calling thread: any other thread's locks and work would be lost
// or, worse, inherited half-done by every session.
void require_single_thread()
{
    if (const auto tasks = directory_entries("/proc/self/task"); tasks.size() != 1)
    {
        throw std::runtime_error("the zygote has " + std::to_string(tasks.size()) +
                                 " threads; a warm module started one (set its *_NUM_THREADS)");
    }
}

// Sessions close every inherited descriptor; one still used by Python would later close or
// write to whatever the session reuses its number for.
void require_no_python_descriptors()
{
    std::string open_fds;
    for (const auto& name : directory_entries("/proc/self/fd"))
    {
        const int fd = std::stoi(name);
        char target[256] = {};
        const std::string link = "/proc/self/fd/" + name;
        if (fd > 2 && readlink(link.c_str(), target, sizeof target - 1) > 0 &&
            std::strncmp(target, "/proc/", 6) != 0) // the listing's own descriptor
        {
            open_fds += " " + name + " (" + target + ")";
        }
    }
    if (!open_fds.empty())
    {
        throw std::runtime_error("descriptors open after warming up:" + open_fds);
    }
}

py::module load_support_module()
{
    return module_from_source("cellbox_zygote", cellbox_zygote_py_source, "cellbox_zygote.py");
}

unique_fd connect_to(const std::string& path)
{
    unique_fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof address.sun_path)
    {
        throw std::runtime_error("control socket path too long: " + path);
    }
    std::memcpy(address.sun_path, path.c_str(), path.size());
    if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    {
        throw system_failure("connect to " + path);
    }
    return fd;
}

class zygote
{
public:
    zygote(const kernel_options& options, sandbox::policy rules, py::object support,
           unique_fd control)
        : m_options(options), m_rules(std::move(rules)), m_support(std::move(support)),
          m_control(std::move(control)), m_next_uid(m_rules.first_uid + 1),
          m_filter(sandbox::seccomp_filter::compile(m_rules.allowed_syscalls))
    {
    }

    int serve(double warm_ms, const huge_page_fold& heap)
    {
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, nullptr);
        m_children.reset(signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK));
        // Requests name users from here on: what the zygote frees must not keep them for the
        // sessions it forks later (memory_hygiene.hpp).
        hygiene::scrub_on_free();
        send(contract::zygote_ready{getpid(), warm_ms, m_options.warm_modules, heap.folded_bytes,
                                    heap.error});
        while (true)
        {
            std::vector<pollfd> fds = {{m_control.get(), POLLIN, 0}, {m_children.get(), POLLIN, 0}};
            std::vector<pid_t> owners;
            for (auto& [pid, session] : m_sessions)
            {
                if (session.link_open)
                {
                    fds.push_back({session.link.get(), POLLIN, 0});
                    owners.push_back(pid);
                }
            }
            if (poll(fds.data(), fds.size(), -1) < 0)
            {
                continue;
            }
            if (fds[0].revents != 0 && !read_requests())
            {
                return 0; // the owner is gone; the sessions see their links close
            }
            for (std::size_t i = 2; i < fds.size(); ++i)
            {
                if (fds[i].revents != 0)
                {
                    read_link(owners[i - 2], 0);
                }
            }
            if (fds[1].revents != 0)
            {
                signalfd_siginfo info{};
                while (read(m_children.get(), &info, sizeof info) == sizeof info)
                {
                }
                reap();
            }
        }
    }

private:
    struct session
    {
        unique_fd link;
        bool link_open = true;
        std::deque<json> waiting; // ids of "go" requests the supervisor has not answered
        std::optional<contract::verdict> verdict;
    };

    void send(const contract::zygote_message& message)
    {
        const std::string line = contract::encode(message) + "\n";
        for (std::size_t done = 0; done < line.size();)
        {
            const ssize_t n =
                ::send(m_control.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR)
            {
                continue;
            }
            if (n <= 0)
            {
                _exit(0); // the owner is gone
            }
            done += static_cast<std::size_t>(n);
        }
    }

    bool read_requests()
    {
        char buffer[65536];
        const ssize_t n = read(m_control.get(), buffer, sizeof buffer);
        if (n <= 0)
        {
            return n < 0 && errno == EINTR;
        }
        m_inbox.append(buffer, static_cast<std::size_t>(n));
        explicit_bzero(buffer, static_cast<std::size_t>(n));
        for (auto end = m_inbox.find('\n'); end != std::string::npos; end = m_inbox.find('\n'))
        {
            m_pending.push_back(m_inbox.substr(0, end));
            m_inbox.erase(0, end + 1);
        }
        hygiene::scrub_tail(m_inbox);
        // Lines wait in m_pending, where a session forked meanwhile can scrub its copy of them.
        while (!m_pending.empty())
        {
            std::string line = std::move(m_pending.front());
            m_pending.pop_front();
            if (line.find_first_not_of(" \t\r") != std::string::npos)
            {
                handle(line);
            }
            hygiene::scrub(line);
        }
        return true;
    }

    void handle(const std::string& line)
    {
        const contract::zygote_request_read request = contract::decode_zygote_request(line);
        try
        {
            const contract::zygote_op& op = request.op.value(); // or the reason it was refused
            if (const auto* spawn_op = std::get_if<contract::zygote_spawn>(&op))
            {
                send(contract::zygote_answer{request.id, true, spawn(*spawn_op), "", {}});
            }
            else if (const auto* go_op = std::get_if<contract::zygote_go>(&op))
            {
                go(*go_op, request.id);
            }
            else
            {
                // The supervisor kills the session when its link closes, removes its
                // cgroups and still reports the verdict.
                shutdown(find(std::get<contract::zygote_kill>(op).pid).link.get(), SHUT_WR);
                send(contract::zygote_answer{request.id, true, {}, "", {}});
            }
        }
        catch (const std::exception& e)
        {
            send(contract::zygote_answer::failure(request.id, e));
        }
    }

    session& find(pid_t pid)
    {
        auto it = m_sessions.find(pid);
        if (it == m_sessions.end())
        {
            throw std::invalid_argument("no session with pid " + std::to_string(pid));
        }
        return it->second;
    }

    pid_t spawn(const contract::zygote_spawn& request)
    {
        spawn_request spawn = session_of(request, m_rules, m_options, next_uid(request.uid));
        spawn.sandbox.filter = m_filter; // compiled once, not in every session's supervisor
        require_single_thread();
        int fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
        {
            throw system_failure("socketpair");
        }
        unique_fd link(fds[0]), child_link(fds[1]);
        std::cout.flush();
        std::cerr.flush();
        // What earlier requests left in freed memory and on the stack (other users' paths and
        // uids) is zeroed before the session copies it.
        hygiene::scrub_cached_chunks();
        hygiene::scrub_stack();
        PyOS_BeforeFork();
        const pid_t pid = fork();
        if (pid == 0)
        {
            // The requests not handled yet are the zygote's business, not this session's.
            hygiene::stop_scrubbing();
            hygiene::scrub(m_inbox);
            for (std::string& line : m_pending)
            {
                hygiene::scrub(line);
            }
            become_supervisor(spawn, child_link.get(), m_support);
        }
        const int fork_errno = errno;
        PyOS_AfterFork_Parent();
        if (pid < 0)
        {
            errno = fork_errno;
            throw system_failure("fork");
        }
        m_sessions[pid].link = std::move(link);
        return pid;
    }

    std::uint32_t next_uid(const std::optional<std::uint32_t>& requested)
    {
        if (requested)
        {
            return *requested;
        }
        // One uid per live session, as the gateway gives cellbox-sandbox --uid.
        const std::uint32_t uid = m_next_uid;
        m_next_uid =
            m_next_uid + 1 >= m_rules.first_uid + 60000 ? m_rules.first_uid + 1 : m_next_uid + 1;
        return uid;
    }

    void go(const contract::zygote_go& request, const json& id)
    {
        session& target = find(request.pid);
        if (!target.link_open ||
            !sandbox::send_record(target.link.get(), contract::encode(request.binding)))
        {
            throw std::runtime_error("the session is ending");
        }
        target.waiting.push_back(id);
    }

    // Messages from a session's supervisor: answers to "go", then its verdict.
    void read_link(pid_t pid, int flags)
    {
        session& s = m_sessions[pid];
        while (s.link_open)
        {
            char buffer[65536];
            const ssize_t n = recv(s.link.get(), buffer, sizeof buffer, flags | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            {
                return;
            }
            if (n <= 0)
            {
                s.link_open = false;
                return;
            }
            const auto record = contract::decode_supervisor_record(
                std::string_view(buffer, static_cast<std::size_t>(n)));
            const auto* verdict = record ? std::get_if<contract::verdict>(&*record) : nullptr;
            if (verdict != nullptr)
            {
                s.verdict = *verdict;
            }
            else if (!s.waiting.empty())
            {
                contract::zygote_answer reply{s.waiting.front(), false, pid, "", {}};
                s.waiting.pop_front();
                if (const auto* answer =
                        record ? std::get_if<contract::late_binding_answer>(&*record) : nullptr)
                {
                    reply.ok = answer->ok;
                    reply.error = answer->error;
                    reply.system_error = answer->system_error;
                }
                else
                {
                    reply.error =
                        "the session's supervisor sent a malformed answer: " + record.error();
                }
                send(reply);
            }
        }
    }

    void reap()
    {
        int status = 0;
        pid_t pid = 0;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        {
            auto it = m_sessions.find(pid);
            if (it == m_sessions.end())
            {
                continue;
            }
            read_link(pid, 0);
            session& s = it->second;
            for (const json& id : s.waiting)
            {
                send(contract::zygote_answer{id, false, pid, "the session ended", {}});
            }
            contract::verdict verdict;
            if (s.verdict)
            {
                verdict = *s.verdict;
            }
            else
            {
                verdict.kind = "internal_error";
                verdict.message = WIFSIGNALED(status)
                                      ? "the session's supervisor was killed by signal " +
                                            std::to_string(WTERMSIG(status))
                                      : "the session's supervisor exited without a verdict";
            }
            send(contract::zygote_exit{pid, verdict});
            m_sessions.erase(it);
        }
    }

    const kernel_options& m_options;
    sandbox::policy m_rules;
    py::object m_support;
    unique_fd m_control;
    unique_fd m_children;
    std::map<pid_t, session> m_sessions;
    std::string m_inbox;
    std::deque<std::string> m_pending; // request lines read, not handled yet
    std::uint32_t m_next_uid;
    sandbox::seccomp_filter m_filter;
};

} // namespace

int run_zygote(const kernel_options& options)
{
    try
    {
        sandbox::policy rules = sandbox::parse_policy(default_policy_toml, "default.toml");
        // The interpreter is initialised once, here, from the environment: it must be the
        // sessions' (the policy's), not the gateway's (sys.executable came out as the host's
        // pyenv shim, ~/.ipython was root's).
        clearenv();
        for (const auto& [name, value] : rules.environment)
        {
            setenv(name.c_str(), value.c_str(), 1);
        }
        // No thread may exist at a fork: BLAS and OpenMP pools start one per core at import.
        for (const char* name :
             {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"})
        {
            setenv(name, "1", 1);
        }
        // matplotlib reads its backend once, at import: the inline one, as in every kernel.
        setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline", 0);
        prepare_python_environment();
        py::scoped_interpreter python(/*init_signal_handlers=*/false);
        py::module support = load_support_module();
        const auto warming = std::chrono::steady_clock::now();
        try
        {
            support.attr("warm_up")(options.warm_modules);
            load_kernel_support_module().attr("prebuild_shell")();
            support.attr("freeze")();
        }
        catch (const py::error_already_set& e)
        {
            // Its message needs the interpreter, which is gone once the exception leaves
            // this scope: take it now.
            throw std::runtime_error(std::string("warming up failed: ") + e.what());
        }
        const double warm_ms =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - warming)
                .count();
        // Last: the heap is all there now, and no session has been forked from it yet
        // (huge_pages.hpp).
        const huge_page_fold heap = fold_into_huge_pages();
        require_single_thread();
        require_no_python_descriptors();
        zygote server(options, std::move(rules), support, connect_to(options.zygote_socket));
        const int status = server.serve(warm_ms, heap);
        std::cout.flush();
        _exit(status); // Python and every warm module would be torn down for nothing
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-kernel --zygote: " << e.what() << std::endl;
    }
    _exit(1);
}

} // namespace cellbox::kernel
