#include "cellbox/kernel/request_validation.hpp"

namespace cellbox::kernel
{

std::optional<std::string> execute_request_problem(const nlohmann::json& content)
{
    if (!content.is_object())
    {
        return "execute_request content must be a JSON object";
    }
    const auto code = content.find("code");
    if (code == content.end() || !code->is_string())
    {
        return "execute_request content needs 'code' as a string";
    }
    for (const char* flag : {"silent", "store_history", "allow_stdin", "stop_on_error"})
    {
        const auto it = content.find(flag);
        if (it != content.end() && !it->is_boolean())
        {
            return std::string("execute_request field '") + flag + "' must be true or false";
        }
    }
    const auto expressions = content.find("user_expressions");
    if (expressions != content.end() && !expressions->is_object() && !expressions->is_null())
    {
        return "execute_request field 'user_expressions' must be an object";
    }
    return std::nullopt;
}

} // namespace cellbox::kernel
