#include "backends/helper_program.hpp"

#include "cellbox/unique_fd.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

constexpr std::size_t kept_output = 4096;

// posix_spawn's attributes and file actions, destroyed whatever happens.
struct spawn_setup
{
    posix_spawnattr_t attributes{};
    posix_spawn_file_actions_t actions{};
    spawn_setup()
    {
        posix_spawnattr_init(&attributes);
        posix_spawn_file_actions_init(&actions);
    }
    ~spawn_setup()
    {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    }
    spawn_setup(const spawn_setup&) = delete;
    spawn_setup& operator=(const spawn_setup&) = delete;
};

} // namespace

std::string find_system_program(const std::string& name)
{
    for (const char* dir : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"})
    {
        const std::string path = std::string(dir) + "/" + name;
        if (access(path.c_str(), X_OK) == 0)
        {
            return path;
        }
    }
    return "";
}

program_result run_program(const std::vector<std::string>& argv)
{
    const std::string program = argv.empty() ? "" : find_system_program(argv.front());
    if (program.empty())
    {
        throw std::runtime_error((argv.empty() ? std::string("a program") : argv.front()) +
                                 " not found in /usr/sbin, /sbin, /usr/bin or /bin");
    }
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    {
        throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    }
    unique_fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);

    spawn_setup setup;
    // The child starts with no signal blocked and every signal at its default action, as a
    // program expects (the gateway blocks and catches some).
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&setup.attributes, &none);
    posix_spawnattr_setsigdefault(&setup.attributes, &all);
    posix_spawnattr_setflags(&setup.attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_addopen(&setup.actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), 1);
    posix_spawn_file_actions_adddup2(&setup.actions, write_end.get(), 2);
    posix_spawn_file_actions_addclosefrom_np(&setup.actions, 3);

    std::vector<std::string> args = argv;
    args.front() = program;
    std::vector<char*> raw;
    for (auto& arg : args)
    {
        raw.push_back(arg.data());
    }
    raw.push_back(nullptr);
    std::string path_variable = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
    std::string locale_variable = "LC_ALL=C"; // messages in the log in one language
    char* environment[] = {path_variable.data(), locale_variable.data(), nullptr};

    pid_t pid = -1;
    const int error = posix_spawn(&pid, program.c_str(), &setup.actions, &setup.attributes,
                                  raw.data(), environment);
    write_end.reset();
    if (error != 0)
    {
        throw std::runtime_error("cannot start " + program + ": " + std::strerror(error));
    }
    program_result result;
    char buffer[4096];
    for (;;)
    {
        const ssize_t n = read(read_end.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            break;
        }
        result.output.append(buffer, static_cast<std::size_t>(n));
        if (result.output.size() > 2 * kept_output)
        {
            result.output.erase(0, result.output.size() - kept_output);
        }
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    {
    }
    if (result.output.size() > kept_output)
    {
        result.output.erase(0, result.output.size() - kept_output);
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

} // namespace cellbox::gateway
