#include "backends/kernel_backend.hpp"

#include <filesystem>

namespace cellbox::gateway
{

std::unique_ptr<kernel_process> kernel_backend::hand_out(std::unique_ptr<kernel_process> process,
                                                         pid_t pid, const std::string& kernel_id)
{
    m_handed_out[pid] = {kernel_id, process->serial(), process->directory()};
    process->log_as(kernel_id);
    return process;
}

bool kernel_backend::report_exit(pid_t pid)
{
    const auto it = m_handed_out.find(pid);
    if (it == m_handed_out.end())
    {
        return false;
    }
    process_exit exit{it->second.kernel_id, it->second.serial,
                      contract::read_verdict_file(verdict_file_of(it->second.directory))};
    m_handed_out.erase(it);
    if (m_on_exit)
    {
        m_on_exit(exit);
    }
    return true;
}

namespace
{

void discard_with_directory(kernel_process& process)
{
    process.discard();
    std::error_code ignored;
    std::filesystem::remove_all(process.directory(), ignored);
}

} // namespace

void kernel_backend::bound(std::unique_ptr<kernel_process> process, pid_t pid,
                           const std::string& kernel_id, bool ok, const std::string& error,
                           const launch_handler& done)
{
    if (!ok)
    {
        discard_with_directory(*process);
        done(nullptr, "handing over the pooled session failed: " + error);
        return;
    }
    done(hand_out(std::move(process), pid, kernel_id), "");
}

void kernel_backend::abandon(std::unique_ptr<kernel_process> process)
{
    if (!process)
    {
        return;
    }
    for (auto it = m_handed_out.begin(); it != m_handed_out.end(); ++it)
    {
        if (it->second.serial == process->serial())
        {
            m_handed_out.erase(it);
            break;
        }
    }
    discard_with_directory(*process);
}

} // namespace cellbox::gateway
