// cellbox: the gateway program. `cellbox serve` runs the Jupyter kernels API; see README.md.
#include "cellbox/gateway/connection_info.hpp"
#include "cellbox/gateway/kernel_manager.hpp"
#include "cellbox/gateway/server.hpp"
#include "tls_context.hpp"
#include "token_command.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sys/wait.h>
#include <unistd.h>

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

int serve(const std::string& ip, unsigned short port, cg::server_options options,
          std::vector<std::string> kernelspec_dirs, cg::manager_options manager)
{
    net::io_context io;
    cg::kernelspec_catalog specs(std::move(kernelspec_dirs));
    if (specs.find(options.default_kernel) == nullptr)
    {
        std::cerr << "cellbox serve: kernelspec \"" << options.default_kernel
                  << "\" not found (--kernelspec-path)\n";
        return 2;
    }
    cg::kernel_manager kernels(io, specs, std::move(manager));
    net::signal_set children(io, SIGCHLD);
    watch_children(children, kernels);
    net::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait(
        [&](const boost::system::error_code&, int signal_number)
        {
            std::cerr << "cellbox serve: signal " << signal_number
                      << ", shutting down the kernels\n";
            kernels.shutdown_all();
            io.stop();
        });
    std::optional<cg::server> front;
    try
    {
        front.emplace(io, net::ip::tcp::endpoint{net::ip::make_address(ip), port}, options, specs,
                      kernels);
    }
    catch (const cg::tls_config_error& e)
    {
        std::cerr << "cellbox serve: " << e.what() << "\n";
        return 2;
    }
    front->start();
    std::cout << "cellbox serve: Jupyter kernels API on " << (front->tls() ? "https" : "http")
              << "://" << ip << ":" << front->port() << options.base_url;
    if (!options.token.empty())
    {
        std::cout << "?token=" << options.token;
    }
    std::cout << std::endl;
    io.run();
    return 0;
}

// WebSocket and message-flow options (issue 4: replay, pings, backpressure, output limits).
void add_stream_options(CLI::App& command, cg::server_options& options, cg::stream_options& streams)
{
    command
        .add_option("--max-message-bytes", options.max_message_bytes,
                    "Largest request body or WebSocket message accepted (bytes)")
        ->capture_default_str();
    command
        .add_option("--ws-ping-interval", options.ws_ping_interval_s,
                    "Seconds between WebSocket pings; a connection silent for another interval "
                    "after a ping is closed (0: no pings)")
        ->capture_default_str();
    command
        .add_option("--ws-max-outbox-bytes", options.ws_max_outbox_bytes,
                    "Bytes that may wait for a WebSocket client before it is dropped as not "
                    "reading (0: no limit)")
        ->capture_default_str();
    command.add_option_function<double>(
        "--replay-timeout",
        [&streams](double seconds)
        {
            streams.replay_timeout =
                std::chrono::milliseconds(static_cast<long long>(std::max(0.0, seconds) * 1000));
        },
        "Seconds a disconnected session's messages are kept for its reconnect (0: none; "
        "default 300)");
    command
        .add_option("--replay-max-messages", streams.replay_max_messages,
                    "Messages kept per disconnected session (oldest dropped)")
        ->capture_default_str();
    command
        .add_option("--replay-max-bytes", streams.replay_max_bytes,
                    "Bytes kept per disconnected session (oldest dropped)")
        ->capture_default_str();
    command
        .add_option("--max-output-bytes", streams.max_output_bytes,
                    "Output bytes one cell may send before the rest is discarded (0: no cap)")
        ->capture_default_str();
    command
        .add_option("--iopub-msg-rate-limit", streams.iopub_msg_rate_limit,
                    "IOPub messages per second before output is dropped (0: no limit)")
        ->capture_default_str();
    command
        .add_option("--iopub-data-rate-limit", streams.iopub_data_rate_limit,
                    "IOPub stream bytes per second before output is dropped (0: no limit)")
        ->capture_default_str();
    command
        .add_option("--rate-limit-window", streams.rate_limit_window,
                    "Seconds over which the IOPub rates are averaged")
        ->capture_default_str();
}

} // namespace

int main(int argc, char* argv[])
{
    CLI::App app{"cellbox: sandboxed Jupyter kernels"};
    app.require_subcommand(1);
    CLI::App* serve_command = app.add_subcommand("serve", "Serve the Jupyter kernels API");
    std::string ip = "127.0.0.1";
    unsigned short port = 8888;
    cg::server_options options;
    const char* env_token = std::getenv("CELLBOX_TOKEN");
    std::string token = env_token != nullptr ? env_token : "";
    bool no_token = false;
    std::vector<std::string> kernelspec_dirs = {CELLBOX_KERNELSPEC_DIR, "/usr/local/share/jupyter",
                                                "/usr/share/jupyter"};
    cg::manager_options manager;
    manager.sandbox_program = program_directory() + "/cellbox-sandbox";
    manager.runtime_dir = "/tmp/cellbox-runtime-" + std::to_string(getuid());
    std::string memory = "1G";
    bool allow_degraded = false;
    bool no_restart = false;
    serve_command->add_option("--ip", ip, "Address to listen on")->capture_default_str();
    serve_command->add_option("--port", port, "Port (0 picks a free one)")->capture_default_str();
    serve_command->add_option("--token", token,
                              "Admin token (env CELLBOX_TOKEN; random when not given)");
    serve_command->add_flag("--no-token", no_token, "Serve without authentication (local use)");
    const char* env_secret = std::getenv("CELLBOX_JWT_SECRET");
    options.jwt_secret = env_secret != nullptr ? env_secret : "";
    serve_command->add_option("--jwt-secret", options.jwt_secret,
                              "Secret of users' HS256 tokens (env CELLBOX_JWT_SECRET; default: "
                              "the admin token)");
    serve_command
        ->add_option("--max-kernels", manager.max_kernels,
                     "Most kernels on the server, starting ones included (0: no limit)")
        ->capture_default_str();
    serve_command
        ->add_option("--max-kernels-per-user", manager.max_kernels_per_user,
                     "Most kernels per token user (0: no limit; tokens may lower it)")
        ->capture_default_str();
    serve_command
        ->add_option("--first-user-uid", manager.first_user_uid,
                     "Sandbox uid of the first user; each user gets the next one")
        ->capture_default_str();
    serve_command->add_option("--base-url", options.base_url, "URL prefix")->capture_default_str();
    serve_command->add_option("--default-kernel", options.default_kernel)->capture_default_str();
    serve_command->add_option("--kernelspec-path", kernelspec_dirs,
                              "Directories holding kernels/<name>/kernel.json");
    serve_command->add_option("--sandbox", manager.sandbox_program, "cellbox-sandbox to use");
    serve_command
        ->add_option("--runtime-dir", manager.runtime_dir, "Where kernels' ipc directories live")
        ->capture_default_str();
    manager.work_dir = geteuid() == 0
                           ? "/var/lib/cellbox"
                           : std::string(std::getenv("HOME") ? std::getenv("HOME") : "/tmp") +
                                 "/.local/share/cellbox";
    serve_command
        ->add_option(
            "--work-dir", manager.work_dir,
            "Users' persistent files: WORK/users/NAME is mounted at /work in their kernels")
        ->capture_default_str();
    serve_command->add_option("--memory", memory, "Memory limit per kernel")->capture_default_str();
    serve_command->add_option("--allow-origin", options.allow_origin,
                              "CORS: origins allowed to call the API from a browser, "
                              "comma-separated, or * for any");
    serve_command->add_option("--certfile", options.certfile,
                              "PEM certificate (chain): serve HTTPS and WSS only");
    serve_command
        ->add_option("--keyfile", options.keyfile,
                     "PEM private key of --certfile (default: read from the certificate file)")
        ->needs(serve_command->get_option("--certfile"));
    serve_command
        ->add_option("--cell-timeout", manager.cell_timeout_s,
                     "Default time limit of a cell in seconds (0: none); requests may set "
                     "metadata.cellbox.timeout")
        ->capture_default_str();
    serve_command->add_option("--cell-timeout-cap", manager.cell_timeout_cap_s,
                              "Largest time limit a request may ask for (0: no cap)");
    serve_command->add_flag("--no-restart-on-death", no_restart,
                            "Leave a kernel that died dead instead of restarting it");
    serve_command->add_flag("--allow-degraded", allow_degraded,
                            "Start kernels even where the sandbox cannot give every protection");
    cg::add_token_command(app);
    add_stream_options(*serve_command, options, manager.streams);
    CLI11_PARSE(app, argc, argv);

    if (no_token)
    {
        token.clear();
    }
    else if (token.empty())
    {
        token = cg::random_hex(24);
    }
    options.token = token;
    if (options.base_url.empty() || options.base_url.back() != '/')
    {
        options.base_url += "/";
    }
    manager.memory_limit = memory;
    manager.restart_on_death = !no_restart;
    if (allow_degraded)
    {
        manager.sandbox_args.push_back("--allow-degraded");
    }
    try
    {
        return serve(ip, port, options, kernelspec_dirs, manager);
    }
    catch (const std::exception& e)
    {
        std::cerr << "cellbox serve: " << e.what() << "\n";
        return 1;
    }
}
