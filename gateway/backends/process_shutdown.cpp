#include "backends/process_shutdown.hpp"

#include "telemetry/log.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <iterator>
#include <string>
#include <sys/wait.h>
#include <thread>

namespace cellbox::gateway
{

bool child_reaped(pid_t pid)
{
    return waitpid(pid, nullptr, WNOHANG) != 0; // reaped now, or not our child (any more)
}

bool process_gone(pid_t pid)
{
    if (::kill(pid, 0) != 0)
    {
        return errno == ESRCH;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    return close == std::string::npos || (close + 2 < text.size() && text[close + 2] == 'Z');
}

std::vector<pid_t> kill_when_late(const std::vector<pid_t>& pids,
                                  const std::function<bool(pid_t)>& gone,
                                  std::chrono::steady_clock::time_point deadline, const char* what,
                                  const std::function<bool()>& also_wait_for)
{
    std::vector<pid_t> left = pids;
    const auto settled = [&]
    {
        left.erase(std::remove_if(left.begin(), left.end(), gone), left.end());
        const bool others_done = !also_wait_for || also_wait_for();
        return left.empty() && others_done;
    };
    while (!settled() && std::chrono::steady_clock::now() < deadline)
    {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (const pid_t pid : left)
    {
        log::warn("a helper did not stop in time after SIGTERM; killed (its session's cgroups "
                  "stay until the next launcher removes them)",
                  {{"helper", what}, {"pid", pid}});
        ::kill(pid, SIGKILL);
    }
    return left;
}

} // namespace cellbox::gateway
