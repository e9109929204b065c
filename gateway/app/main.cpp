// cellbox: the gateway program. `cellbox serve` runs the Jupyter kernels API; see README.md.
#include "api/api_context.hpp"
#include "api/execution_registry.hpp"
#include "api/execution_stream.hpp"
#include "app/api_routes.hpp"
#include "app/config.hpp"
#include "app/mcp_command.hpp"
#include "app/run_command.hpp"
#include "app/token_command.hpp"
#include "http/server.hpp"
#include "http/tls_context.hpp"
#include "kernels/kernel_manager.hpp"
#include "protocol/connection_info.hpp"
#include "streams/io_thread_driver.hpp"
#include "telemetry/log.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <sys/resource.h>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>
#include <variant>

namespace cg = cellbox::gateway;
namespace net = boost::asio;

namespace
{

std::string program_directory()
{
    std::error_code error;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? "." : self.parent_path().string();
}

void watch_children(net::signal_set& children, cg::kernel_manager& kernels)
{
    children.async_wait(
        [&children, &kernels](const boost::system::error_code& error, int)
        {
            if (error)
            {
                return;
            }
            int status = 0;
            pid_t pid = 0;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
            {
                kernels.on_exit(pid, status);
            }
            watch_children(children, kernels);
        });
}

// Every kernel holds a handful of descriptors (ZeroMQ sockets, its WebSocket clients): a
// thousand sessions need more than the usual soft limit of 1024.
void raise_descriptor_limit()
{
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int serve(const cg::serve_settings& settings)
{
    raise_descriptor_limit();
    net::io_context io;
    cg::kernelspec_catalog specs(settings.kernelspec_path);
    if (specs.find(settings.server.default_kernel) == nullptr)
    {
        cg::log::error("kernelspec not found", {{"kernelspec", settings.server.default_kernel},
                                                {"hint", "see kernelspec_path"}});
        return 2;
    }
    // io_threads 0: the kernels' sockets are served on this thread, between the WebSocket
    // writes (before the first kernel: the shared I/O threads are made once).
    std::optional<cg::io_thread_driver> kernel_traffic;
    if (settings.manager.streams.io_threads == 0)
    {
        kernel_traffic.emplace(io, cg::io_threads::driven().first());
    }
    cg::kernel_manager kernels(io, specs, settings.manager);
    net::signal_set children(io, SIGCHLD);
    watch_children(children, kernels);
    net::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait(
        [&](const boost::system::error_code&, int signal_number)
        {
            cg::log::info("shutting down", {{"signal", signal_number}});
            // Every session saved first: the next gateway on the same state directory
            // resumes them under their ids.
            kernels.hibernate_all(
                [&]
                {
                    kernels.shutdown_all();
                    io.stop();
                });
        });
    const cg::server_options& options = settings.server;
    std::optional<cg::server> front;
    const auto api = cg::make_api_context(io, options, specs, kernels);
    try
    {
        front.emplace(io, net::ip::tcp::endpoint{net::ip::make_address(settings.ip), settings.port},
                      options, cg::api_routes(api));
    }
    catch (const cg::tls_config_error& e)
    {
        cg::log::error("invalid TLS configuration", {{"error", e.what()}});
        return 2;
    }
    catch (const std::runtime_error& e)
    {
        cg::log::error("invalid JWT key file", {{"error", e.what()}});
        return 2;
    }
    // SIGHUP re-reads the JWT public key files (a SaaS rotating its signing key).
    net::signal_set hangup(io, SIGHUP);
    std::function<void()> await_hangup = [&]
    {
        hangup.async_wait(
            [&](const boost::system::error_code& error, int)
            {
                if (!error)
                {
                    front->reload_keys();
                    await_hangup();
                }
            });
    };
    await_hangup();
    front->start();
    cg::log::info("listening", {{"ip", settings.ip},
                                {"port", front->port()},
                                {"base_url", options.base_url},
                                {"tls", front->tls()},
                                {"auth", options.token.empty() ? "none" : "token"}});
    // The URL line stays on stdout, unstructured: scripts and the tests read it. The admin
    // token is in it only on a terminal: a log file or a journal is read by others.
    const bool terminal = isatty(STDOUT_FILENO) == 1;
    std::string token_file = settings.token_file;
    if (settings.token_from == cg::token_origin::generated && !terminal)
    {
        token_file = settings.manager.runtime_dir + "/admin-token";
        cg::write_token_file(token_file, options.token);
    }
    std::cout << cg::startup_line(std::string(front->tls() ? "https" : "http") + "://" +
                                      settings.ip + ":" + std::to_string(front->port()) +
                                      options.base_url,
                                  options.token, settings.token_from, token_file, terminal)
              << std::endl;
    io.run();
    // What the stopped loop can no longer finish holds itself: let it go.
    api->executions->remove_all();
    cg::release_followers();
    return 0;
}

// Built-in defaults (the lowest precedence); some depend on where cellbox is installed.
cg::serve_settings default_settings()
{
    cg::serve_settings defaults;
    // io_threads 0: the HTTP thread serves the kernels' sockets, one hand-off less per
    // message: the gateway's CPU per cell 0.43 ms against 0.57 with a thread per core
    // (tests/bench/load.py, 200 sessions, 50 in flight, 4 runs each, alternated).
    defaults.manager.streams.io_threads = 0;
    defaults.kernelspec_path = {CELLBOX_KERNELSPEC_DIR, "/usr/local/share/jupyter",
                                "/usr/share/jupyter"};
    defaults.manager.sandbox_program = program_directory() + "/cellbox-sandbox";
    // The build tree's copy first, as for the kernelspecs, then the installed one.
    std::error_code error;
    defaults.server.static_dir = std::filesystem::is_directory(CELLBOX_BUILD_STATIC_DIR, error)
                                     ? CELLBOX_BUILD_STATIC_DIR
                                     : CELLBOX_INSTALL_STATIC_DIR;
    defaults.manager.runtime_dir = "/tmp/cellbox-runtime-" + std::to_string(getuid());
    // Users' files must outlive the runtime directory (and reboots).
    const char* home = std::getenv("HOME");
    defaults.manager.work_dir =
        geteuid() == 0 ? "/var/lib/cellbox"
                       : std::string(home != nullptr ? home : "/tmp") + "/.local/share/cellbox";
    return defaults;
}

// One CLI11 option per setting, bound to `flags` (a copy of the defaults, so that --help
// shows them); whether a flag was given is read from the returned options.
std::vector<CLI::Option*> add_flags(CLI::App& command, cg::serve_settings& flags)
{
    std::vector<CLI::Option*> options;
    for (const auto& s : cg::settings_of(flags))
    {
        const std::string help = s.help + " [env " + cg::env_name(s.key) + "]";
        const std::string name = cg::flag_name(s.key);
        options.push_back(std::visit(
            [&](auto* value) -> CLI::Option*
            {
                using type = std::remove_pointer_t<decltype(value)>;
                if constexpr (std::is_same_v<type, bool>)
                {
                    return command.add_flag(name, *value, help);
                }
                else
                {
                    return command.add_option(name, *value, help)->capture_default_str();
                }
            },
            s.target));
    }
    return options;
}

} // namespace

int main(int argc, char* argv[])
{
    CLI::App app{"cellbox: sandboxed Jupyter kernels"};
    app.require_subcommand(1);
    CLI::App* serve_command = app.add_subcommand(
        "serve", "Serve the Jupyter kernels API. Precedence: flag > CELLBOX_* environment "
                 "variable > config file > default");
    const cg::serve_settings defaults = default_settings();
    cg::serve_settings flags = defaults;
    const std::vector<CLI::Option*> given = add_flags(*serve_command, flags);
    std::string config_file;
    serve_command->add_option("--config", config_file,
                              "TOML file of settings, keys as the flags without dashes "
                              "(see share/cellbox/cellbox.toml) [env CELLBOX_CONFIG]");
    cg::add_token_command(app);
    cg::add_run_command(app);
    cg::add_mcp_command(app);
    CLI11_PARSE(app, argc, argv);

    cg::serve_settings settings = defaults;
    try
    {
        const char* env_config = std::getenv("CELLBOX_CONFIG");
        if (config_file.empty() && env_config != nullptr)
        {
            config_file = env_config;
        }
        if (!config_file.empty())
        {
            cg::apply_config_file(settings, config_file);
        }
        cg::apply_environment(settings, [](const char* name) { return std::getenv(name); });
        for (std::size_t i = 0; i < given.size(); ++i)
        {
            if (given[i]->count() > 0)
            {
                cg::copy_setting(flags, settings, i);
            }
        }
        cg::finish_settings(settings);
    }
    catch (const cg::config_error& e)
    {
        cg::log::error("invalid configuration", {{"error", e.what()}});
        return 2;
    }
    cg::log::configure(settings.log_level, settings.log_format);
    try
    {
        return serve(settings);
    }
    catch (const std::exception& e)
    {
        cg::log::error("cannot serve", {{"error", e.what()}});
        return 1;
    }
}
