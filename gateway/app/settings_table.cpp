// The one table of `cellbox serve`'s settings: each key with the option it sets and its help.
// Flags, environment variables and the config file all come from it (config.cpp).
#include "app/config.hpp"

namespace cellbox::gateway
{

std::vector<setting> settings_of(serve_settings& s)
{
    server_options& server = s.server;
    manager_options& manager = s.manager;
    return {
        {"ip", &s.ip, "Address to listen on"},
        {"port", &s.port, "Port (0 picks a free one)"},
        {"token", &server.token, "Admin token (random when not given)"},
        {"token_file", &s.token_file,
         "File holding the admin token on its first line (keep it 0600): unlike token, not in "
         "the command line or environment"},
        {"no_token", &s.no_token, "Serve without authentication (local use)"},
        {"base_url", &server.base_url, "URL prefix"},
        {"default_kernel", &server.default_kernel, "Kernelspec started when a request names none"},
        {"kernelspec_path", &s.kernelspec_path, "Directories holding kernels/<name>/kernel.json"},
        {"sandbox", &manager.sandbox_program, "cellbox-sandbox to use"},
        {"runtime_dir", &manager.runtime_dir, "Where kernels' ipc directories live"},
        {"work_dir", &manager.work_dir,
         "Users' persistent files: WORK_DIR/users/NAME is mounted at /work in their kernels"},
        {"memory", &manager.memory_limit, "Memory limit per kernel"},
        {"work_quota", &s.work_quota,
         "Disk quota of each user's /work, a filesystem of its own (0: none); tokens' "
         "limits.disk may lower it"},
        {"work_inodes", &manager.work_quota.inodes,
         "Files and directories each user's /work may hold (at the full work_quota; a lower "
         "quota has proportionally fewer)"},
        {"allow_origin", &server.allow_origin,
         "CORS: origins allowed to call the API from a browser, comma-separated, or * for any"},
        {"static_dir", &server.static_dir,
         "Directory of the landing page and the widget, served at {base_url} and "
         "{base_url}static/ without a token (empty: none)"},
        {"certfile", &server.certfile, "PEM certificate (chain): serve HTTPS and WSS only"},
        {"keyfile", &server.keyfile,
         "PEM private key of certfile (default: read from the certificate file)"},
        {"cell_timeout", &manager.cell_timeout_s,
         "Default time limit of a cell in seconds (0: none); requests may set "
         "metadata.cellbox.timeout"},
        {"cell_timeout_cap", &manager.cell_timeout_cap_s,
         "Largest time limit a request may ask for (0: no cap)"},
        {"no_restart_on_death", &s.no_restart_on_death,
         "Leave a kernel that died dead instead of restarting it"},
        {"allow_degraded", &s.allow_degraded,
         "Start kernels even where the sandbox cannot give every protection"},
        {"cull_idle_timeout", &manager.cull_idle_timeout_s,
         "Shut down kernels idle for this many seconds (0: never)"},
        {"cull_interval", &manager.cull_interval_s, "Seconds between two looks for idle kernels"},
        {"cull_connected", &manager.cull_connected,
         "Also cull idle kernels that have WebSocket connections"},
        {"cull_busy", &manager.cull_busy, "Also cull busy kernels that show no activity"},
        {"cull_action", &manager.cull_action,
         "What culling does to an idle kernel: hibernate (saved, resumed on the next request) "
         "or shutdown"},
        {"state_dir", &manager.state_dir,
         "The gateway's own state, root-only: hibernated kernels' images (default: "
         "WORK_DIR/state)"},
        {"hibernate_max", &s.hibernate_max,
         "Bytes of hibernation images one user may have (0: no limit)"},
        {"checkpoint_interval", &manager.checkpoint_interval_s,
         "Seconds between checkpoints of idle kernels' variables, the fallback after a "
         "SIGKILL of the gateway (0: none)"},
        {"log_level", &s.log_level, "trace, debug, info, warn, error, critical or off"},
        {"log_format", &s.log_format, "text (logfmt key=value) or json"},
        {"jwt_secret", &server.jwt_secret,
         "Secret of users' HS256 tokens (default: the admin token)"},
        {"jwt_public_key", &server.jwt_public_key,
         "PEM file of public keys (or certificates) verifying users' RS256 / ES256 tokens; "
         "reloaded on SIGHUP"},
        {"jwks_file", &server.jwks_file,
         "JWKS file (RSA and EC P-256 keys) verifying users' RS256 / ES256 tokens; reloaded "
         "on SIGHUP"},
        {"jwt_audience", &server.jwt_audience,
         "Users' tokens must name this audience in aud (default: no check)"},
        {"jwt_issuer", &server.jwt_issuer,
         "Users' tokens must have this issuer in iss (default: no check)"},
        {"max_kernels", &manager.max_kernels,
         "Most kernels on the server, starting ones included (0: no limit)"},
        {"max_kernels_per_user", &manager.max_kernels_per_user,
         "Most kernels per token user (0: no limit; tokens may lower it)"},
        {"max_sessions_per_kernel", &server.max_sessions_per_kernel,
         "Most /api/sessions bound to one kernel (0: no limit)"},
        {"max_sessions_per_user", &server.max_sessions_per_user,
         "Most /api/sessions of one user (0: no limit)"},
        {"execution_keep", &server.execution_keep_s,
         "Seconds a finished execution of the execute API is kept for clients that come back"},
        {"max_executions_per_kernel", &server.max_executions_per_kernel,
         "Executions of the execute API kept per kernel, running or finished (0: no limit)"},
        {"execute_max_output_bytes", &server.execute_max_output_bytes,
         "Default and largest text budget of one execution (max_output_bytes), bytes"},
        {"execute_max_image_bytes", &server.execute_max_image_bytes,
         "Default and largest image budget of one execution (max_image_bytes), bytes"},
        {"execute_keepalive", &server.execute_keepalive_s,
         "Seconds between keepalives while an execution stream is silent (0: none)"},
        {"mcp_session_idle_timeout", &server.mcp_session_idle_timeout_s,
         "Seconds an unused MCP session lives before it and its kernel end (0: never)"},
        {"mcp_max_sessions_per_user", &server.mcp_max_sessions_per_user,
         "Most MCP sessions of one user at once (0: no limit)"},
        {"first_user_uid", &manager.first_user_uid,
         "Sandbox uid of the first user; each new user gets the next one"},
        {"max_message_bytes", &server.max_message_bytes,
         "Largest request body or WebSocket message accepted (bytes)"},
        {"max_connections", &server.max_connections,
         "Most connections held at once; more are refused (0: no limit)"},
        {"max_connections_per_ip", &server.max_connections_per_ip,
         "Most connections held at once from one client address (IPv6: one /64); more are "
         "refused (0: no limit)"},
        {"http_header_timeout", &server.http_header_timeout_s,
         "Seconds a client has to send a request's headers, and an idle keep-alive connection "
         "stays open (0: no limit)"},
        {"http_body_timeout", &server.http_body_timeout_s,
         "Seconds an authenticated client has to send a request's body (0: no limit)"},
        {"http_write_timeout", &server.http_write_timeout_s,
         "Seconds one write of an answer (a whole answer, or a chunk of a streamed one) may "
         "take before the client is dropped as not reading"},
        {"ws_ping_interval", &server.ws_ping_interval_s,
         "Seconds between WebSocket pings; a connection silent for another interval after a "
         "ping is closed (0: no pings)"},
        {"ws_max_outbox_bytes", &server.ws_max_outbox_bytes,
         "Bytes that may wait for a WebSocket client before it is dropped as not reading, once "
         "the oldest has waited 1 s (0: no limit)"},
        {"replay_timeout", &s.replay_timeout_s,
         "Seconds a disconnected session's messages are kept for its reconnect (0: none)"},
        {"replay_max_messages", &manager.streams.replay_max_messages,
         "Messages kept per disconnected session (oldest dropped)"},
        {"replay_max_bytes", &manager.streams.replay_max_bytes,
         "Bytes kept per disconnected session (oldest dropped)"},
        {"stream_memory_budget", &manager.streams.memory_budget,
         "Bytes of kernel messages all replay buffers and WebSocket outboxes may hold together, "
         "each message counted once; past it the longest-disconnected sessions' buffers are "
         "dropped, then the slowest-reading WebSockets closed (0: no limit)"},
        {"max_output_bytes", &manager.streams.max_output_bytes,
         "Output bytes one cell may send before the rest is discarded (0: no cap)"},
        {"iopub_msg_rate_limit", &manager.streams.iopub_msg_rate_limit,
         "IOPub messages per second before output is dropped (0: no limit)"},
        {"iopub_data_rate_limit", &manager.streams.iopub_data_rate_limit,
         "IOPub stream bytes per second before output is dropped (0: no limit)"},
        {"rate_limit_window", &manager.streams.rate_limit_window,
         "Seconds over which the IOPub rates are averaged"},
        {"io_threads", &manager.streams.io_threads,
         "Threads for all kernels' ZeroMQ messages (0: none, the HTTP thread serves them)"},
        {"pool_size", &manager.pool_size,
         "Pre-forked sessions kept ready per zygote kernelspec (0: no zygote, plain launches)"},
        {"pool_max", &manager.pool_max,
         "Sessions a zygote pool may keep after bursts, within free memory (pool_size: fixed)"},
        {"pool_window", &manager.pool_window_s,
         "Seconds of starts that size a pool (none for this long: back to its size)"},
        {"pool_warm_modules", &manager.pool_warm_modules,
         "Modules the zygote imports before forking (comma-separated)"},
        {"launch_pool_size", &manager.launch_pool_size,
         "Sandboxed kernels launched ahead per other kernelspec, e.g. ipykernel (0: on demand)"},
        {"launch_pool_max", &manager.launch_pool_max,
         "Kernels a launch pool may keep after bursts, within free memory (0: launch_pool_size)"},
    };
}

} // namespace cellbox::gateway
