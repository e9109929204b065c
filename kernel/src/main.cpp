// cellbox-kernel: a Jupyter kernel for Python (xeus + xeus-python) with interruptible,
// time-limited cells and a soft memory limit. See README.md.
#include "cellbox/kernel/cell_history.hpp"
#include "cellbox/kernel/connection_file.hpp"
#include "cellbox/kernel/fd_capture.hpp"
#include "cellbox/kernel/interrupt_router.hpp"
#include "cellbox/kernel/kernel_options.hpp"
#include "cellbox/kernel/kernel_server.hpp"
#include "cellbox/kernel/memory_limit.hpp"
#include "cellbox/kernel/python_interpreter.hpp"

#include <Python.h>
#include <iostream>
#include <memory>
#include <pybind11/embed.h>
#include <unistd.h>
#include <variant>
#include <xeus/xeus_context.hpp>
#include <xeus/xkernel.hpp>
#include <zmq.hpp>

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
    try
    {
        const xeus::xconfiguration config = ck::load_connection_file(options.connection_file);
        ck::interrupt_router router(&PyErr_SetInterrupt);
        ck::prepare_python_environment();
        pybind11::scoped_interpreter python(/*init_signal_handlers=*/false);

        auto interpreter = std::make_unique<ck::python_interpreter>(router, options.cell_timeout_s);
        ck::python_interpreter& cells = *interpreter;
        xeus::xkernel kernel(config, xeus::get_user_name(), xeus::make_context<zmq::context_t>(),
                             std::move(interpreter), ck::kernel_server::build,
                             std::make_unique<ck::cell_history>());

        auto& server = dynamic_cast<ck::kernel_server&>(kernel.get_server());
        server.on_interrupt_request([&router] { router.interrupt(ck::interrupt_reason::user); });
        ck::fd_capture capture([&server](const std::string& stream, const std::string& text)
                               { return server.publish_captured(stream, text); });
        cells.attach(server, capture);
        if (options.memory_limit_bytes)
        {
            ck::apply_memory_limit(*options.memory_limit_bytes);
        }
        kernel.start(); // never returns: xeus ends the process
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox-kernel: " << e.what() << std::endl;
        // Half-built xeus and Python objects cannot be torn down safely: leave at once.
        _exit(1);
    }
    return 0;
}
