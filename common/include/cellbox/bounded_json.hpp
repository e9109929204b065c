#pragma once
// Parsing JSON that comes from outside (clients, tokens, kernels, the zygote's and the
// launcher's peers) without letting its nesting reach a recursive walk. nlohmann's parser and
// destructor are iterative, but dump(), copies and comparisons recurse once per level: a
// 200 kB document of 100 000 nested arrays overflows the stack of whatever touches it next.
// The depth is checked first, in one pass over the bytes, and such documents never become a
// value.
#include <istream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace cellbox
{

// How deep arrays and objects may nest in a JSON document from outside. Real Jupyter messages
// nest a few levels (widget state, Vega and Plotly specs stay under a few dozen); Python's json
// module, which writes what kernels and clients send, stops at its recursion limit (1000). 256
// leaves room for any honest document while keeping every recursive walk of one (nlohmann's
// dump and copies here, pybind11_json and json in the kernel) to tens of KiB of stack, even in
// a sanitizer build.
inline constexpr int max_json_depth = 256;

// Whether no array or object in `text` opens more than `max_depth` levels deep. One pass, no
// allocation; brackets inside strings do not count. It does not validate anything else (the
// parser that follows does), so it agrees with the parser on every valid document.
inline bool json_depth_within(std::string_view text, int max_depth = max_json_depth) noexcept
{
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i)
    {
        const char c = text[i];
        if (in_string)
        {
            if (c == '\\')
            {
                ++i; // the escaped character, a quote included, is part of the string
            }
            else if (c == '"')
            {
                in_string = false;
            }
        }
        else if (c == '"')
        {
            in_string = true;
        }
        else if (c == '[' || c == '{')
        {
            if (++depth > max_depth)
            {
                return false;
            }
        }
        else if ((c == ']' || c == '}') && depth > 0)
        {
            --depth;
        }
    }
    return true;
}

// `text` as a JSON value, or a discarded value (is_discarded()) when it is not JSON or nests
// deeper than `max_depth`. Never throws a parse error.
inline nlohmann::json parse_json_bounded(std::string_view text, int max_depth = max_json_depth)
{
    if (!json_depth_within(text, max_depth))
    {
        return nlohmann::json(nlohmann::json::value_t::discarded);
    }
    return nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// The whole of `in` (a file) as a JSON value, as parse_json_bounded(text).
inline nlohmann::json parse_json_bounded(std::istream& in, int max_depth = max_json_depth)
{
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    return parse_json_bounded(std::string_view(text), max_depth);
}

} // namespace cellbox
