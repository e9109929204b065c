#pragma once
// JSON-RPC 2.0 as the Model Context Protocol uses it over Streamable HTTP: one message per
// POST body (the revisions the official SDK 1.x speaks by default, 2025-06-18 and later, have
// no batches; a batch is refused as an invalid request rather than half served). Pure parsing
// and shaping, no I/O: the HTTP side (api/mcp_api) and the fuzz target share it.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace cellbox::gateway::mcp
{

// The error codes of JSON-RPC 2.0.
enum error_code : int
{
    parse_error = -32700,
    invalid_request = -32600,
    method_not_found = -32601,
    invalid_params = -32602,
    internal_error = -32603,
};

struct rpc_message
{
    enum class kind
    {
        request,      // method and id: answered
        notification, // method, no id: 202, no answer
        response,     // result or error with an id: an answer to a request of ours (none sent)
    };
    kind type = kind::request;
    nlohmann::json id; // a string or an integer, echoed with its type; null for a notification
    std::string method;
    nlohmann::json params = nlohmann::json::object(); // an object (absent: empty)
};

// Why a body is not a message we can serve: the JSON-RPC error to answer with (its id is the
// request's when it could be read, else null).
struct rpc_failure
{
    int code;
    std::string message;
    nlohmann::json id;
};

// Largest body parsed (the HTTP layer's limit applies first; this one bounds what the fuzz
// target and the bridge hand over).
inline constexpr std::size_t max_message_bytes = 16 * 1024 * 1024;
inline constexpr std::size_t max_method_bytes = 256;
inline constexpr std::size_t max_string_id_bytes = 256;

// Parses one message. On failure, returns nothing and fills `failure`.
std::optional<rpc_message> parse_message(std::string_view body, rpc_failure& failure);

nlohmann::json result_message(const nlohmann::json& id, nlohmann::json result);
nlohmann::json error_message(const nlohmann::json& id, int code, const std::string& message);
nlohmann::json notification_message(const std::string& method, nlohmann::json params);

// `object[key]` when it is a string, else `fallback`: for fields of JSON from outside, where
// nlohmann's value() throws on a wrong type.
std::string text_member(const nlohmann::json& object, const char* key,
                        const std::string& fallback = "");

// The text of `value` for a log line or a reply: cut at `max` bytes, never mid UTF-8 sequence.
std::string clip(std::string_view value, std::size_t max);

} // namespace cellbox::gateway::mcp
