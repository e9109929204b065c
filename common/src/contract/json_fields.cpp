#include "json_fields.hpp"

#include "cellbox/bounded_json.hpp"
#include "cellbox/byte_size.hpp"

namespace cellbox::contract::detail
{

json parse_object(std::string_view text, const std::string& what)
{
    if (!json_depth_within(text))
    {
        throw std::invalid_argument(what + " may not nest JSON deeper than " +
                                    std::to_string(max_json_depth) + " levels");
    }
    json value = parse_json_bounded(text);
    if (value.is_discarded())
    {
        throw std::invalid_argument("cannot parse " + what +
                                    ": it is not JSON (a JSON object is expected)");
    }
    if (!value.is_object())
    {
        throw std::invalid_argument(what + " must be a JSON object");
    }
    return value;
}

const json* member(const json& object, const char* key)
{
    const auto it = object.find(key);
    return it == object.end() || it->is_null() ? nullptr : &*it;
}

std::string text(const json& object, const char* key)
{
    const json* value = member(object, key);
    if (value == nullptr)
    {
        return {};
    }
    if (!value->is_string())
    {
        throw std::invalid_argument(std::string(key) + " must be a string");
    }
    return value->get<std::string>();
}

std::string required_text(const json& object, const char* key)
{
    std::string value = text(object, key);
    if (value.empty())
    {
        throw std::invalid_argument(std::string(key) + " must be given, as a non-empty string");
    }
    return value;
}

std::string absolute_path(const json& object, const char* key)
{
    std::string path = text(object, key);
    if (!path.empty() && path.front() != '/')
    {
        throw std::invalid_argument("paths must be absolute: " + path);
    }
    return path;
}

std::vector<std::string> texts(const json& object, const char* key)
{
    std::vector<std::string> values;
    const json* list = member(object, key);
    if (list == nullptr)
    {
        return values;
    }
    if (!list->is_array())
    {
        throw std::invalid_argument(std::string(key) + " must be a list of strings");
    }
    for (const json& value : *list)
    {
        if (!value.is_string())
        {
            throw std::invalid_argument(std::string(key) + " must hold strings only");
        }
        values.push_back(value.get<std::string>());
    }
    return values;
}

std::optional<bool> flag(const json& object, const char* key)
{
    const json* value = member(object, key);
    if (value == nullptr)
    {
        return std::nullopt;
    }
    if (!value->is_boolean())
    {
        throw std::invalid_argument(std::string(key) + " must be true or false");
    }
    return value->get<bool>();
}

std::optional<double> non_negative(const json& object, const char* key)
{
    const json* value = member(object, key);
    if (value == nullptr)
    {
        return std::nullopt;
    }
    if (!value->is_number() || !(value->get<double>() >= 0) || !std::isfinite(value->get<double>()))
    {
        throw std::invalid_argument(std::string(key) + " must be a number >= 0");
    }
    return value->get<double>();
}

std::optional<std::uint64_t> byte_size(const json& object, const char* key)
{
    const json* value = member(object, key);
    if (value == nullptr)
    {
        return std::nullopt;
    }
    if (const auto bytes = whole_number_of<std::uint64_t>(*value))
    {
        return bytes;
    }
    if (value->is_string())
    {
        return cellbox::parse_byte_size(value->get<std::string>());
    }
    throw std::invalid_argument(std::string(key) +
                                " must be a byte count or a size such as \"1G\"");
}

std::string dump(const json& value)
{
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

} // namespace cellbox::contract::detail
