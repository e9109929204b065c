#pragma once
// The executions of the execute API, per kernel, so that a client can come back to one
// (GET /api/kernels/{id}/executions/{execution_id}) or stop it (DELETE). Bounded: at most
// `max_per_kernel` per kernel, running or kept (finished ones are forgotten after the
// keep time, or sooner, oldest first, to make room).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace cellbox::gateway
{

class execution_runner;

class execution_registry
{
public:
    explicit execution_registry(std::size_t max_per_kernel) : m_max(max_per_kernel) {}

    // Keeps `run` under its kernel, forgetting finished executions first if the kernel has no
    // room; false when all it keeps are still running.
    bool add(const std::shared_ptr<execution_runner>& run);
    std::shared_ptr<execution_runner> find(const std::string& kernel_id,
                                           const std::string& execution_id) const;
    void forget(const std::string& kernel_id, const std::string& execution_id);
    // The kernel went: its running executions end as died, and all are forgotten.
    void remove_kernel(const std::string& kernel_id);
    // Every kernel's, when the gateway stops: an execution holds the API context that holds
    // this registry (kernels hibernated at a stop are not removed, so nothing else breaks
    // that cycle; LeakSanitizer found it).
    void remove_all();
    std::size_t count(const std::string& kernel_id) const;
    std::size_t max_per_kernel() const { return m_max; }

private:
    std::size_t m_max;
    // kernel id -> (order of creation -> execution); the order picks the oldest to forget.
    struct kept
    {
        std::uint64_t order;
        std::shared_ptr<execution_runner> run;
    };
    std::map<std::string, std::map<std::string, kept>> m_kernels;
    std::uint64_t m_next_order = 0;
};

} // namespace cellbox::gateway
