#pragma once
// `cellbox serve` settings from a TOML file and CELLBOX_* environment variables. Every
// option has one key, spelled the same everywhere: config key `cell_timeout`, flag
// `--cell-timeout`, environment variable `CELLBOX_CELL_TIMEOUT`. The precedence is
// flag > environment > config file > built-in default; main.cpp applies the flags.
#include "app/admin_token.hpp"
#include "http/server.hpp"
#include "kernels/kernel_manager.hpp"

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace cellbox::gateway
{

// A bad key, type or value; the message names the key and where it came from.
class config_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct serve_settings
{
    std::string ip = "127.0.0.1";
    std::uint16_t port = 8888;
    bool no_token = false;
    std::string token_file;
    token_origin token_from = token_origin::given; // set by finish_settings
    std::vector<std::string> kernelspec_path;
    bool no_restart_on_death = false;
    bool allow_degraded = false;
    std::string log_level = "info";
    std::string log_format = "text";
    double replay_timeout_s = 300;    // manager.streams.replay_timeout, in the config's unit
    std::string work_quota = "1G";    // manager.work_quota.bytes ("0": no quota)
    std::string hibernate_max = "4G"; // manager.hibernate_max_bytes ("0": no limit)
    server_options server;
    manager_options manager;
};

// One option: where its value lives in a serve_settings.
struct setting
{
    using target_type = std::variant<std::string*, double*, bool*, std::uint16_t*, int*,
                                     std::uint64_t*, std::vector<std::string>*>;
    std::string key;
    target_type target;
    std::string help;
};

// Every option of `cellbox serve`, pointing into `settings`, in the order of --help.
std::vector<setting> settings_of(serve_settings& settings);

std::string flag_name(const std::string& key); // --cell-timeout
std::string env_name(const std::string& key);  // CELLBOX_CELL_TIMEOUT

// Reads a TOML file (or text) of top-level `key = value` pairs into `settings`; unknown keys
// and wrong types throw config_error.
void apply_config_file(serve_settings& settings, const std::string& path);
void apply_config_text(serve_settings& settings, const std::string& text,
                       const std::string& origin);

using env_lookup = std::function<const char*(const char* name)>;
// Applies the CELLBOX_<KEY> variables that are set. Lists (kernelspec_path) are
// colon-separated, booleans 1/0, true/false, yes/no, on/off.
void apply_environment(serve_settings& settings, const env_lookup& getenv);

// Copies from `from` to `to` the option at `index` of settings_of().
void copy_setting(serve_settings& from, serve_settings& to, std::size_t index);

// Checks the values and derives what depends on several of them (random token, work
// directory, sandbox arguments); throws config_error.
void finish_settings(serve_settings& settings);

} // namespace cellbox::gateway
