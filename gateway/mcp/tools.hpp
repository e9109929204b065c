#pragma once
// The MCP tools cellbox offers a model, as data: their names, descriptions and JSON schemas
// (tools/list), the checking of a call's arguments, and the shaping of what a tool did into a
// CallToolResult (text, PNG images, structuredContent). No I/O: api/mcp_tools runs them.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace cellbox::gateway::mcp
{

// A tool call whose arguments are wrong: per the specification a tool result with isError
// (the model can read it and retry), not a protocol error. The text names the argument.
class tool_argument_error : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

// tools/list's "tools".
nlohmann::json tool_list();
bool known_tool(const std::string& name);

struct execute_code_args
{
    std::string code;
    std::optional<double> timeout;
};
struct path_args
{
    std::string path; // as the model wrote it, relative to /work ("" : /work itself)
};
struct write_file_args
{
    std::string path;
    std::string content;
};

// Each throws tool_argument_error naming the argument; unknown arguments are refused too (a
// misspelt "timout" would otherwise be ignored silently).
execute_code_args parse_execute_code(const nlohmann::json& arguments);
path_args parse_path(const nlohmann::json& arguments, bool required);
write_file_args parse_write_file(const nlohmann::json& arguments);
void parse_no_arguments(const nlohmann::json& arguments);

// A path from a model: "/work/a.txt" and "a.txt" both mean /work/a.txt (the kernel's cwd is
// /work, so models write either). Anything else absolute is left as it is, for the contents
// path rules to refuse.
std::string work_relative(const std::string& path);

// The execute API's answer (executions/execution's result(true)) as a CallToolResult: the
// text of stdout, stderr, the result and the error with its traceback (ANSI colours removed);
// one image content per PNG figure; isError unless the status is "ok"; structuredContent the
// answer without its outputs (the images are already in the content).
nlohmann::json execute_code_result(const nlohmann::json& answer);

// A result holding only `text`.
nlohmann::json text_result(const std::string& text, bool is_error);

// Terminal colour codes out of a traceback: a model reads them as noise.
std::string strip_ansi(const std::string& text);

} // namespace cellbox::gateway::mcp
