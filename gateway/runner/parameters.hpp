#pragma once
// Notebook parameters as papermill takes them: `-p NAME VALUE` typed like papermill's CLI
// (True/False/None, int, float, else str) and written as the Python assignments of the
// injected cell. Names must be Python identifiers and values become Python literals, so a
// parameter can never inject code into the notebook it fills.
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cellbox::gateway::runner
{

// A parameter that cannot be used; the text names it and says why.
class parameter_error : public std::invalid_argument
{
public:
    using std::invalid_argument::invalid_argument;
};

struct parameter
{
    std::string name;
    // null, boolean, integer, float or string; a float keeps its text in `literal`.
    nlohmann::json value;
    std::string literal; // the Python literal written into the injected cell
};

// Whether `name` is an ASCII Python identifier that is not a keyword.
bool python_identifier(std::string_view name);

// `-p NAME VALUE`: the value typed as papermill's `_resolve_type` does. Throws
// parameter_error for a bad name or a value that is not valid UTF-8.
parameter parse_parameter(std::string_view name, std::string_view value);

// `-r NAME VALUE`: the value kept as a string whatever it looks like.
parameter raw_parameter(std::string_view name, std::string_view value);

// `-y JSON`: an object of parameters in JSON (YAML's flow style; papermill's -y takes YAML).
// Values may be lists and objects, nested at most `max_parameter_depth` deep (Python's parser
// refuses deeper literals). Throws parameter_error naming the problem.
inline constexpr int max_parameter_depth = 64;
std::vector<parameter> parse_parameters_json(std::string_view text);

// The Python literal of a JSON value: None, True/False, numbers, strings, lists and dicts.
std::string python_literal(const nlohmann::json& value);

// A Python string literal (double-quoted, escaped) of UTF-8 `text`.
std::string python_string(std::string_view text);

// The source of the injected cell: a "# Parameters" comment and one assignment per
// parameter, later ones winning as papermill's dict would.
std::string parameters_source(const std::vector<parameter>& parameters);

// The parameters as a JSON object (for metadata.papermill.parameters); later ones win.
nlohmann::json parameters_json(const std::vector<parameter>& parameters);

} // namespace cellbox::gateway::runner
