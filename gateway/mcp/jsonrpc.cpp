#include "mcp/jsonrpc.hpp"

#include "cellbox/bounded_json.hpp"

namespace cellbox::gateway::mcp
{
namespace
{

using json = nlohmann::json;

// JSON-RPC ids are strings or numbers; MCP narrows them to strings and integers (never null).
bool valid_id(const json& id)
{
    return (id.is_string() && id.get_ref<const std::string&>().size() <= max_string_id_bytes) ||
           id.is_number_integer() || id.is_number_unsigned();
}

std::optional<rpc_message> fail(rpc_failure& failure, int code, std::string message,
                                json id = nullptr)
{
    failure = {code, std::move(message), std::move(id)};
    return std::nullopt;
}

} // namespace

std::string text_member(const json& object, const char* key, const std::string& fallback)
{
    if (!object.is_object())
    {
        return fallback;
    }
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : fallback;
}

std::string clip(std::string_view value, std::size_t max)
{
    if (value.size() <= max)
    {
        return std::string(value);
    }
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(value[end]) & 0xC0) == 0x80)
    {
        --end; // back to the start of the sequence that would be cut
    }
    return std::string(value.substr(0, end));
}

std::optional<rpc_message> parse_message(std::string_view body, rpc_failure& failure)
{
    if (body.size() > max_message_bytes)
    {
        return fail(failure, invalid_request,
                    "message too large (" + std::to_string(body.size()) + " bytes, at most " +
                        std::to_string(max_message_bytes) + ")");
    }
    const json doc = parse_json_bounded(body);
    if (doc.is_discarded())
    {
        return fail(failure, parse_error,
                    "Parse error: the body is not JSON (or nests deeper than " +
                        std::to_string(max_json_depth) + " levels)");
    }
    if (doc.is_array())
    {
        return fail(failure, invalid_request,
                    "Invalid Request: JSON-RPC batches are not supported (MCP 2025-06-18 removed "
                    "them); send one message per request");
    }
    if (!doc.is_object())
    {
        return fail(failure, invalid_request, "Invalid Request: a message must be a JSON object");
    }
    json id = nullptr;
    const auto id_at = doc.find("id");
    const bool has_id = id_at != doc.end();
    if (has_id)
    {
        if (!valid_id(*id_at))
        {
            return fail(failure, invalid_request,
                        "Invalid Request: \"id\" must be a string (at most " +
                            std::to_string(max_string_id_bytes) + " bytes) or an integer");
        }
        id = *id_at;
    }
    const auto version = doc.find("jsonrpc");
    if (version == doc.end() || !version->is_string() || *version != "2.0")
    {
        return fail(failure, invalid_request, "Invalid Request: \"jsonrpc\" must be \"2.0\"", id);
    }
    rpc_message message;
    message.id = id;
    const auto method = doc.find("method");
    if (method == doc.end())
    {
        const bool answer = doc.contains("result") != doc.contains("error");
        if (!has_id || !answer)
        {
            return fail(failure, invalid_request,
                        "Invalid Request: \"method\" is missing (and it is not a response)", id);
        }
        message.type = rpc_message::kind::response;
        return message;
    }
    if (!method->is_string() || method->get_ref<const std::string&>().empty())
    {
        return fail(failure, invalid_request, "Invalid Request: \"method\" must be a string", id);
    }
    if (method->get_ref<const std::string&>().size() > max_method_bytes)
    {
        return fail(failure, invalid_request, "Invalid Request: \"method\" is too long", id);
    }
    message.method = method->get<std::string>();
    message.type = has_id ? rpc_message::kind::request : rpc_message::kind::notification;
    if (const auto params = doc.find("params"); params != doc.end())
    {
        // MCP's params are always by name.
        if (!params->is_object())
        {
            return fail(failure, invalid_params, "Invalid params: \"params\" must be an object",
                        id);
        }
        message.params = *params;
    }
    return message;
}

json result_message(const json& id, json result)
{
    return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json error_message(const json& id, int code, const std::string& message)
{
    return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

json notification_message(const std::string& method, json params)
{
    return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

} // namespace cellbox::gateway::mcp
