#pragma once
// What Ctrl-C reaches: the kernels that runs are using right now. On a stop every one of them
// is deleted through the gateway, which ends the cell that runs in it (its stream closes with
// status "died") so that each run writes its notebook and returns.
#include "client/http_client.hpp"

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace cellbox::gateway::runner
{

class run_control
{
public:
    bool stopped() const { return m_stopped.load(); }

    // A run's kernel exists; returns false (and the caller deletes it) after a stop.
    bool add(const client::http_client& client, const std::string& kernel_id)
    {
        std::lock_guard lock(m_mutex);
        if (m_stopped)
        {
            return false;
        }
        m_kernels.emplace(&client, kernel_id);
        return true;
    }

    void remove(const client::http_client& client, const std::string& kernel_id)
    {
        std::lock_guard lock(m_mutex);
        m_kernels.erase({&client, kernel_id});
    }

    // From the signal thread: no new kernels, the current ones deleted.
    void stop()
    {
        std::set<std::pair<const client::http_client*, std::string>> kernels;
        {
            std::lock_guard lock(m_mutex);
            m_stopped = true;
            kernels.swap(m_kernels);
        }
        for (const auto& [client, id] : kernels)
        {
            try
            {
                client->request(client::verb::delete_, "api/kernels/" + id);
            }
            catch (const client::gateway_error&)
            {
                // The gateway is gone already: so is the kernel.
            }
        }
    }

private:
    std::atomic<bool> m_stopped{false};
    std::mutex m_mutex;
    std::set<std::pair<const client::http_client*, std::string>> m_kernels;
};

} // namespace cellbox::gateway::runner
