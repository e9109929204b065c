#include "runner/private_gateway.hpp"

#include "client/gateway_url.hpp"

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <poll.h>
#include <random>
#include <regex>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace cellbox::gateway::runner
{
namespace
{

std::string random_token()
{
    std::random_device device;
    static constexpr char digits[] = "0123456789abcdef";
    std::string token;
    for (int i = 0; i < 48; ++i)
    {
        token += digits[device() % 16];
    }
    return token;
}

// The first line serve prints on stdout (its URL), waiting at most `seconds`.
std::string first_line(int fd, int seconds)
{
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (line.find('\n') == std::string::npos && line.size() < 4096)
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0)
        {
            break;
        }
        std::array<char, 512> buffer{};
        const ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n <= 0)
        {
            break;
        }
        line.append(buffer.data(), static_cast<std::size_t>(n));
    }
    return line;
}

} // namespace

private_gateway::private_gateway(const std::string& program, const std::string& work_dir)
    : m_token(random_token())
{
    // Kernels' ipc sockets live below this directory and a socket path has 108 bytes at most:
    // a long $TMPDIR gives way to /tmp.
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (base.string().size() > 40)
    {
        base = "/tmp";
    }
    std::string pattern = (base / "cellbox-run-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
    {
        throw client::gateway_error("cannot create a temporary directory for the private gateway");
    }
    m_dir = pattern;
    std::vector<std::string> args = {
        program,         "serve",
        "--ip",          "127.0.0.1",
        "--port",        "0",
        "--runtime-dir", m_dir + "/run",
        "--work-dir",    work_dir.empty() ? m_dir + "/work" : work_dir};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
    {
        if (std::string_view(*e).rfind("CELLBOX_TOKEN=", 0) != 0)
        {
            env.emplace_back(*e);
        }
    }
    env.push_back("CELLBOX_TOKEN=" + m_token);
    std::vector<char*> argv;
    std::vector<char*> envp;
    for (auto& a : args)
    {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    for (auto& e : env)
    {
        envp.push_back(e.data());
    }
    envp.push_back(nullptr);

    std::array<int, 2> out{};
    if (pipe2(out.data(), O_CLOEXEC) != 0)
    {
        throw client::gateway_error("cannot create a pipe for the private gateway");
    }
    const std::string log = log_path();
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = getpid();
    // fork, not posix_spawn: the child asks for SIGTERM when the runner dies (even by SIGKILL),
    // so that no sandboxed gateway outlives it. Only async-signal-safe calls before execve.
    m_pid = log_fd < 0 || null_fd < 0 ? -1 : fork();
    if (m_pid == 0)
    {
        sigset_t none;
        sigemptyset(&none);
        for (const int s : {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGCHLD})
        {
            signal(s, SIG_DFL);
        }
        sigprocmask(SIG_SETMASK, &none, nullptr); // the runner blocks signals in its threads
        setpgid(0, 0); // a terminal's Ctrl-C reaches the runner, not the gateway
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent ||
            dup2(out[1], STDOUT_FILENO) < 0 || dup2(log_fd, STDERR_FILENO) < 0 ||
            dup2(null_fd, STDIN_FILENO) < 0)
        {
            _exit(127);
        }
        execve(program.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    const int spawned = m_pid < 0 ? errno : 0;
    for (const int fd : {log_fd, null_fd, out[1]})
    {
        if (fd >= 0)
        {
            close(fd);
        }
    }
    m_stdout = out[0];
    if (m_pid < 0)
    {
        stop();
        throw client::gateway_error("cannot start " + program +
                                    " serve: " + std::strerror(spawned));
    }
    const std::string line = first_line(m_stdout, 60);
    static const std::regex listening(R"(http://127\.0\.0\.1:([0-9]+)/)");
    std::smatch match;
    if (!std::regex_search(line, match, listening))
    {
        // The directory (and the log in it) goes with stop(): the log's end goes in the message.
        std::ifstream log_file(log);
        std::string text{std::istreambuf_iterator<char>(log_file), {}};
        text = text.size() > 2000 ? text.substr(text.size() - 2000) : text;
        stop();
        throw client::gateway_error(
            "the private `cellbox serve` did not start; its log ends with:\n" + text);
    }
    m_url = "http://127.0.0.1:" + match[1].str() + "/";
}

private_gateway::~private_gateway()
{
    stop();
}

void private_gateway::stop()
{
    if (m_pid > 0)
    {
        kill(m_pid, SIGTERM);
        int status = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (waitpid(m_pid, &status, WNOHANG) == 0)
        {
            if (std::chrono::steady_clock::now() > deadline)
            {
                kill(m_pid, SIGKILL);
                waitpid(m_pid, &status, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        m_pid = -1;
    }
    if (m_stdout >= 0)
    {
        close(m_stdout);
        m_stdout = -1;
    }
    if (!m_dir.empty())
    {
        std::error_code ignored;
        std::filesystem::remove_all(m_dir, ignored);
        m_dir.clear();
    }
}

} // namespace cellbox::gateway::runner
