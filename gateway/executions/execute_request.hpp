#pragma once
// The body of POST /api/kernels/{id}/execute and POST /api/execute, checked field by field: an
// agent that misspells a field or sends the wrong type learns which one, instead of running a
// cell with settings it did not ask for.
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// What is wrong with a body; the text names the field and is meant for the client.
class execute_request_error : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

struct execute_params
{
    std::string code;
    std::optional<double> timeout; // seconds, the soft per-cell limit (under the server's cap)
    std::optional<std::vector<std::string>> stdin_lines; // answers to input(), in order
    bool store_history = true;
    bool interrupt_on_disconnect = false;
    std::optional<std::size_t> max_output_bytes; // text budget
    std::optional<std::size_t> max_image_bytes;  // image budget
    // POST /api/execute only.
    std::string kernel;                       // kernelspec name ("" : the default)
    std::map<std::string, std::string> files; // relative path under /work -> text
};

// Limits of a body, beyond the server's request size limit.
inline constexpr std::size_t max_stdin_lines = 10000;
inline constexpr std::size_t max_files = 1000;
inline constexpr std::size_t max_file_path_bytes = 1024;

// Parses and checks `body` (JSON text). `one_shot`: POST /api/execute, which also takes
// kernel and files, and not interrupt_on_disconnect (its kernel always goes with its client).
// Throws execute_request_error.
execute_params parse_execute_request(std::string_view body, bool one_shot);

// Whether `path` is a plain relative path that stays under the directory it is joined to:
// no leading '/', no "." or ".." segment, no empty segment, no NUL or control character.
bool safe_relative_path(std::string_view path);

} // namespace cellbox::gateway
