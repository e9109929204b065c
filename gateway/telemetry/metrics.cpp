#include "telemetry/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace cellbox::gateway
{
namespace
{

// The shortest decimal that reads back as the same double ("0.1", not "0.10000000000000001").
std::string number(double value)
{
    if (std::isnan(value))
    {
        return "NaN";
    }
    if (std::isinf(value))
    {
        return value > 0 ? "+Inf" : "-Inf";
    }
    char text[40];
    if (std::fabs(value) < 1e15 && value == std::trunc(value))
    {
        std::snprintf(text, sizeof text, "%.0f", value); // 10, not 1e+01
        return text;
    }
    for (int precision = 1; precision <= 17; ++precision)
    {
        std::snprintf(text, sizeof text, "%.*g", precision, value);
        if (std::strtod(text, nullptr) == value)
        {
            break;
        }
    }
    return text;
}

std::string escape(const std::string& text, bool quotes)
{
    std::string out;
    for (const char c : text)
    {
        if (c == '\\')
        {
            out += "\\\\";
        }
        else if (c == '\n')
        {
            out += "\\n";
        }
        else if (c == '"' && quotes)
        {
            out += "\\\"";
        }
        else
        {
            out += c;
        }
    }
    return out;
}

std::string label_text(const metrics_registry::labels& series, const std::string& le = "")
{
    std::string out;
    for (const auto& [key, value] : series)
    {
        out += (out.empty() ? "" : ",") + key + "=\"" + escape(value, true) + "\"";
    }
    if (!le.empty())
    {
        out += (out.empty() ? "" : ",") + std::string("le=\"") + le + "\"";
    }
    return out.empty() ? "" : "{" + out + "}";
}

} // namespace

void metrics_registry::declare(const std::string& name, const char* type, const std::string& help,
                               std::vector<double> bounds)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    family& f = m_families[name];
    f.type = type;
    f.help = help;
    f.bounds = std::move(bounds);
}

void metrics_registry::counter(const std::string& name, const std::string& help)
{
    declare(name, "counter", help, {});
}

void metrics_registry::gauge(const std::string& name, const std::string& help)
{
    declare(name, "gauge", help, {});
}

void metrics_registry::histogram(const std::string& name, const std::string& help,
                                 std::vector<double> bounds)
{
    declare(name, "histogram", help, std::move(bounds));
}

metrics_registry::family& metrics_registry::find(const std::string& name, const char* type)
{
    const auto it = m_families.find(name);
    if (it == m_families.end() || it->second.type != type)
    {
        throw std::logic_error("metric " + name + " is not a declared " + type);
    }
    return it->second;
}

void metrics_registry::increment(const std::string& name, const labels& series, double by)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    find(name, "counter").series[series].value += by;
}

void metrics_registry::set(const std::string& name, const labels& series, double value)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    find(name, "gauge").series[series].value = value;
}

void metrics_registry::clear(const std::string& name)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    find(name, "gauge").series.clear();
}

void metrics_registry::observe(const std::string& name, const labels& series, double value)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    family& f = find(name, "histogram");
    series_value& s = f.series[series];
    s.buckets.resize(f.bounds.size());
    for (std::size_t i = 0; i < f.bounds.size(); ++i)
    {
        if (value <= f.bounds[i])
        {
            ++s.buckets[i];
            break;
        }
    }
    s.sum += value;
    ++s.count;
}

std::string metrics_registry::render() const
{
    std::lock_guard<std::mutex> lock(m_mutex);
    std::string out;
    for (const auto& [name, f] : m_families)
    {
        out += "# HELP " + name + " " + escape(f.help, false) + "\n";
        out += "# TYPE " + name + " " + f.type + "\n";
        for (const auto& [series, s] : f.series)
        {
            if (f.type != "histogram")
            {
                out += name + label_text(series) + " " + number(s.value) + "\n";
                continue;
            }
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < f.bounds.size(); ++i)
            {
                cumulative += i < s.buckets.size() ? s.buckets[i] : 0;
                out += name + "_bucket" + label_text(series, number(f.bounds[i])) + " " +
                       std::to_string(cumulative) + "\n";
            }
            out += name + "_bucket" + label_text(series, "+Inf") + " " + std::to_string(s.count) +
                   "\n";
            out += name + "_sum" + label_text(series) + " " + number(s.sum) + "\n";
            out += name + "_count" + label_text(series) + " " + std::to_string(s.count) + "\n";
        }
    }
    return out;
}

namespace
{

void declare_gateway_metrics(metrics_registry& r)
{
    r.gauge("cellbox_kernels", "Kernels by execution state");
    r.counter("cellbox_http_requests_total", "HTTP requests answered, by status class");
    for (const char* code : {"1xx", "2xx", "3xx", "4xx", "5xx"})
    {
        r.increment("cellbox_http_requests_total", {{"code", code}}, 0);
    }
    r.counter("cellbox_executions_total", "Cells executed, by execute_reply status");
    for (const char* status : {"ok", "error", "aborted"})
    {
        r.increment("cellbox_executions_total", {{"status", status}}, 0);
    }
    r.counter("cellbox_cell_timeouts_total",
              "Cells stopped at their time limit: soft (the kernel interrupted the cell, "
              "state kept) or hard (the kernel was killed)");
    for (const char* kind : {"soft", "hard"})
    {
        r.increment("cellbox_cell_timeouts_total", {{"kind", kind}}, 0);
    }
    r.counter("cellbox_kernel_ooms_total", "Kernels killed for exceeding their memory limit");
    r.increment("cellbox_kernel_ooms_total", {}, 0);
    r.counter("cellbox_kernel_deaths_total",
              "Kernels that died on their own or were killed by the gateway, by verdict");
    for (const char* verdict : {"MemoryLimitExceeded", "KernelDied", "CellTimeoutError"})
    {
        r.increment("cellbox_kernel_deaths_total", {{"verdict", verdict}}, 0);
    }
    r.counter("cellbox_kernel_restarts_total",
              "Kernel restarts, asked for by a client (request) or after a death (death)");
    for (const char* cause : {"request", "death"})
    {
        r.increment("cellbox_kernel_restarts_total", {{"cause", cause}}, 0);
    }
    r.counter("cellbox_kernels_culled_total", "Idle kernels shut down by the culler");
    r.increment("cellbox_kernels_culled_total", {}, 0);
    r.histogram("cellbox_kernel_start_seconds",
                "Time from POST /api/kernels to the kernel's first answer",
                {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    r.histogram("cellbox_hibernate_seconds",
                "Time to hibernate a kernel: its image written, moved to the state directory",
                {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    r.histogram("cellbox_restore_seconds",
                "Time from the request that resumed a hibernated kernel to its image restored",
                {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60});
    r.counter("cellbox_hibernation_failures_total",
              "Hibernations (what=hibernate) and restores (what=restore) that failed");
    for (const char* what : {"hibernate", "restore"})
    {
        r.increment("cellbox_hibernation_failures_total", {{"what", what}}, 0);
    }
    r.histogram("cellbox_execute_seconds",
                "Time from an execute_request sent to the kernel to its execute_reply",
                {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300});
    r.gauge("cellbox_pool_ready_sessions", "Pre-forked sessions ready to hand out, by kernelspec");
    r.gauge("cellbox_pool_target_sessions",
            "Sessions a zygote pool keeps now, by kernelspec: pool_size, more after a burst of "
            "starts (up to pool_max, within free memory), back to pool_size when idle");
    r.counter("cellbox_pool_takes_total",
              "Kernel starts served from the pool (hit) or forked on demand (miss)");
    for (const char* result : {"hit", "miss"})
    {
        r.increment("cellbox_pool_takes_total", {{"result", result}}, 0);
    }
    r.counter("cellbox_stream_budget_drops_total",
              "Holders of kernel messages let go because the gateway held more than "
              "stream_memory_budget: a disconnected session's replay buffer (replay) or a "
              "WebSocket that did not read (connection)");
    for (const char* what : {"replay", "connection"})
    {
        r.increment("cellbox_stream_budget_drops_total", {{"what", what}}, 0);
    }
    r.histogram("cellbox_pool_fork_to_ready_seconds",
                "Time from a pooled session's start (a zygote fork, a prespawned launch) to its "
                "first answer",
                {0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5});
}

} // namespace

metrics_registry& gateway_metrics()
{
    static metrics_registry registry;
    // Declared once, on first use, whichever thread that is (static initialisation is
    // thread-safe).
    static const bool declared = (declare_gateway_metrics(registry), true);
    (void)declared;
    return registry;
}

namespace metric
{

void http_request(unsigned status)
{
    const std::string code = std::to_string(status / 100 % 10) + "xx";
    gateway_metrics().increment("cellbox_http_requests_total", {{"code", code}});
}

void kernel_start(double seconds)
{
    gateway_metrics().observe("cellbox_kernel_start_seconds", {}, seconds);
}

void execution(const std::string& status, double seconds)
{
    gateway_metrics().increment("cellbox_executions_total", {{"status", status}});
    if (seconds >= 0)
    {
        gateway_metrics().observe("cellbox_execute_seconds", {}, seconds);
    }
}

void cell_timeout(bool hard)
{
    gateway_metrics().increment("cellbox_cell_timeouts_total", {{"kind", hard ? "hard" : "soft"}});
}

void kernel_death(const std::string& verdict, bool out_of_memory)
{
    gateway_metrics().increment("cellbox_kernel_deaths_total", {{"verdict", verdict}});
    if (out_of_memory)
    {
        gateway_metrics().increment("cellbox_kernel_ooms_total");
    }
}

void kernel_restart(const std::string& cause)
{
    gateway_metrics().increment("cellbox_kernel_restarts_total", {{"cause", cause}});
}

void pool_take(bool hit)
{
    gateway_metrics().increment("cellbox_pool_takes_total", {{"result", hit ? "hit" : "miss"}});
}

void pool_size(const std::string& kernelspec, std::size_t ready)
{
    gateway_metrics().set("cellbox_pool_ready_sessions", {{"kernelspec", kernelspec}},
                          static_cast<double>(ready));
}

void pool_target(const std::string& kernelspec, std::size_t sessions)
{
    gateway_metrics().set("cellbox_pool_target_sessions", {{"kernelspec", kernelspec}},
                          static_cast<double>(sessions));
}

void pool_fork_to_ready(double seconds)
{
    gateway_metrics().observe("cellbox_pool_fork_to_ready_seconds", {}, seconds);
}

void kernel_culled()
{
    gateway_metrics().increment("cellbox_kernels_culled_total");
}

void hibernation(double seconds)
{
    gateway_metrics().observe("cellbox_hibernate_seconds", {}, seconds);
}

void restore(double seconds)
{
    gateway_metrics().observe("cellbox_restore_seconds", {}, seconds);
}

void hibernation_failure(const std::string& what)
{
    gateway_metrics().increment("cellbox_hibernation_failures_total", {{"what", what}});
}

void stream_budget_drop(const std::string& what)
{
    gateway_metrics().increment("cellbox_stream_budget_drops_total", {{"what", what}});
}

void kernels_by_state(const std::map<std::string, int>& counts)
{
    metrics_registry& r = gateway_metrics();
    r.clear("cellbox_kernels");
    for (const char* state : {"starting", "idle", "busy", "restarting", "dead", "hibernated"})
    {
        r.set("cellbox_kernels", {{"state", state}}, 0);
    }
    for (const auto& [state, count] : counts)
    {
        r.set("cellbox_kernels", {{"state", state}}, count);
    }
}

} // namespace metric

} // namespace cellbox::gateway
