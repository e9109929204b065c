// cellbox-kernel: a Jupyter kernel for Python (xeus + xeus-python) with interruptible,
// time-limited cells and a soft memory limit; with --zygote, a warm interpreter that forks
// sandboxed kernels on request. See README.md.
#include "cellbox/kernel/connection_file.hpp"
#include "cellbox/kernel/interrupt_router.hpp"
#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/kernel_session.hpp"
#include "cellbox/kernel/python_interpreter.hpp"
#include "cellbox/kernel/zygote.hpp"

#include <iostream>
#include <pybind11/embed.h>
#include <unistd.h>
#include <variant>

namespace ck = cellbox::kernel;

int main(int argc, char* argv[])
{
    // Before any thread exists, so that every thread inherits the mask (see interrupt_router).
    ck::interrupt_router::block_signals_in_this_thread();

    const ck::parse_result parsed = ck::parse_kernel_options(argc, argv, std::cout, std::cerr);
    if (const int* exit_code = std::get_if<int>(&parsed))
    {
        return *exit_code;
    }
    const auto& options = std::get<ck::kernel_options>(parsed);
    if (!options.zygote_socket.empty())
    {
        return ck::run_zygote(options);
    }
    try
    {
        const xeus::xconfiguration config = ck::load_connection_file(options.connection_file);
        ck::prepare_python_environment();
        pybind11::scoped_interpreter python(/*init_signal_handlers=*/false);
        ck::serve_kernel(config, {options.cell_timeout_s, options.memory_limit_bytes, false});
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-kernel: " << e.what() << std::endl;
        // Half-built xeus and Python objects cannot be torn down safely: leave at once.
        _exit(1);
    }
    return 0;
}
