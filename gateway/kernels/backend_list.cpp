#include "kernels/backend_list.hpp"

#include "backends/launch_pool_backend.hpp"
#include "backends/sandbox_command.hpp"
#include "backends/sandbox_launch_backend.hpp"
#include "backends/zygote_pool_backend.hpp"
#include "telemetry/log.hpp"

#include <algorithm>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

// kernel.json's metadata.cellbox.zygote: the kernel can serve as a zygote.
bool has_zygote(const kernelspec_catalog::entry& entry)
{
    const auto& metadata = entry.spec.value("metadata", nlohmann::json::object());
    return metadata.is_object() && metadata.contains("cellbox") &&
           metadata["cellbox"].is_object() && metadata["cellbox"].value("zygote", false);
}

bool has_program(const kernelspec_catalog::entry& entry)
{
    const auto& argv = entry.spec.value("argv", nlohmann::json::array());
    return !argv.empty() && argv[0].is_string();
}

std::unique_ptr<kernel_backend> zygote_backend(boost::asio::io_context& io, zmq::context_t& zmq,
                                               const std::string& name,
                                               const kernelspec_catalog::entry& entry,
                                               user_registry& users,
                                               const backend_list_options& options)
{
    pool_options pool;
    pool.kernel_program = entry.spec["argv"][0].get<std::string>();
    pool.warm_modules = options.pool_warm_modules;
    pool.size = options.pool_size;
    pool.max = options.pool_max;
    pool.window = std::chrono::milliseconds(static_cast<long long>(options.pool_window_s * 1000));
    pool.runtime_dir = options.runtime_dir;
    pool.memory_bytes = options.memory_bytes;
    pool.soft_memory_bytes = soft_memory_limit(options.memory_bytes);
    pool.streams = options.streams;
    pool.next_uid = [&users] { return users.next_session_uid(); };
    return std::make_unique<zygote_pool_backend>(
        name, std::make_unique<zygote_pool>(io, zmq, name, std::move(pool)));
}

std::unique_ptr<kernel_backend> launch_backend(boost::asio::io_context& io, zmq::context_t& zmq,
                                               const std::string& name,
                                               const kernelspec_catalog::entry& entry,
                                               user_registry& users,
                                               const backend_list_options& options)
{
    auto command = [&users, options, argv = entry.spec["argv"]](const pooled_session& s)
    {
        // One uid per prespawned kernel, from the gateway's block (apart from users').
        return sandbox_command(
            options.sandbox_program, options.sandbox_allow_degraded,
            {s.directory, "", users.next_session_uid(), options.memory_bytes, {}}, argv);
    };
    pool_sizing sizing;
    sizing.min = options.launch_pool_size;
    sizing.max = std::max(options.launch_pool_max, options.launch_pool_size);
    sizing.window = std::chrono::milliseconds(static_cast<long long>(options.pool_window_s * 1000));
    sizing.session_memory_bytes = options.memory_bytes;
    auto pool = std::make_unique<launcher_pool>(io, zmq, name, sizing, options.runtime_dir,
                                                options.streams, std::move(command));
    pool->start();
    return std::make_unique<launch_pool_backend>(name, std::move(pool));
}

} // namespace

std::vector<std::unique_ptr<kernel_backend>>
make_backend_list(boost::asio::io_context& io, zmq::context_t& zmq, const kernelspec_catalog& specs,
                  user_registry& users, const backend_list_options& options)
{
    std::vector<std::unique_ptr<kernel_backend>> backends;
    if (options.pool_size > 0)
    {
        for (const auto& [name, entry] : specs.all())
        {
            if (has_zygote(entry) && has_program(entry))
            {
                backends.push_back(zygote_backend(io, zmq, name, entry, users, options));
            }
        }
    }
    if (options.launch_pool_size > 0 && geteuid() != 0)
    {
        // Binding a pooled kernel to its user's directory is an idmapped mount: root only.
        log::info("no prespawned kernels: the gateway does not run as root");
    }
    else if (options.launch_pool_size > 0)
    {
        for (const auto& [name, entry] : specs.all())
        {
            if (!has_zygote(entry) && has_program(entry))
            {
                backends.push_back(launch_backend(io, zmq, name, entry, users, options));
            }
        }
    }
    backends.push_back(std::make_unique<sandbox_launch_backend>(
        io, sandbox_backend_options{options.sandbox_program, options.sandbox_allow_degraded,
                                    options.runtime_dir}));
    return backends;
}

} // namespace cellbox::gateway
