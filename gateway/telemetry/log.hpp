#pragma once
// The gateway's structured log: one line per event on stderr, as logfmt (`key=value`) or as
// JSON, through spdlog. Callers name the event and its fields; formatting and escaping live
// here so that every line of the gateway parses the same way.
#include <initializer_list>
#include <spdlog/common.h>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cellbox::gateway::log
{

// One key=value pair. Numbers and booleans stay unquoted in both formats.
struct field
{
    field(std::string k, std::string v) : key(std::move(k)), text(std::move(v)) {}
    field(std::string k, const char* v) : key(std::move(k)), text(v) {}
    template <typename T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
    field(std::string k, T v) : key(std::move(k)), text(number_text(v)), bare(true)
    {
    }

    std::string key;
    std::string text;
    bool bare = false; // written without quotes (a number or a boolean)

private:
    template <typename T> static std::string number_text(T v)
    {
        if constexpr (std::is_same_v<T, bool>)
        {
            return v ? "true" : "false";
        }
        else if constexpr (std::is_floating_point_v<T>)
        {
            return decimal_text(static_cast<double>(v));
        }
        else
        {
            return std::to_string(v);
        }
    }
    static std::string decimal_text(double v);
};

// Sets the threshold (trace, debug, info, warn, error, critical, off) and the format
// (text or json); throws std::invalid_argument naming the bad value.
void configure(const std::string& level, const std::string& format);

void write(spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<field> fields = {});
// For records whose fields vary (some are present only when known).
void write(spdlog::level::level_enum level, std::string_view message,
           const std::vector<field>& fields);

inline void debug(std::string_view message, std::initializer_list<field> fields = {})
{
    write(spdlog::level::debug, message, fields);
}
inline void info(std::string_view message, std::initializer_list<field> fields = {})
{
    write(spdlog::level::info, message, fields);
}
inline void warn(std::string_view message, std::initializer_list<field> fields = {})
{
    write(spdlog::level::warn, message, fields);
}
inline void error(std::string_view message, std::initializer_list<field> fields = {})
{
    write(spdlog::level::err, message, fields);
}

} // namespace cellbox::gateway::log
