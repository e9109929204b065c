#include "cellbox/contract/system_error.hpp"

#include "json_fields.hpp"

#include <cstring>
#include <system_error>

namespace cellbox::contract
{

std::string system_error::message() const
{
    return call + ": " + std::strerror(number);
}

std::optional<system_error> system_error_of(const std::exception& e)
{
    const auto* failure = dynamic_cast<const std::system_error*>(&e);
    if (failure == nullptr || failure->code().value() <= 0 ||
        (failure->code().category() != std::generic_category() &&
         failure->code().category() != std::system_category()))
    {
        return std::nullopt;
    }
    // what() is "CALL: MESSAGE" (libstdc++ appends the code's message to the what_arg).
    std::string call = failure->what();
    const std::string suffix = ": " + failure->code().message();
    if (call.size() > suffix.size() &&
        call.compare(call.size() - suffix.size(), suffix.size(), suffix) == 0)
    {
        call.resize(call.size() - suffix.size());
    }
    return system_error{std::move(call), failure->code().value()};
}

nlohmann::json to_json(const system_error& error)
{
    return {{"call", error.call}, {"errno", error.number}};
}

decoded<system_error> system_error_from_json(const nlohmann::json& value)
{
    return detail::decode_object(
        value, "a system error",
        [&]
        {
            system_error error;
            error.call = detail::required_text(value, "call");
            // Linux errnos are small positive numbers (MAX_ERRNO is 4095).
            const auto number = detail::whole_number<unsigned>(value, "errno");
            if (!number || *number == 0 || *number > 4095)
            {
                throw std::invalid_argument("errno must be an error number from 1 to 4095");
            }
            error.number = static_cast<int>(*number);
            return error;
        });
}

namespace detail
{

std::optional<system_error> system_error_member(const json& object)
{
    const json* value = member(object, "system_error");
    if (value == nullptr)
    {
        return std::nullopt;
    }
    auto error = system_error_from_json(*value);
    if (!error)
    {
        throw std::invalid_argument("system_error: " + error.error());
    }
    return std::move(error).value();
}

void add_system_error(json& object, const std::optional<system_error>& error)
{
    if (error)
    {
        object["system_error"] = to_json(*error);
    }
}

} // namespace detail

} // namespace cellbox::contract
