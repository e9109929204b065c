#include "runner/parameters.hpp"

#include "cellbox/bounded_json.hpp"
#include "cellbox/quoted_string.hpp"
#include "cellbox/utf8_decode.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <regex>

namespace cellbox::gateway::runner
{
namespace
{

using json = nlohmann::json;

constexpr std::array<std::string_view, 35> python_keywords = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield"};

// Whether `text` is well-formed UTF-8: the notebook is JSON, which cannot carry anything else.
bool valid_utf8(std::string_view text)
{
    for (std::size_t i = 0; i < text.size();)
    {
        if (static_cast<unsigned char>(text[i]) < 0x80)
        {
            ++i;
            continue;
        }
        const std::size_t length = decode_utf8(text, i).second;
        if (length == 0)
        {
            return false;
        }
        i += length;
    }
    return true;
}

void check_name(std::string_view name)
{
    if (!python_identifier(name))
    {
        throw parameter_error("parameter name \"" + python_string(name).substr(1) +
                              " is not a Python identifier (letters, digits and _, not a "
                              "keyword, not starting with a digit)");
    }
}

void check_value(std::string_view name, std::string_view value)
{
    if (!valid_utf8(value))
    {
        throw parameter_error("parameter " + std::string(name) + ": the value is not valid UTF-8");
    }
}

parameter string_parameter(std::string_view name, std::string_view value)
{
    return {std::string(name), json(std::string(value)), python_string(value)};
}

} // namespace

bool python_identifier(std::string_view name)
{
    static const std::regex identifier("[A-Za-z_][A-Za-z0-9_]*");
    if (name.empty() || name.size() > 256 ||
        !std::regex_match(name.begin(), name.end(), identifier))
    {
        return false;
    }
    return std::find(python_keywords.begin(), python_keywords.end(), name) == python_keywords.end();
}

std::string python_string(std::string_view text)
{
    // UTF-8 is valid in Python 3 source; control characters are escaped, so the literal
    // stays on its line.
    return quoted_string(text);
}

parameter raw_parameter(std::string_view name, std::string_view value)
{
    check_name(name);
    check_value(name, value);
    return string_parameter(name, value);
}

parameter parse_parameter(std::string_view name, std::string_view value)
{
    check_name(name);
    check_value(name, value);
    if (value == "True" || value == "False")
    {
        return {std::string(name), json(value == "True"), std::string(value)};
    }
    if (value == "None")
    {
        return {std::string(name), json(nullptr), "None"};
    }
    // Only forms that are Python literals as written (after a sign): "007" is an int for
    // papermill but a syntax error in Python, so digits lose their leading zeros.
    static const std::regex integer("([+-]?)0*([0-9]+)");
    static const std::regex decimal(R"([+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)");
    static const std::regex special(R"(([+-]?)(nan|inf|infinity))", std::regex::icase);
    std::match_results<std::string_view::const_iterator> match;
    if (std::regex_match(value.begin(), value.end(), match, integer))
    {
        const std::string literal = (match[1] == "-" ? "-" : "") + match[2].str();
        char* end = nullptr;
        errno = 0;
        const long long number = std::strtoll(literal.c_str(), &end, 10);
        // Beyond 64 bits Python still has the exact integer; the metadata an approximation.
        const json stored =
            errno == ERANGE ? json(std::strtod(literal.c_str(), nullptr)) : json(number);
        return {std::string(name), stored, literal};
    }
    if (std::regex_match(value.begin(), value.end(), match, decimal))
    {
        const std::string text(value);
        return {std::string(name), json(std::strtod(text.c_str(), nullptr)),
                text.front() == '+' ? text.substr(1) : text};
    }
    if (std::regex_match(value.begin(), value.end(), match, special))
    {
        std::string word = match[2].str();
        std::transform(word.begin(), word.end(), word.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        const std::string sign = match[1] == "-" ? "-" : "";
        const std::string canonical = sign + (word == "nan" ? "nan" : "inf");
        // JSON has no NaN or infinity: the metadata keeps the word.
        return {std::string(name), json(canonical), "float(\"" + canonical + "\")"};
    }
    return string_parameter(name, value);
}

std::string python_literal(const json& value)
{
    switch (value.type())
    {
    case json::value_t::null:
        return "None";
    case json::value_t::boolean:
        return value.get<bool>() ? "True" : "False";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
        return value.dump();
    case json::value_t::number_float:
        return value.dump(); // JSON numbers are finite: "0.5", "1e+100" are Python floats
    case json::value_t::string:
        return python_string(value.get_ref<const std::string&>());
    case json::value_t::array:
    {
        std::string out = "[";
        for (const auto& item : value)
        {
            out += (out.size() > 1 ? ", " : "") + python_literal(item);
        }
        return out + "]";
    }
    case json::value_t::object:
    {
        std::string out = "{";
        for (const auto& [key, item] : value.items())
        {
            out += (out.size() > 1 ? ", " : "") + python_string(key) + ": " + python_literal(item);
        }
        return out + "}";
    }
    default:
        throw parameter_error("a parameter value is not JSON data");
    }
}

std::vector<parameter> parse_parameters_json(std::string_view text)
{
    const json parsed = parse_json_bounded(text, max_parameter_depth);
    if (parsed.is_discarded() || !parsed.is_object())
    {
        throw parameter_error("-y: not a JSON object of parameters (or nested deeper than " +
                              std::to_string(max_parameter_depth) + " levels)");
    }
    std::vector<parameter> out;
    for (const auto& [name, value] : parsed.items())
    {
        check_name(name);
        out.push_back({name, value, python_literal(value)});
    }
    return out;
}

std::string parameters_source(const std::vector<parameter>& parameters)
{
    std::map<std::string, std::size_t> last;
    for (std::size_t i = 0; i < parameters.size(); ++i)
    {
        last[parameters[i].name] = i;
    }
    std::string source = "# Parameters\n";
    for (std::size_t i = 0; i < parameters.size(); ++i)
    {
        if (last[parameters[i].name] == i)
        {
            source += parameters[i].name + " = " + parameters[i].literal + "\n";
        }
    }
    return source;
}

json parameters_json(const std::vector<parameter>& parameters)
{
    json out = json::object();
    for (const auto& p : parameters)
    {
        out[p.name] = p.value;
    }
    return out;
}

} // namespace cellbox::gateway::runner
