#include "cellbox/kernel/python_interpreter.hpp"

#include "cellbox/kernel/fd_capture.hpp"
#include "cellbox/kernel/kernel_server.hpp"
#include "cellbox/kernel/version.hpp"
#include "cellbox_hibernate_py_source.hpp"    // generated: python/cellbox_hibernate.py
#include "cellbox_kernel_py_source.hpp"       // generated: the source of python/cellbox_kernel.py
#include "cellbox_lean_ipython_py_source.hpp" // generated: python/cellbox_lean_ipython.py

#include <Python.h>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <pybind11/embed.h>
#include <pybind11/stl.h>
#include <pybind11_json/pybind11_json.hpp>
#include <stdexcept>
#include <unistd.h>
#include <xeus/xinput.hpp>
#include <zmq.hpp>

using namespace pybind11::literals;

namespace cellbox::kernel
{
namespace
{

python_interpreter* g_active = nullptr;

const char* reason_name(interrupt_reason reason)
{
    switch (reason)
    {
    case interrupt_reason::user:
        return "user";
    case interrupt_reason::timeout:
        return "timeout";
    default:
        return "none";
    }
}

} // namespace

py::module module_from_source(const char* name, const char* source, const char* filename)
{
    py::object module = py::module::import("types").attr("ModuleType")(name);
    py::module builtins = py::module::import("builtins");
    py::object code = builtins.attr("compile")(source, filename, "exec");
    builtins.attr("exec")(code, module.attr("__dict__"));
    return module.cast<py::module>();
}

py::module load_kernel_support_module()
{
    py::module sys = py::module::import("sys");
    if (sys.attr("modules").contains("cellbox_kernel"))
    {
        return sys.attr("modules")["cellbox_kernel"].cast<py::module>();
    }
    // Imported by cellbox_kernel.
    sys.attr("modules")["cellbox_lean_ipython"] = module_from_source(
        "cellbox_lean_ipython", cellbox_lean_ipython_py_source, "cellbox_lean_ipython.py");
    py::module module =
        module_from_source("cellbox_kernel", cellbox_kernel_py_source, "cellbox_kernel.py");
    sys.attr("modules")["cellbox_kernel"] = module;
    // Importable by name for the gateway's hibernate and restore requests; dill itself is
    // imported only when one comes.
    sys.attr("modules")["cellbox_hibernate"] = module_from_source(
        "cellbox_hibernate", cellbox_hibernate_py_source, "cellbox_hibernate.py");
    return module;
}

void prepare_python_environment()
{
    // pybind11 configures an embedded interpreter as "isolated": it reads no locale and leaves
    // UTF-8 mode off, so a cell's open() without encoding= was ASCII, and so were file names.
    // UTF-8 mode (PEP 540, the default from Python 3.15): files, paths and pipes are UTF-8
    // whatever the locale. Pre-initialisation is kept by the initialisation that follows.
    PyPreConfig preconfig;
    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    const PyStatus status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
    {
        throw std::runtime_error(std::string("Python pre-initialisation failed: ") +
                                 (status.err_msg != nullptr ? status.err_msg : "?"));
    }
    // IPython keeps its profile under ~/.ipython and matplotlib its font cache under
    // ~/.cache/matplotlib; a read-only or missing home (services, sandboxes) must neither break
    // start-up nor rebuild the font cache at every start. Python reads the environment once,
    // at initialisation, so this runs before it.
    const char* home = std::getenv("HOME");
    if (home != nullptr && access(home, W_OK) == 0)
    {
        return;
    }
    const char* tmp = std::getenv("TMPDIR");
    const std::string base =
        std::string(tmp != nullptr ? tmp : "/tmp") + "/cellbox-" + std::to_string(getuid());
    setenv("IPYTHONDIR", (base + "/ipython").c_str(), 0);
    setenv("MPLCONFIGDIR", (base + "/matplotlib").c_str(), 0);
}

PYBIND11_EMBEDDED_MODULE(cellbox_native, m)
{
    m.doc() = "Native services of cellbox-kernel for its Python support module";
    m.def("take_interrupt_reason",
          [] { return reason_name(python_interpreter::active().take_interrupt_reason()); });
    m.def("cell_timeout", [] { return python_interpreter::active().cell_timeout(); });
    m.def("stdin_allowed", [] { return python_interpreter::active().stdin_allowed(); });
    m.def("request_input", [](const std::string& prompt, bool password)
          { return python_interpreter::active().request_input(prompt, password); });
    m.def("write_stream", [](const std::string& name, const std::string& text)
          { return python_interpreter::active().write_stream(name, text); });
    m.def("set_execution_count_offset",
          [](int offset) { python_interpreter::active().set_execution_count_offset(offset); });
}

python_interpreter::python_interpreter(interrupt_router& router, double default_cell_timeout_s)
    : xpyt::interpreter(/*redirect_output_enabled=*/true, /*redirect_display_enabled=*/true),
      m_router(router), m_deadline([&router] { router.interrupt(interrupt_reason::timeout); }),
      m_default_timeout_s(default_cell_timeout_s)
{
    g_active = this;
}

python_interpreter& python_interpreter::active()
{
    if (g_active == nullptr)
    {
        throw std::logic_error("no cellbox interpreter is running");
    }
    return *g_active;
}

void python_interpreter::attach(kernel_server& server, fd_capture& capture)
{
    m_server = &server;
    m_capture = &capture;
}

void python_interpreter::instanciate_ipython_shell()
{
    m_ipython_shell_app = m_support.attr("make_shell_app")();
}

void python_interpreter::configure_impl()
{
    // Runs in the main thread, which holds the GIL until the base class releases it.
    m_support = load_kernel_support_module();
    xpyt::interpreter::configure_impl();
    py::gil_scoped_acquire gil;
    m_support.attr("install")(m_ipython_shell);
}

void python_interpreter::discard_pending_interrupt()
{
    // With no reason set, the Python SIGINT handler ignores a tripped interrupt.
    m_router.clear_reason();
    if (PyErr_CheckSignals() != 0)
    {
        PyErr_Clear();
    }
}

std::optional<python_interpreter::cell_error>
python_interpreter::run_cell(const std::string& code, bool silent, bool store_history)
{
    std::optional<cell_error> failure;
    m_ipython_shell.attr("last_error") = py::none();
    m_router.cell_started();
    if (m_cell_timeout_s > 0)
    {
        m_deadline.arm(std::chrono::duration_cast<deadline_timer::clock::duration>(
            std::chrono::duration<double>(m_cell_timeout_s)));
    }
    try
    {
        m_ipython_shell.attr("run_cell")(code, "store_history"_a = store_history,
                                         "silent"_a = silent);
    }
    catch (py::error_already_set& e)
    {
        // An exception IPython did not handle itself (e.g. an interruption that landed in
        // IPython's own code rather than in the cell).
        py::module traceback = py::module::import("traceback");
        std::vector<std::string> lines =
            traceback.attr("format_exception")(e.type(), e.value(), e.trace())
                .cast<std::vector<std::string>>();
        failure = cell_error{py::str(e.type().attr("__name__")), py::str(e.value()), lines};
    }
    catch (const std::exception& e)
    {
        failure = cell_error{"InternalError", e.what(), {}};
    }
    m_deadline.disarm();
    m_router.cell_finished();
    discard_pending_interrupt();

    if (!failure && !m_ipython_shell.attr("last_error").is_none())
    {
        py::list error = m_ipython_shell.attr("last_error");
        failure = cell_error{error[0].cast<std::string>(), error[1].cast<std::string>(),
                             error[2].cast<std::vector<std::string>>()};
    }
    return failure;
}

nl::json python_interpreter::execute_request_impl(int, const std::string& code, bool silent,
                                                  bool store_history, nl::json user_expressions,
                                                  bool allow_stdin)
{
    if (m_enter_workdir)
    {
        m_enter_workdir = false;
        [[maybe_unused]] const int ignored = chdir("/work");
    }
    resource_meter meter;
    meter.start();
    const auto& requested =
        m_server != nullptr ? m_server->current_cell_options().timeout_s : std::optional<double>();
    m_cell_timeout_s = requested.value_or(m_default_timeout_s);
    m_allow_stdin = allow_stdin;

    nl::json reply;
    {
        py::gil_scoped_acquire gil;
        discard_pending_interrupt();
        std::optional<cell_error> failure = run_cell(code, silent, store_history);

        py::object payload_manager = m_ipython_shell.attr("payload_manager");
        nl::json payload = payload_manager.attr("read_payload")();
        payload_manager.attr("clear_payload")();

        if (failure)
        {
            if (!silent)
            {
                publish_execution_error(failure->ename, failure->evalue, failure->traceback);
            }
            // Built by hand: xeus 2.4.1's create_error_reply swaps ename and evalue.
            reply = {{"status", "error"},
                     {"ename", failure->ename},
                     {"evalue", failure->evalue},
                     {"traceback", failure->traceback}};
        }
        else
        {
            nl::json expressions =
                user_expressions.is_object() ? user_expressions : nl::json::object();
            reply = {{"status", "ok"},
                     {"payload", payload},
                     {"user_expressions", m_ipython_shell.attr("user_expressions")(expressions)}};
        }
    }
    if (m_capture != nullptr)
    {
        m_capture->drain(); // output of C code and child processes belongs to this cell
    }
    const cell_usage usage = meter.finish();
    reply[kernel_server::usage_content_key] = {{"wall_ms", usage.wall_ms},
                                               {"cpu_ms", usage.cpu_ms},
                                               {"peak_rss_bytes", usage.peak_rss_bytes}};
    return reply;
}

void python_interpreter::set_execution_count_offset(int offset)
{
    if (m_server != nullptr)
    {
        m_server->set_execution_count_offset(offset);
    }
}

bool python_interpreter::write_stream(const std::string& name, const std::string& text)
{
    return m_server != nullptr && m_server->publish_captured(name, text);
}

std::string python_interpreter::request_input(const std::string& prompt, bool password)
{
    std::string value;
    bool interrupted = false;
    {
        py::gil_scoped_release nogil;
        try
        {
            value = xeus::blocking_input_request(prompt, password);
        }
        catch (const zmq::error_t& e)
        {
            if (e.num() != EINTR)
            {
                throw;
            }
            // The interrupted request left its reply handler registered: drop it.
            register_input_handler(nullptr);
            interrupted = true;
        }
    }
    if (interrupted)
    {
        if (PyErr_CheckSignals() != 0)
        {
            throw py::error_already_set(); // KeyboardInterrupt or CellTimeoutError
        }
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        throw py::error_already_set();
    }
    return value;
}

nl::json python_interpreter::kernel_info_request_impl()
{
    const std::string python_version = PY_VERSION;
    return {{"status", "ok"},
            {"implementation", "cellbox"},
            {"implementation_version", std::string(version)},
            {"language_info",
             {{"name", "python"},
              {"version", python_version},
              {"mimetype", "text/x-python"},
              {"file_extension", ".py"},
              {"pygments_lexer", "ipython3"},
              {"codemirror_mode", {{"name", "ipython"}, {"version", 3}}},
              {"nbconvert_exporter", "python"}}},
            {"banner", "cellbox " + std::string(version) + " - Python " + python_version +
                           " with IPython, per-cell time and memory limits"},
            {"debugger", false},
            {"help_links",
             nl::json::array({{{"text", "Python"}, {"url", "https://docs.python.org/3/"}}})}};
}

void python_interpreter::shutdown_request_impl()
{
    // Nothing to release: the process ends right after the reply (kernel_server).
}

} // namespace cellbox::kernel
