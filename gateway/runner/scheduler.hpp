#pragma once
// `cellbox run -j N`: jobs run N at a time, each on a thread of its own (a job is mostly
// waiting for its kernel over HTTP), in the order given.
#include <cstddef>
#include <functional>

namespace cellbox::gateway::runner
{

// Calls `job(i)` for every i in [0, count), at most `parallel` at once; returns when all are
// done. A job must not throw.
void run_jobs(std::size_t count, std::size_t parallel, const std::function<void(std::size_t)>& job);

} // namespace cellbox::gateway::runner
