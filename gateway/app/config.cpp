#include "app/config.hpp"

#include "cellbox/byte_size.hpp"
#include "cellbox/toml_ascii.hpp"

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
