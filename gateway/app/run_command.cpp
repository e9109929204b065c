#include "app/run_command.hpp"

#include "client/http_client.hpp"
#include "runner/file_upload.hpp"
#include "runner/notebook.hpp"
#include "runner/notebook_run.hpp"
#include "runner/private_gateway.hpp"
#include "runner/run_control.hpp"
#include "runner/scheduler.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace cellbox::gateway
{
namespace
{

namespace fs = std::filesystem;
using json = nlohmann::json;

// Exit codes: what a script needs to tell apart.
constexpr int exit_failed = 1;  // a cell failed (or a notebook could not be written)
constexpr int exit_usage = 2;   // bad arguments, parameters or notebooks
constexpr int exit_gateway = 3; // the gateway could not be used
constexpr int exit_interrupted = 130;

struct run_arguments
{
    std::vector<std::string> notebooks;
    std::string output;
    std::vector<std::string> parameters; // NAME VALUE pairs, flattened
    std::vector<std::string> raw_parameters;
    std::vector<std::string> files;
    std::vector<std::string> json_parameters;
    std::size_t jobs = 1;
    std::string url;
    std::string token;
    std::string kernel;
    std::optional<double> timeout;
    std::string work_dir;
    bool allow_errors = false;
    bool log_output = false;
    bool quiet = false;
};

struct job
{
    std::string input;
    std::string output;
    json notebook;
    runner::run_result result;
    std::string gateway_failure;
};

// stderr shared by the jobs: whole lines, never interleaved mid-line.
class progress
{
public:
    explicit progress(bool quiet) : m_quiet(quiet), m_terminal(isatty(STDERR_FILENO) == 1) {}

    void line(const std::string& text, bool always = false)
    {
        if (m_quiet && !always)
        {
            return;
        }
        std::lock_guard lock(m_mutex);
        std::cerr << (m_terminal ? "\r\033[K" : "") << text << "\n" << std::flush;
    }
    // A cell starting: on a terminal a bar rewritten in place, elsewhere a line each.
    void cell(const std::string& name, int index, int total, double elapsed)
    {
        if (m_quiet)
        {
            return;
        }
        std::ostringstream text;
        text.precision(1);
        text << std::fixed << name << ": ";
        if (m_terminal)
        {
            constexpr int width = 20;
            const int done = total > 0 ? (index - 1) * width / total : 0;
            text << "[" << std::string(static_cast<std::size_t>(done), '#')
                 << std::string(static_cast<std::size_t>(width - done), '.') << "] ";
        }
        text << "cell " << index << "/" << total << " (" << elapsed << " s)";
        std::lock_guard lock(m_mutex);
        std::cerr << (m_terminal ? "\r\033[K" + text.str() : text.str() + "\n") << std::flush;
    }
    void raw(const std::string& text)
    {
        std::lock_guard lock(m_mutex);
        std::cerr << text << std::flush;
    }

private:
    bool m_quiet;
    bool m_terminal;
    std::mutex m_mutex;
};

class job_observer : public runner::run_observer
{
public:
    job_observer(progress& out, std::string name, bool log_output)
        : m_out(out), m_name(std::move(name)), m_log_output(log_output),
          m_start(std::chrono::steady_clock::now())
    {
    }
    void cell_started(int index, int total) override
    {
        m_out.cell(
            m_name, index, total,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count());
    }
    void stream(const std::string&, const std::string& text) override
    {
        if (m_log_output)
        {
            m_out.raw(text);
        }
    }

private:
    progress& m_out;
    std::string m_name;
    bool m_log_output;
    std::chrono::steady_clock::time_point m_start;
};

// The whole input, refused past the size limit while reading: stdin, a FIFO or /dev/zero
// have no size to check first.
std::string read_input(const std::string& path)
{
    std::ifstream file;
    if (path != "-")
    {
        file.open(path, std::ios::binary);
        if (!file)
        {
            throw runner::notebook_error("cannot read " + path);
        }
    }
    std::istream& in = path == "-" ? std::cin : file;
    std::string text;
    std::array<char, 1 << 16> chunk{};
    while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0)
    {
        text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
        if (text.size() > runner::max_notebook_bytes)
        {
            throw runner::notebook_error("the notebook is larger than " +
                                         std::to_string(runner::max_notebook_bytes >> 20u) +
                                         " MiB");
        }
    }
    return text;
}

bool write_output(const std::string& path, const json& notebook)
{
    // Jupyter's layout: one-space indent, UTF-8 kept as it is, a final newline.
    const std::string text = notebook.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
    if (path == "-")
    {
        std::cout << text << std::flush;
        return static_cast<bool>(std::cout);
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    return static_cast<bool>(out);
}

// Where each notebook's result goes (see README: `cellbox run`).
std::vector<std::string> output_paths(const run_arguments& args)
{
    std::vector<std::string> outputs;
    const bool several = args.notebooks.size() > 1;
    if (several && !args.output.empty() && args.output != "-")
    {
        fs::create_directories(args.output);
    }
    std::set<std::string> seen;
    for (const auto& input : args.notebooks)
    {
        if (input == "-" && several)
        {
            throw runner::notebook_error("\"-\" (stdin) takes a single notebook");
        }
        const fs::path in(input);
        std::string stem = in.filename().string();
        if (stem.size() > 6 && stem.substr(stem.size() - 6) == ".ipynb")
        {
            stem.resize(stem.size() - 6);
        }
        std::string out;
        if (!several && !args.output.empty())
        {
            out = args.output;
        }
        else if (input == "-")
        {
            out = "-";
        }
        else if (several && args.output == "-")
        {
            throw runner::notebook_error("-o - (stdout) takes a single notebook");
        }
        else if (several && !args.output.empty())
        {
            out = (fs::path(args.output) / in.filename()).string();
        }
        else
        {
            out = (in.parent_path() / (stem + ".out.ipynb")).string();
        }
        if (out != "-" && !seen.insert(fs::weakly_canonical(out).string()).second)
        {
            throw runner::notebook_error("two notebooks would be written to " + out);
        }
        outputs.push_back(out);
    }
    return outputs;
}

std::vector<runner::parameter> parse_parameters(const run_arguments& args)
{
    std::vector<runner::parameter> parameters;
    for (const auto& text : args.json_parameters)
    {
        for (auto& p : runner::parse_parameters_json(text))
        {
            parameters.push_back(std::move(p));
        }
    }
    for (std::size_t i = 0; i + 1 < args.parameters.size(); i += 2)
    {
        parameters.push_back(runner::parse_parameter(args.parameters[i], args.parameters[i + 1]));
    }
    for (std::size_t i = 0; i + 1 < args.raw_parameters.size(); i += 2)
    {
        parameters.push_back(
            runner::raw_parameter(args.raw_parameters[i], args.raw_parameters[i + 1]));
    }
    return parameters;
}

// Ctrl-C and SIGTERM, taken by a thread of their own (sigwait) while the others run: it
// deletes the kernels in use, and the runs then write their notebooks and return.
class signal_watch
{
public:
    explicit signal_watch(runner::run_control& control)
    {
        sigset_t set = signals();
        pthread_sigmask(SIG_BLOCK, &set, nullptr);
        m_thread = std::thread(
            [this, &control, set]
            {
                int number = 0;
                while (sigwait(&set, &number) == 0 && number != SIGUSR1)
                {
                    m_caught = true;
                    control.stop();
                }
            });
    }
    ~signal_watch()
    {
        pthread_kill(m_thread.native_handle(), SIGUSR1);
        m_thread.join();
    }
    signal_watch(const signal_watch&) = delete;
    signal_watch& operator=(const signal_watch&) = delete;
    bool caught() const { return m_caught; }

private:
    static sigset_t signals()
    {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGUSR1);
        return set;
    }
    std::atomic<bool> m_caught{false};
    std::thread m_thread;
};

std::string self_program()
{
    std::error_code error;
    const auto self = fs::read_symlink("/proc/self/exe", error);
    return error ? "cellbox" : self.string();
}

// A connection per request (no keep-alive): -j's threads and Ctrl-C's deletions never wait on
// each other. No timeout: a cell streams for as long as it runs.
client::client_options run_client_options(const std::string& token)
{
    client::client_options options;
    options.token = token;
    options.user_agent = "cellbox-run";
    return options;
}

void run_one(job& j, const client::http_client& client, const runner::run_options& options,
             const run_arguments& args, progress& out, runner::run_control& control)
{
    job_observer observer(out, j.input, args.log_output);
    try
    {
        j.result = runner::run_notebook(j.notebook, client, options, observer, control);
    }
    catch (const client::gateway_error& e)
    {
        j.gateway_failure = e.what();
        j.result.ok = false;
    }
    if (control.stopped())
    {
        j.result.interrupted = true;
        j.result.ok = false;
    }
    const bool written = write_output(j.output, j.notebook);
    std::ostringstream summary;
    summary.precision(2);
    summary << std::fixed << j.input << ": ";
    if (!j.gateway_failure.empty())
    {
        summary << "gateway error: " << j.gateway_failure;
    }
    else if (j.result.interrupted)
    {
        summary << "interrupted";
    }
    else
    {
        summary << (j.result.ok ? "ok" : "failed");
    }
    summary << ", " << j.result.cells_run << "/" << j.result.code_cells << " cells, "
            << j.result.seconds << " s -> " << (j.output == "-" ? "stdout" : j.output);
    if (!written)
    {
        summary << " (NOT WRITTEN)";
        j.result.ok = false;
    }
    if (!j.result.failure.empty())
    {
        out.line(j.input + ": " + j.result.failure, true);
    }
    out.line(summary.str(), !j.result.ok);
}

int run(run_arguments& args)
{
    progress out(args.quiet);
    std::vector<job> jobs;
    std::vector<runner::parameter> parameters;
    try
    {
        parameters = parse_parameters(args);
        const auto outputs = output_paths(args);
        for (std::size_t i = 0; i < args.notebooks.size(); ++i)
        {
            job j{args.notebooks[i], outputs[i], json(), {}, {}};
            try
            {
                j.notebook = runner::read_notebook(read_input(j.input));
            }
            catch (const runner::notebook_error& e)
            {
                throw runner::notebook_error(j.input + ": " + e.what());
            }
            runner::inject_parameters(j.notebook, parameters);
            j.notebook["metadata"]["papermill"]["input_path"] = j.input;
            j.notebook["metadata"]["papermill"]["output_path"] = j.output;
            jobs.push_back(std::move(j));
        }
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox run: " << e.what() << "\n";
        return exit_usage;
    }
    if (args.token.empty() && std::getenv("CELLBOX_TOKEN") != nullptr && !args.url.empty())
    {
        args.token = std::getenv("CELLBOX_TOKEN");
    }
    runner::run_control control;
    signal_watch signals(control);
    std::signal(SIGPIPE, SIG_IGN); // a closed stdout is an error to report, not a death
    std::unique_ptr<runner::private_gateway> own;
    std::optional<client::http_client> client;
    try
    {
        if (args.url.empty())
        {
            own = std::make_unique<runner::private_gateway>(self_program(), args.work_dir);
            client.emplace(client::parse_gateway_url(own->url()), run_client_options(own->token()));
        }
        else
        {
            client.emplace(client::parse_gateway_url(args.url), run_client_options(args.token));
        }
    }
    catch (const client::gateway_error& e)
    {
        std::cerr << "cellbox run: " << e.what() << "\n";
        return exit_gateway;
    }
    try
    {
        runner::upload_files(*client, args.files);
    }
    catch (const runner::upload_error& e)
    {
        std::cerr << "cellbox run: " << e.what() << "\n";
        return exit_usage;
    }
    catch (const client::gateway_error& e)
    {
        std::cerr << "cellbox run: " << e.what() << "\n";
        return exit_gateway;
    }
    runner::run_options options{args.kernel, args.timeout, args.allow_errors};
    runner::run_jobs(jobs.size(), args.jobs,
                     [&](std::size_t i)
                     { run_one(jobs[i], *client, options, args, out, control); });
    own.reset();
    if (signals.caught())
    {
        return exit_interrupted;
    }
    int code = 0;
    for (const auto& j : jobs)
    {
        if (!j.gateway_failure.empty())
        {
            code = std::max(code, exit_gateway);
        }
        else if (!j.result.ok)
        {
            code = std::max(code, exit_failed);
        }
    }
    return code;
}

// A repeatable option taking `values` values per flag: its values accumulate, and the
// arguments after them stay the notebooks' (CLI11 lets a list option swallow them otherwise).
void repeated(CLI::App& command, const std::string& flags, std::vector<std::string>& target,
              int values, const std::string& help)
{
    command.add_option(flags, target, help)
        ->expected(values)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->allow_extra_args(false);
}

} // namespace

void add_run_command(CLI::App& app)
{
    auto args = std::make_shared<run_arguments>();
    CLI::App* command = app.add_subcommand(
        "run", "Run notebooks as papermill does: parameters injected after the cell tagged "
               "\"parameters\", every cell through a gateway (--url) or a private sandboxed "
               "one, the executed notebook written (also on failure)");
    command->add_option("notebooks", args->notebooks, "Notebooks to run (- : stdin)")->required();
    command->add_option("-o,--output", args->output,
                        "Output notebook (- : stdout); with several notebooks a directory. "
                        "Default: NAME.out.ipynb beside each input, stdout for stdin");
    repeated(*command, "-p,--parameters", args->parameters, 2,
             "NAME VALUE: a parameter, typed as papermill does (True/False/None, "
             "int, float, else str)");
    repeated(*command, "-r,--parameters-raw", args->raw_parameters, 2,
             "NAME VALUE: a parameter kept as a string");
    repeated(*command, "-y,--parameters-json", args->json_parameters, 1,
             "JSON object of parameters (YAML's flow style), values may be lists and "
             "objects; before -p and -r, which win");
    command->add_option("-j,--jobs", args->jobs, "Notebooks run at once, each in its own kernel")
        ->check(CLI::Range(1, 64));
    command->add_option("--url", args->url,
                        "Gateway to use (http://HOST:PORT/); default: a private `cellbox serve`");
    command->add_option("--token", args->token, "The gateway's token (default: $CELLBOX_TOKEN)");
    command->add_option("--kernel", args->kernel,
                        "Kernelspec (default: the notebook's, else the gateway's default)");
    command->add_option("--timeout", args->timeout, "Seconds each cell may run (state kept)")
        ->check(CLI::PositiveNumber);
    command->add_option("--work-dir", args->work_dir,
                        "Private gateway only: the users' /work directories (default: a "
                        "temporary one, removed at the end)");
    repeated(*command, "--files", args->files, 1,
             "A local file put into /work (by its name) before the notebooks run, "
             "through the contents API; repeat for more");
    command->add_flag("--allow-errors", args->allow_errors,
                      "Run every cell even after one fails (exit 0; errors stay in the output)");
    command->add_flag("--log-output", args->log_output, "Copy the cells' stdout/stderr to stderr");
    command->add_flag("-q,--quiet", args->quiet, "No progress, only failures");
    command->callback([args] { std::exit(run(*args)); });
}

} // namespace cellbox::gateway
