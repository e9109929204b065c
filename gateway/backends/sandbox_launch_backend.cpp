#include "backends/sandbox_launch_backend.hpp"

#include "backends/sandbox_command.hpp"
#include "telemetry/log.hpp"

#include <filesystem>

namespace cellbox::gateway
{

sandbox_launch_backend::sandbox_launch_backend(boost::asio::io_context& io,
                                               sandbox_backend_options options)
    : m_io(io), m_options(std::move(options))
{
}

void sandbox_launch_backend::launch_impl(const launch_spec& spec, launch_handler done)
{
    process_place place;
    place.directory = m_options.runtime_dir + "/kernel-" + spec.kernel_id;
    place.connection = prepare_kernel_directory(place.directory);
    try
    {
        const auto command = sandbox_command(
            m_options.program, m_options.allow_degraded,
            {place.directory, spec.workdir, spec.uid, spec.memory_bytes, spec.env}, spec.argv);
        logged_child child = spawn_logged(m_io, command.to_argv(), "the kernel launcher",
                                          {"kernel", spec.kernelspec, spec.kernel_id});
        place.pid = child.pid;
        place.output = std::move(child.output);
    }
    catch (...)
    {
        std::error_code ignored;
        std::filesystem::remove_all(place.directory, ignored);
        throw;
    }
    const pid_t pid = place.pid;
    log::info("kernel started",
              {{"kernel", spec.kernel_id}, {"name", spec.kernelspec}, {"launcher_pid", pid}});
    done(hand_out(std::make_unique<kernel_process>(std::move(place), nullptr), pid, spec.kernel_id),
         "");
}

} // namespace cellbox::gateway
