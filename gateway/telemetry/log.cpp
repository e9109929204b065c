#include "telemetry/log.hpp"

#include "cellbox/quoted_string.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdexcept>

namespace cellbox::gateway::log
{
namespace
{

enum class format
{
    text,
    json
};

// The logger and its format change together (configure) while other threads may be writing.
struct state
{
    std::mutex mutex;
    std::shared_ptr<spdlog::logger> logger;
    format style = format::text;
};

// Timestamps in UTC with microseconds, like the protocol's dates.
constexpr const char* text_pattern = "ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v";
constexpr const char* json_pattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})";

state& shared()
{
    static state s;
    static std::once_flag created;
    std::call_once(created,
                   []
                   {
                       // Not registered globally: the default spdlog logger writes to stdout,
                       // where the gateway prints only its URL line.
                       s.logger = std::make_shared<spdlog::logger>(
                           "cellbox", std::make_shared<spdlog::sinks::stderr_sink_mt>());
                       s.logger->set_pattern(text_pattern, spdlog::pattern_time_type::utc);
                       s.logger->set_level(spdlog::level::info);
                       s.logger->flush_on(spdlog::level::trace);
                   });
    return s;
}

bool needs_quotes(const std::string& text)
{
    if (text.empty())
    {
        return true;
    }
    for (const char c : text)
    {
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f)
        {
            return true;
        }
    }
    return false;
}

// logfmt: quoted only when needed, with Go-style escapes so that a line stays one line.
std::string logfmt_value(const std::string& text)
{
    if (!needs_quotes(text))
    {
        return text;
    }
    return quoted_string(text);
}

std::string json_string(const std::string& text)
{
    return nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <typename Fields>
std::string render(format style, std::string_view message, const Fields& fields)
{
    std::string line;
    if (style == format::text)
    {
        line = "msg=" + logfmt_value(std::string(message));
        for (const auto& f : fields)
        {
            line += " " + f.key + "=" + (f.bare ? f.text : logfmt_value(f.text));
        }
    }
    else
    {
        line = "\"msg\":" + json_string(std::string(message));
        for (const auto& f : fields)
        {
            line += "," + json_string(f.key) + ":" + (f.bare ? f.text : json_string(f.text));
        }
    }
    return line;
}

} // namespace

std::string field::decimal_text(double v)
{
    if (!std::isfinite(v))
    {
        return "0";
    }
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", v);
    return text;
}

void configure(const std::string& level, const std::string& style)
{
    static const std::pair<const char*, spdlog::level::level_enum> levels[] = {
        {"trace", spdlog::level::trace},       {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},         {"warn", spdlog::level::warn},
        {"warning", spdlog::level::warn},      {"error", spdlog::level::err},
        {"critical", spdlog::level::critical}, {"off", spdlog::level::off}};
    const auto* found = std::find_if(std::begin(levels), std::end(levels),
                                     [&](const auto& entry) { return level == entry.first; });
    if (found == std::end(levels))
    {
        throw std::invalid_argument("log level \"" + level +
                                    "\" is not one of trace, debug, info, warn, error, "
                                    "critical, off");
    }
    if (style != "text" && style != "json")
    {
        throw std::invalid_argument("log format \"" + style + "\" is not text or json");
    }
    state& s = shared();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.style = style == "json" ? format::json : format::text;
    s.logger->set_pattern(s.style == format::json ? json_pattern : text_pattern,
                          spdlog::pattern_time_type::utc);
    s.logger->set_level(found->second);
}

namespace
{

template <typename Fields>
void write_fields(spdlog::level::level_enum level, std::string_view message, const Fields& fields)
{
    state& s = shared();
    if (!s.logger->should_log(level))
    {
        return;
    }
    std::lock_guard<std::mutex> lock(s.mutex);
    s.logger->log(level, "{}", render(s.style, message, fields));
}

} // namespace

void write(spdlog::level::level_enum level, std::string_view message,
           std::initializer_list<field> fields)
{
    write_fields(level, message, fields);
}

void write(spdlog::level::level_enum level, std::string_view message,
           const std::vector<field>& fields)
{
    write_fields(level, message, fields);
}

} // namespace cellbox::gateway::log
