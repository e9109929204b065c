#include "executions/execute_request.hpp"

#include "cellbox/bounded_json.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

namespace cellbox::gateway
{
namespace
{

using json = nlohmann::json;

[[noreturn]] void refuse(const std::string& text)
{
    throw execute_request_error(text);
}

std::size_t byte_count(const json& value, const char* field)
{
    // Integers only: 1.5 bytes is a client's mistake worth naming.
    if (value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0))
    {
        return value.get<std::size_t>();
    }
    refuse(std::string(field) + " must be a non-negative integer (bytes)");
}

} // namespace

bool safe_relative_path(std::string_view path)
{
    if (path.empty() || path.size() > max_file_path_bytes || path.front() == '/')
    {
        return false;
    }
    std::size_t start = 0;
    while (start <= path.size())
    {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view segment = path.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..")
        {
            return false;
        }
        for (const char c : segment)
        {
            if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\')
            {
                return false;
            }
        }
        start = end + 1;
    }
    return true;
}

execute_params parse_execute_request(std::string_view body, bool one_shot)
{
    const json doc = parse_json_bounded(body);
    if (doc.is_discarded())
    {
        refuse("the body is not JSON (or nests deeper than " + std::to_string(max_json_depth) +
               " levels)");
    }
    if (!doc.is_object())
    {
        refuse("the body must be a JSON object");
    }
    execute_params params;
    bool has_code = false;
    for (const auto& [key, value] : doc.items())
    {
        if (key == "code")
        {
            if (!value.is_string())
            {
                refuse("code must be a string");
            }
            params.code = value.get<std::string>();
            has_code = true;
        }
        else if (key == "timeout")
        {
            if (value.is_null())
            {
                continue;
            }
            if (!value.is_number() || !std::isfinite(value.get<double>()) ||
                value.get<double>() <= 0)
            {
                refuse("timeout must be a positive number of seconds");
            }
            params.timeout = value.get<double>();
        }
        else if (key == "stdin")
        {
            if (!value.is_array())
            {
                refuse("stdin must be an array of strings");
            }
            if (value.size() > max_stdin_lines)
            {
                refuse("stdin has more than " + std::to_string(max_stdin_lines) + " lines");
            }
            std::vector<std::string> lines;
            for (const auto& line : value)
            {
                if (!line.is_string())
                {
                    refuse("stdin must be an array of strings");
                }
                lines.push_back(line.get<std::string>());
            }
            params.stdin_lines = std::move(lines);
        }
        else if (key == "store_history" || (key == "interrupt_on_disconnect" && !one_shot))
        {
            if (!value.is_boolean())
            {
                refuse(key + " must be true or false");
            }
            (key == "store_history" ? params.store_history : params.interrupt_on_disconnect) =
                value.get<bool>();
        }
        else if (key == "max_output_bytes")
        {
            params.max_output_bytes = byte_count(value, "max_output_bytes");
        }
        else if (key == "max_image_bytes")
        {
            params.max_image_bytes = byte_count(value, "max_image_bytes");
        }
        else if (key == "kernel" && one_shot)
        {
            if (!value.is_string() || value.get<std::string>().empty())
            {
                refuse("kernel must be a kernelspec name");
            }
            params.kernel = value.get<std::string>();
        }
        else if (key == "files" && one_shot)
        {
            if (!value.is_object())
            {
                refuse("files must be an object of path: text");
            }
            if (value.size() > max_files)
            {
                refuse("files has more than " + std::to_string(max_files) + " entries");
            }
            for (const auto& [path, text] : value.items())
            {
                if (!safe_relative_path(path))
                {
                    refuse("files: \"" + path.substr(0, 200) +
                           "\" is not a relative path under /work");
                }
                if (!text.is_string())
                {
                    refuse("files: the content of \"" + path + "\" must be a string");
                }
                params.files[path] = text.get<std::string>();
            }
        }
        else
        {
            // Cut: the name is echoed back and logged.
            refuse("unknown field \"" + key.substr(0, 100) + "\"");
        }
    }
    if (!has_code)
    {
        refuse("code is required");
    }
    return params;
}

} // namespace cellbox::gateway
