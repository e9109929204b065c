#include "runner/scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace cellbox::gateway::runner
{

void run_jobs(std::size_t count, std::size_t parallel, const std::function<void(std::size_t)>& job)
{
    std::atomic<std::size_t> next{0};
    auto worker = [&]
    {
        for (std::size_t i = next++; i < count; i = next++)
        {
            job(i);
        }
    };
    const std::size_t threads =
        std::clamp<std::size_t>(parallel, 1, std::max<std::size_t>(count, 1));
    if (threads == 1)
    {
        worker();
        return;
    }
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (std::size_t t = 0; t < threads; ++t)
    {
        pool.emplace_back(worker);
    }
    for (auto& t : pool)
    {
        t.join();
    }
}

} // namespace cellbox::gateway::runner
