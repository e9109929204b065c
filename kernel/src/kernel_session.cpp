#include "cellbox/kernel/kernel_session.hpp"

#include "cellbox/kernel/cell_history.hpp"
#include "cellbox/kernel/fd_capture.hpp"
#include "cellbox/kernel/interrupt_router.hpp"
#include "cellbox/kernel/kernel_server.hpp"
#include "cellbox/kernel/memory_limit.hpp"
#include "cellbox/kernel/python_interpreter.hpp"

#include <Python.h>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <xeus/xeus_context.hpp>
#include <xeus/xkernel.hpp>
#include <zmq.hpp>

namespace cellbox::kernel
{

namespace
{

// The `username` of the kernel's message headers (informational in the protocol). Not
// xeus::get_user_name(): its passwd lookup walks the NSS modules (milliseconds of a cold start
// in a sandbox that has none of them).
std::string message_user_name()
{
    const char* user = std::getenv("USER");
    return user != nullptr && *user != '\0' ? user : "cellbox";
}

} // namespace

void serve_kernel(const xeus::xconfiguration& config, const session_settings& settings)
{
    // Every thread created from here on inherits the mask (see interrupt_router).
    interrupt_router::block_signals_in_this_thread();
    interrupt_router router(&PyErr_SetInterrupt);
    auto interpreter = std::make_unique<python_interpreter>(router, settings.cell_timeout_s);
    python_interpreter& cells = *interpreter;
    if (settings.enter_workdir_at_first_cell)
    {
        cells.enter_workdir_at_first_cell();
    }
    xeus::xkernel kernel(config, message_user_name(), xeus::make_context<zmq::context_t>(),
                         std::move(interpreter), kernel_server::build,
                         std::make_unique<cell_history>());

    auto& server = dynamic_cast<kernel_server&>(kernel.get_server());
    server.on_interrupt_request([&router] { router.interrupt(interrupt_reason::user); });
    fd_capture capture([&server](const std::string& stream, const std::string& text)
                       { return server.publish_captured(stream, text); });
    cells.attach(server, capture);
    server.before_cell([&capture] { capture.drain(std::chrono::milliseconds(100)); });
    if (settings.memory_limit_bytes)
    {
        apply_memory_limit(*settings.memory_limit_bytes);
    }
    kernel.start(); // never returns: xeus ends the process
}

} // namespace cellbox::kernel
