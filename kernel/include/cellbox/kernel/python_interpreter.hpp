#pragma once

#include "cellbox/kernel/deadline_timer.hpp"
#include "cellbox/kernel/interrupt_router.hpp"
#include "cellbox/kernel/resource_meter.hpp"

#include <optional>
#include <string>
#include <vector>
#include <xeus-python/xinterpreter.hpp>

namespace cellbox::kernel
{

class fd_capture;
class kernel_server;

// Adjusts the environment for Python and IPython; call before Python starts.
void prepare_python_environment();

// A module made from Python source compiled into the binary (not registered in sys.modules).
pybind11::module module_from_source(const char* name, const char* source, const char* filename);

// The kernel's Python support module (python/cellbox_kernel.py), compiled into the binary;
// loaded once per process (a zygote loads it before forking its sessions).
pybind11::module load_kernel_support_module();

// xeus-python's IPython interpreter with cellbox's cell execution: interruptible (signal or
// time limit) cells that keep the kernel's state, protocol-correct errors, input() that can be
// interrupted, and a resource report per cell.
class python_interpreter final : public xpyt::interpreter
{
public:
    python_interpreter(interrupt_router& router, double default_cell_timeout_s);

    // The first cell changes to /work first: a zygote session's /work may be mounted after
    // the process entered the directory that was there before.
    void enter_workdir_at_first_cell() { m_enter_workdir = true; }

    // Wiring that exists only once the xeus kernel is built around this interpreter.
    void attach(kernel_server& server, fd_capture& capture);

    // Used by the cellbox_native Python module, on the main thread.
    static python_interpreter& active();
    interrupt_reason take_interrupt_reason() { return m_router.take_reason(); }
    double cell_timeout() const { return m_cell_timeout_s; }
    bool stdin_allowed() const { return m_allow_stdin; }
    std::string request_input(const std::string& prompt, bool password);
    // Text a cell wrote to sys.stdout/sys.stderr, into the output coalescer; false outside a
    // cell (the caller then publishes it the ordinary way).
    bool write_stream(const std::string& name, const std::string& text);
    // A restored session's count: see kernel_server::set_execution_count_offset.
    void set_execution_count_offset(int offset);

private:
    struct cell_error
    {
        std::string ename;
        std::string evalue;
        std::vector<std::string> traceback;
    };

    void configure_impl() override;
    nl::json execute_request_impl(int execution_counter, const std::string& code, bool silent,
                                  bool store_history, nl::json user_expressions,
                                  bool allow_stdin) override;
    nl::json kernel_info_request_impl() override;
    void shutdown_request_impl() override;
    void instanciate_ipython_shell() override;

    std::optional<cell_error> run_cell(const std::string& code, bool silent, bool store_history);
    void discard_pending_interrupt();

    interrupt_router& m_router;
    deadline_timer m_deadline;
    double m_default_timeout_s;
    double m_cell_timeout_s = 0;
    bool m_allow_stdin = false;
    bool m_enter_workdir = false;
    kernel_server* m_server = nullptr;
    fd_capture* m_capture = nullptr;
    py::object m_support; // the cellbox_kernel Python module
};

} // namespace cellbox::kernel
