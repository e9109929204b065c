#include "app/config.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/toml_ascii.hpp"
#include "protocol/connection_info.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <toml++/toml.h>

namespace cellbox::gateway
{
namespace
{

template <typename... Ts> struct overloaded : Ts...
{
    using Ts::operator()...;
};
template <typename... Ts> overloaded(Ts...) -> overloaded<Ts...>;

const char* type_name(const setting::target_type& target)
{
    return std::visit(overloaded{[](std::string*) { return "a string"; },
                                 [](double*) { return "a number"; },
                                 [](bool*) { return "a boolean"; },
                                 [](std::uint16_t*) { return "an integer from 0 to 65535"; },
                                 [](int*) { return "an integer from 0 to 2147483647"; },
                                 [](std::uint64_t*) { return "an integer of at least 0"; },
                                 [](std::vector<std::string>*) { return "an array of strings"; }},
                      target);
}

// Stores a non-negative integer no larger than `most` into `value`; false otherwise.
template <typename T> bool store_integer(std::int64_t number, std::int64_t most, T& value)
{
    if (number < 0 || number > most)
    {
        return false;
    }
    value = static_cast<T>(number);
    return true;
}

std::optional<std::int64_t> parse_integer(const std::string& text)
{
    char* end = nullptr;
    errno = 0;
    const long long number = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0)
    {
        return std::nullopt;
    }
    return number;
}

const char* toml_type_name(const toml::node& node)
{
    switch (node.type())
    {
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::table:
        return "a table";
    default:
        return "a date or time";
    }
}

std::string known_keys(serve_settings& settings)
{
    std::string keys;
    for (const auto& s : settings_of(settings))
    {
        keys += (keys.empty() ? "" : ", ") + s.key;
    }
    return keys;
}

// Stores `node` into `target` if its TOML type fits; false otherwise.
bool assign(const setting::target_type& target, const toml::node& node)
{
    return std::visit(overloaded{[&](std::string* value)
                                 {
                                     const auto* text = node.as_string();
                                     return text != nullptr && (*value = text->get(), true);
                                 },
                                 [&](double* value)
                                 {
                                     if (const auto* integer = node.as_integer())
                                     {
                                         *value = static_cast<double>(integer->get());
                                         return true;
                                     }
                                     const auto* number = node.as_floating_point();
                                     return number != nullptr && std::isfinite(number->get()) &&
                                            (*value = number->get(), true);
                                 },
                                 [&](bool* value)
                                 {
                                     const auto* flag = node.as_boolean();
                                     return flag != nullptr && (*value = flag->get(), true);
                                 },
                                 [&](std::uint16_t* value)
                                 {
                                     const auto* integer = node.as_integer();
                                     if (integer == nullptr || integer->get() < 0 ||
                                         integer->get() > 65535)
                                     {
                                         return false;
                                     }
                                     *value = static_cast<std::uint16_t>(integer->get());
                                     return true;
                                 },
                                 [&](int* value)
                                 {
                                     const auto* integer = node.as_integer();
                                     return integer != nullptr &&
                                            store_integer(integer->get(), 2147483647, *value);
                                 },
                                 [&](std::uint64_t* value)
                                 {
                                     const auto* integer = node.as_integer();
                                     return integer != nullptr &&
                                            store_integer(integer->get(), INT64_MAX, *value);
                                 },
                                 [&](std::vector<std::string>* value)
                                 {
                                     const auto* array = node.as_array();
                                     if (array == nullptr)
                                     {
                                         return false;
                                     }
                                     std::vector<std::string> items;
                                     for (const auto& item : *array)
                                     {
                                         const auto* text = item.as_string();
                                         if (text == nullptr)
                                         {
                                             return false;
                                         }
                                         items.push_back(text->get());
                                     }
                                     *value = std::move(items);
                                     return true;
                                 }},
                      target);
}

void apply_table(serve_settings& settings, const toml::table& table, const std::string& origin)
{
    auto options = settings_of(settings);
    for (const auto& [key, node] : table)
    {
        const std::string name(key.str());
        const auto option = std::find_if(options.begin(), options.end(),
                                         [&](const setting& s) { return s.key == name; });
        if (option == options.end())
        {
            throw config_error(origin + ": unknown key '" + name +
                               "' (known keys: " + known_keys(settings) + ")");
        }
        if (!assign(option->target, node))
        {
            throw config_error(origin + ": key '" + name + "' must be " +
                               type_name(option->target) + ", not " + toml_type_name(node));
        }
    }
}

bool parse_bool(const std::string& text, bool& value)
{
    static const std::set<std::string> yes = {"1", "true", "yes", "on"};
    static const std::set<std::string> no = {"0", "false", "no", "off", ""};
    std::string lower;
    for (const char c : text)
    {
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (yes.count(lower) != 0 || no.count(lower) != 0)
    {
        value = yes.count(lower) != 0;
        return true;
    }
    return false;
}

// Parses an environment variable's text into `target`; false if it does not fit.
bool assign_text(const setting::target_type& target, const std::string& text)
{
    return std::visit(overloaded{[&](std::string* value) { return *value = text, true; },
                                 [&](double* value)
                                 {
                                     char* end = nullptr;
                                     errno = 0;
                                     const double number = std::strtod(text.c_str(), &end);
                                     if (text.empty() || *end != '\0' || errno != 0 ||
                                         !std::isfinite(number))
                                     {
                                         return false;
                                     }
                                     *value = number;
                                     return true;
                                 },
                                 [&](bool* value) { return parse_bool(text, *value); },
                                 [&](std::uint16_t* value)
                                 {
                                     char* end = nullptr;
                                     errno = 0;
                                     const long number = std::strtol(text.c_str(), &end, 10);
                                     if (text.empty() || *end != '\0' || errno != 0 || number < 0 ||
                                         number > 65535)
                                     {
                                         return false;
                                     }
                                     *value = static_cast<std::uint16_t>(number);
                                     return true;
                                 },
                                 [&](int* value)
                                 {
                                     const auto number = parse_integer(text);
                                     return number && store_integer(*number, 2147483647, *value);
                                 },
                                 [&](std::uint64_t* value)
                                 {
                                     const auto number = parse_integer(text);
                                     return number && store_integer(*number, INT64_MAX, *value);
                                 },
                                 [&](std::vector<std::string>* value)
                                 {
                                     std::vector<std::string> items;
                                     std::istringstream parts(text);
                                     std::string part;
                                     while (std::getline(parts, part, ':'))
                                     {
                                         if (!part.empty())
                                         {
                                             items.push_back(part);
                                         }
                                     }
                                     *value = std::move(items);
                                     return true;
                                 }},
                      target);
}

void require(bool condition, const std::string& key, const std::string& what)
{
    if (!condition)
    {
        throw config_error(key + ": " + what);
    }
}

} // namespace

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

std::string flag_name(const std::string& key)
{
    std::string flag = "--" + key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    return flag;
}

std::string env_name(const std::string& key)
{
    std::string name = "CELLBOX_" + key;
    for (char& c : name)
    {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return name;
}

void apply_config_text(serve_settings& settings, const std::string& text, const std::string& origin)
{
    std::string ascii;
    try
    {
        ascii = toml_as_ascii(text);
    }
    catch (const std::invalid_argument& e)
    {
        throw config_error(origin + ":" + e.what());
    }
    try
    {
        apply_table(settings, toml::parse(ascii, origin), origin);
    }
    catch (const toml::parse_error& e)
    {
        std::ostringstream message;
        message << origin << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
                << e.description();
        throw config_error(message.str());
    }
}

void apply_config_file(serve_settings& settings, const std::string& path)
{
    std::ifstream file(path);
    if (!file)
    {
        throw config_error(path + ": cannot read the config file");
    }
    std::ostringstream text;
    text << file.rdbuf();
    apply_config_text(settings, text.str(), path);
}

void apply_environment(serve_settings& settings, const env_lookup& getenv)
{
    for (const auto& option : settings_of(settings))
    {
        const std::string name = env_name(option.key);
        const char* value = getenv(name.c_str());
        if (value != nullptr && !assign_text(option.target, value))
        {
            throw config_error("environment " + name + "='" + value + "': must be " +
                               type_name(option.target));
        }
    }
}

void copy_setting(serve_settings& from, serve_settings& to, std::size_t index)
{
    const auto source = settings_of(from).at(index).target;
    const auto destination = settings_of(to).at(index).target;
    std::visit(
        [](auto* in, auto* out)
        {
            if constexpr (std::is_same_v<decltype(in), decltype(out)>)
            {
                *out = *in;
            }
        },
        source, destination);
}

void finish_settings(serve_settings& s)
{
    static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                 "error", "critical", "off"};
    require(levels.count(s.log_level) != 0, "log_level",
            "'" + s.log_level + "' is not one of trace, debug, info, warn, error, critical, off");
    require(s.log_format == "text" || s.log_format == "json", "log_format",
            "'" + s.log_format + "' is not text or json");
    require(s.manager.cell_timeout_s >= 0, "cell_timeout", "must not be negative");
    require(s.manager.cell_timeout_cap_s >= 0, "cell_timeout_cap", "must not be negative");
    require(s.manager.cull_idle_timeout_s >= 0, "cull_idle_timeout", "must not be negative");
    require(s.manager.cull_interval_s > 0, "cull_interval", "must be more than 0");
    require(!s.manager.memory_limit.empty(), "memory", "must not be empty");
    require(!s.manager.runtime_dir.empty(), "runtime_dir", "must not be empty");
    require(s.manager.checkpoint_interval_s >= 0, "checkpoint_interval", "must not be negative");
    require(s.manager.cull_action == "hibernate" || s.manager.cull_action == "shutdown",
            "cull_action", "'" + s.manager.cull_action + "' is not hibernate or shutdown");
    if (s.manager.state_dir.empty())
    {
        s.manager.state_dir = s.manager.work_dir + "/state";
    }
    try
    {
        s.manager.hibernate_max_bytes =
            s.hibernate_max == "0" ? 0 : parse_byte_size(s.hibernate_max);
    }
    catch (const std::invalid_argument& e)
    {
        throw config_error(std::string("hibernate_max: ") + e.what());
    }

    require(s.token_file.empty() || s.server.token.empty(), "token_file",
            "give either token or token_file, not both");
    s.token_from = token_origin::given;
    if (s.no_token)
    {
        s.server.token.clear();
        s.token_from = token_origin::none;
    }
    else if (!s.token_file.empty())
    {
        s.server.token = read_token_file(s.token_file);
        s.token_from = token_origin::file;
    }
    else if (s.server.token.empty())
    {
        s.server.token = random_hex(24);
        s.token_from = token_origin::generated;
    }
    if (s.server.base_url.empty() || s.server.base_url.back() != '/')
    {
        s.server.base_url += "/";
    }
    require(s.server.keyfile.empty() || !s.server.certfile.empty(), "keyfile", "needs certfile");
    require(s.replay_timeout_s >= 0, "replay_timeout", "must not be negative");
    require(s.server.ws_ping_interval_s >= 0, "ws_ping_interval", "must not be negative");
    require(s.server.execution_keep_s >= 0, "execution_keep", "must not be negative");
    require(s.server.execute_keepalive_s >= 0, "execute_keepalive", "must not be negative");
    require(s.server.mcp_session_idle_timeout_s >= 0, "mcp_session_idle_timeout",
            "must not be negative");
    require(s.server.mcp_max_sessions_per_user >= 0, "mcp_max_sessions_per_user",
            "must not be negative");
    require(s.server.http_header_timeout_s >= 0, "http_header_timeout", "must not be negative");
    require(s.server.http_body_timeout_s >= 0, "http_body_timeout", "must not be negative");
    require(s.server.http_write_timeout_s > 0, "http_write_timeout", "must be more than 0");
    require(s.manager.streams.rate_limit_window > 0, "rate_limit_window", "must be more than 0");
    require(s.manager.pool_max >= s.manager.pool_size && s.manager.pool_max <= 4096, "pool_max",
            "must be from pool_size (" + std::to_string(s.manager.pool_size) + ") to 4096");
    require(s.manager.launch_pool_max == 0 ||
                (s.manager.launch_pool_max >= s.manager.launch_pool_size &&
                 s.manager.launch_pool_max <= 4096),
            "launch_pool_max",
            "must be 0 or from launch_pool_size (" + std::to_string(s.manager.launch_pool_size) +
                ") to 4096");
    require(s.manager.pool_window_s > 0 && s.manager.pool_window_s <= 86400, "pool_window",
            "must be more than 0 and at most 86400 seconds");
    s.manager.streams.replay_timeout =
        std::chrono::milliseconds(static_cast<long long>(s.replay_timeout_s * 1000));
    s.manager.restart_on_death = !s.no_restart_on_death;
    if (s.work_quota == "0")
    {
        s.manager.work_quota.bytes = 0;
    }
    else
    {
        try
        {
            s.manager.work_quota.bytes = parse_byte_size(s.work_quota);
        }
        catch (const std::invalid_argument& e)
        {
            throw config_error(std::string("work_quota: ") + e.what());
        }
        require(s.manager.work_quota.bytes >= min_work_quota_bytes, "work_quota",
                "must be 0 (no quota) or at least " + format_byte_size(min_work_quota_bytes));
    }
    require(s.manager.work_quota.inodes >= 64, "work_inodes", "must be at least 64");
    s.manager.work_quota.allow_without = s.allow_degraded;
    s.manager.sandbox_allow_degraded = s.allow_degraded;
}

} // namespace cellbox::gateway
