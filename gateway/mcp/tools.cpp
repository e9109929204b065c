#include "mcp/tools.hpp"

#include "mcp/jsonrpc.hpp"

#include <cmath>
#include <set>

namespace cellbox::gateway::mcp
{
namespace
{

using json = nlohmann::json;

// The most a path argument may hold (PATH_MAX); the contents rules check each name further.
constexpr std::size_t max_path_bytes = 4096;

json execute_code_schema()
{
    return {{"type", "object"},
            {"properties",
             {{"code",
               {{"type", "string"},
                {"description", "Python source to run as one notebook cell. The last expression's "
                                "value is returned as the result, as in Jupyter."}}},
              {"timeout",
               {{"type", "number"},
                {"exclusiveMinimum", 0},
                {"description", "Seconds the cell may run before it is interrupted (status "
                                "\"timeout\"; variables are kept). The server caps it."}}}}},
            {"required", {"code"}},
            {"additionalProperties", false}};
}

// What structuredContent of execute_code holds: the execute API's answer without outputs.
json execute_code_output_schema()
{
    const json text = {{"type", "string"}};
    return {
        {"type", "object"},
        {"properties",
         {{"execution_id", text},
          {"status", {{"type", "string"}, {"enum", {"ok", "error", "timeout", "aborted", "died"}}}},
          {"execution_count", {{"type", {"integer", "null"}}}},
          {"result", {{"type", {"object", "null"}}}},
          {"stdout", text},
          {"stderr", text},
          {"error", {{"type", {"object", "null"}}}},
          {"usage", {{"type", "object"}}},
          {"truncated", {{"type", "boolean"}}}}},
        {"required", {"execution_id", "status", "stdout", "stderr"}}};
}

json path_schema(const char* description, bool required)
{
    json schema = {{"type", "object"},
                   {"properties", {{"path", {{"type", "string"}, {"description", description}}}}},
                   {"additionalProperties", false}};
    if (required)
    {
        schema["required"] = {"path"};
    }
    return schema;
}

json tool(const char* name, const char* title, const char* description, json input, bool read_only)
{
    return {{"name", name},
            {"title", title},
            {"description", description},
            {"inputSchema", std::move(input)},
            {"annotations", {{"readOnlyHint", read_only}, {"openWorldHint", false}}}};
}

void only_fields(const json& arguments, const std::set<std::string>& allowed)
{
    if (!arguments.is_object())
    {
        throw tool_argument_error("arguments must be an object");
    }
    for (const auto& [key, value] : arguments.items())
    {
        if (allowed.count(key) == 0)
        {
            throw tool_argument_error("unknown argument \"" + clip(key, 64) + "\"");
        }
    }
}

std::string string_argument(const json& arguments, const char* name, bool required, std::size_t max)
{
    const auto found = arguments.find(name);
    if (found == arguments.end())
    {
        if (required)
        {
            throw tool_argument_error(std::string("missing argument \"") + name + "\"");
        }
        return {};
    }
    if (!found->is_string())
    {
        throw tool_argument_error(std::string("argument \"") + name + "\" must be a string");
    }
    const auto& text = found->get_ref<const std::string&>();
    if (max > 0 && text.size() > max)
    {
        throw tool_argument_error(std::string("argument \"") + name + "\" is too long (" +
                                  std::to_string(text.size()) + " bytes, at most " +
                                  std::to_string(max) + ")");
    }
    return text;
}

void append_section(std::string& out, const std::string& title, const std::string& text)
{
    if (text.empty())
    {
        return;
    }
    if (!out.empty())
    {
        out += "\n";
    }
    out += title + "\n" + text;
    if (text.back() != '\n')
    {
        out += "\n";
    }
}

} // namespace

json tool_list()
{
    json execute = tool(
        "execute_code", "Run Python code",
        "Run Python code in a persistent Jupyter kernel (IPython). Variables, imports and "
        "definitions stay between calls, as in a notebook. Returns stdout, stderr, the value of "
        "the last expression and, on failure, the exception with its traceback. Matplotlib "
        "figures (plt.show() or a figure as the last expression) come back as PNG images. The "
        "working directory is /work, the files the other tools see. Long outputs are cut in "
        "the middle with a marker.",
        execute_code_schema(), false);
    execute["outputSchema"] = execute_code_output_schema();
    return json::array(
        {execute,
         tool("list_files", "List files",
              "List a directory under /work: its files and subdirectories with their type, size "
              "and last modification. Hidden files (starting with a dot) are not listed.",
              path_schema("Directory relative to /work (\"\" or omitted: /work itself).", false),
              true),
         tool("read_file", "Read a file",
              "Read a file under /work. Text comes back as text; a PNG image as an image; other "
              "binary files are described but not returned.",
              path_schema("File path relative to /work, e.g. \"data/results.csv\".", true), true),
         tool("write_file", "Write a text file",
              "Create or replace a text file under /work with the given content (UTF-8). Parent "
              "directories must exist (create them with execute_code and os.makedirs).",
              {{"type", "object"},
               {"properties",
                {{"path",
                  {{"type", "string"},
                   {"description", "File path relative to /work, e.g. \"script.py\"."}}},
                 {"content", {{"type", "string"}, {"description", "The whole new content."}}}}},
               {"required", {"path", "content"}},
               {"additionalProperties", false}},
              false),
         tool("restart_kernel", "Restart the kernel",
              "Restart the Python kernel: every variable, import and definition is lost; files "
              "under /work stay. Use it when the kernel is stuck or its state is broken.",
              {{"type", "object"}, {"properties", json::object()}, {"additionalProperties", false}},
              false)});
}

bool known_tool(const std::string& name)
{
    return name == "execute_code" || name == "list_files" || name == "read_file" ||
           name == "write_file" || name == "restart_kernel";
}

execute_code_args parse_execute_code(const json& arguments)
{
    only_fields(arguments, {"code", "timeout"});
    execute_code_args args;
    args.code = string_argument(arguments, "code", true, 0);
    if (const auto timeout = arguments.find("timeout"); timeout != arguments.end())
    {
        if (!timeout->is_number() || !std::isfinite(timeout->get<double>()) ||
            timeout->get<double>() <= 0)
        {
            throw tool_argument_error("argument \"timeout\" must be a positive number of seconds");
        }
        args.timeout = timeout->get<double>();
    }
    return args;
}

path_args parse_path(const json& arguments, bool required)
{
    only_fields(arguments, {"path"});
    return {string_argument(arguments, "path", required, max_path_bytes)};
}

write_file_args parse_write_file(const json& arguments)
{
    only_fields(arguments, {"path", "content"});
    write_file_args args;
    args.path = string_argument(arguments, "path", true, max_path_bytes);
    args.content = string_argument(arguments, "content", true, 0);
    return args;
}

void parse_no_arguments(const json& arguments)
{
    only_fields(arguments, {});
}

std::string work_relative(const std::string& path)
{
    if (path == "/work")
    {
        return "";
    }
    if (path.rfind("/work/", 0) == 0)
    {
        return path.substr(6);
    }
    return path;
}

std::string strip_ansi(const std::string& text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
    {
        if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[')
        {
            i += 2;
            while (i < text.size() && !(text[i] >= '@' && text[i] <= '~'))
            {
                ++i; // parameters up to the final byte
            }
            continue;
        }
        out += text[i];
    }
    return out;
}

json text_result(const std::string& text, bool is_error)
{
    return {{"content", json::array({{{"type", "text"}, {"text", text}}})}, {"isError", is_error}};
}

json execute_code_result(const json& answer)
{
    const std::string status = text_member(answer, "status", "died");
    std::string text;
    append_section(text, "[stdout]", text_member(answer, "stdout"));
    append_section(text, "[stderr]", text_member(answer, "stderr"));
    const json& result = answer.contains("result") ? answer["result"] : json(nullptr);
    if (result.is_object() && result.contains("text/plain") && result["text/plain"].is_string())
    {
        append_section(text, "[result]", result["text/plain"].get<std::string>());
    }
    const json& error = answer.contains("error") ? answer["error"] : json(nullptr);
    if (error.is_object())
    {
        std::string described = text_member(error, "ename") + ": " + text_member(error, "evalue");
        if (error.contains("traceback") && error["traceback"].is_array())
        {
            described += "\n";
            for (const auto& line : error["traceback"])
            {
                if (line.is_string())
                {
                    described += strip_ansi(line.get<std::string>()) + "\n";
                }
            }
        }
        append_section(text, "[error]", described);
    }
    if (status != "ok" || text.empty())
    {
        std::string why;
        if (status == "timeout")
        {
            why = " (the cell was interrupted; variables are kept)";
        }
        else if (status == "aborted")
        {
            why = " (interrupted, or not run because the cell before it failed)";
        }
        append_section(text, "[status]", status + why);
    }
    if (answer.contains("truncated") && answer["truncated"] == true)
    {
        append_section(text, "[note]", "outputs were cut to fit the output budget");
    }
    json content = json::array({{{"type", "text"}, {"text", text}}});
    if (answer.contains("outputs") && answer["outputs"].is_array())
    {
        for (const auto& output : answer["outputs"])
        {
            const auto data = output.find("data");
            if (data == output.end() || !data->is_object())
            {
                continue;
            }
            const auto png = data->find("image/png");
            if (png != data->end() && png->is_string())
            {
                // nbformat lets base64 wrap over lines; MCP clients decode it strictly.
                std::string encoded;
                for (char c : png->get_ref<const std::string&>())
                {
                    if (c != '\n' && c != '\r')
                    {
                        encoded += c;
                    }
                }
                content.push_back(
                    {{"type", "image"}, {"data", encoded}, {"mimeType", "image/png"}});
            }
        }
    }
    json structured = answer;
    structured.erase("outputs");
    return {{"content", std::move(content)},
            {"structuredContent", std::move(structured)},
            {"isError", status != "ok"}};
}

} // namespace cellbox::gateway::mcp
