#pragma once
// Reading the members of a JSON object that came from another process. Each reader checks the
// member's type (and range) before converting it and throws std::invalid_argument naming the
// member; decode() turns that into a decode_error. Internal to the contract library.
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/system_error.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cellbox::contract::detail
{

using json = nlohmann::json;

// `text` as a JSON object. Refused, with `what` ("a late-binding request") named in the
// message, when it nests deeper than max_json_depth (checked before parsing), is not JSON or
// is not an object.
json parse_object(std::string_view text, const std::string& what);

// Member `key` of `object`, or nullptr when it is missing or null (both mean "not given").
const json* member(const json& object, const char* key);

// A string member ("" when not given).
std::string text(const json& object, const char* key);
// A string member that must be given and not empty.
std::string required_text(const json& object, const char* key);
// A string member that is "" or an absolute path.
std::string absolute_path(const json& object, const char* key);
// A list of strings.
std::vector<std::string> texts(const json& object, const char* key);
std::optional<bool> flag(const json& object, const char* key);
// A number >= 0, finite.
std::optional<double> non_negative(const json& object, const char* key);
// A byte count, or a size such as "1G" (cellbox::parse_byte_size).
std::optional<std::uint64_t> byte_size(const json& object, const char* key);

// A whole number >= 0 that fits the unsigned T (2.0 counts: Python clients send floats).
// Converting a double outside T's range would be undefined behaviour, so it is checked first.
template <typename T> std::optional<T> whole_number_of(const json& value)
{
    static_assert(std::is_unsigned_v<T>);
    constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<T>::max());
    if (value.is_number_unsigned() && value.get<std::uint64_t>() <= max)
    {
        return static_cast<T>(value.get<std::uint64_t>());
    }
    if (value.is_number_integer() && !value.is_number_unsigned() &&
        value.get<std::int64_t>() >= 0 &&
        static_cast<std::uint64_t>(value.get<std::int64_t>()) <= max)
    {
        return static_cast<T>(value.get<std::int64_t>()); // built in memory rather than parsed
    }
    if (value.is_number_float())
    {
        const double d = value.get<double>();
        if (d >= 0 && d < std::ldexp(1.0, std::numeric_limits<T>::digits) && std::trunc(d) == d)
        {
            return static_cast<T>(d);
        }
    }
    return std::nullopt;
}

template <typename T> std::optional<T> whole_number(const json& object, const char* key)
{
    const json* value = member(object, key);
    if (value == nullptr)
    {
        return std::nullopt;
    }
    const auto number = whole_number_of<T>(*value);
    if (!number)
    {
        throw std::invalid_argument(std::string(key) + " must be a whole number >= 0 up to " +
                                    std::to_string(std::numeric_limits<T>::max()));
    }
    return number;
}

// Member "system_error" (system_error.hpp), and adding it when there is one.
std::optional<system_error> system_error_member(const json& object);
void add_system_error(json& object, const std::optional<system_error>& error);

// Runs `read` and returns its value, or the message of what it threw as the decode_error.
template <typename F> auto decode(F&& read) -> decoded<decltype(read())>
{
    try
    {
        return read();
    }
    catch (const std::exception& e)
    {
        return decode_error{e.what()};
    }
}

// `value`, refused unless it is an object (`what`, "a verdict", names it), read by `read`.
template <typename F>
auto decode_object(const json& value, const std::string& what, F&& read)
    -> decoded<decltype(read())>
{
    return decode(
        [&]
        {
            if (!value.is_object())
            {
                throw std::invalid_argument(what + " must be a JSON object");
            }
            return read();
        });
}

// `text` as one JSON object (parse_object), read by `from_json`.
template <typename T>
decoded<T> decode_text(std::string_view text, const std::string& what,
                       decoded<T> (*from_json)(const json&))
{
    return decode([&] { return from_json(parse_object(text, what)).value(); });
}

// `value` as text for the wire. Never throws: bytes that are not UTF-8 (in a path, in a
// message) are replaced.
std::string dump(const json& value);

} // namespace cellbox::contract::detail
