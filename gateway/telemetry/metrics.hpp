#pragma once
// Prometheus metrics: a small thread-safe registry that renders the text exposition format
// 0.0.4, and the gateway's own metrics on top of it. Kernel I/O threads and the server thread
// both record into it; GET /metrics renders it.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace cellbox::gateway
{

class metrics_registry
{
public:
    using labels = std::vector<std::pair<std::string, std::string>>;

    // Declares a metric family; recording into an undeclared name is a programming error
    // (std::logic_error).
    void counter(const std::string& name, const std::string& help);
    void gauge(const std::string& name, const std::string& help);
    void histogram(const std::string& name, const std::string& help, std::vector<double> bounds);

    void increment(const std::string& name, const labels& series = {}, double by = 1);
    void set(const std::string& name, const labels& series, double value);
    // Drops every series of a gauge (before setting the ones that exist now).
    void clear(const std::string& name);
    void observe(const std::string& name, const labels& series, double value);

    // The text exposition format, families in name order.
    std::string render() const;

private:
    struct series_value
    {
        double value = 0;                   // counter or gauge
        std::vector<std::uint64_t> buckets; // histogram: per bound, not cumulative
        double sum = 0;
        std::uint64_t count = 0;
    };
    struct family
    {
        std::string type;
        std::string help;
        std::vector<double> bounds;
        std::map<labels, series_value> series;
    };

    family& find(const std::string& name, const char* type);
    void declare(const std::string& name, const char* type, const std::string& help,
                 std::vector<double> bounds);

    mutable std::mutex m_mutex;
    std::map<std::string, family> m_families;
};

// The registry every part of the gateway records into, with cellbox's metric families
// declared (and their fixed label values present at 0, so that a scrape shows them).
metrics_registry& gateway_metrics();

// What the gateway records, by event.
namespace metric
{
void http_request(unsigned status);
void kernel_start(double seconds);                                 // POST -> ready
void execution(const std::string& status, double seconds);         // execute_request -> reply
void cell_timeout(bool hard);                                      // soft: the kernel's own
void kernel_death(const std::string& verdict, bool out_of_memory); // verdict: the error name
void kernel_restart(const std::string& cause);                     // request or death
void kernel_culled();
void hibernation(double seconds);                  // a kernel's image saved, its process gone
void restore(double seconds);                      // a hibernated kernel's image restored
void hibernation_failure(const std::string& what); // "hibernate" or "restore"
void pool_take(bool hit);                          // a start from the pool or not
void pool_size(const std::string& kernelspec, std::size_t ready);
void pool_target(const std::string& kernelspec, std::size_t sessions); // kept now (grows, shrinks)
void pool_fork_to_ready(double seconds);
void kernels_by_state(const std::map<std::string, int>& counts);
// The stream memory budget made the gateway let go of a disconnected session's replay buffer
// (what = "replay") or close a WebSocket that did not read ("connection").
void stream_budget_drop(const std::string& what);
} // namespace metric

} // namespace cellbox::gateway
