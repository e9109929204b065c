#pragma once
// Reading the few header fields the gateway routes on, without trusting their types: a client
// or a sandboxed kernel may send any JSON, and nlohmann's value() throws on a type mismatch.
#include "protocol/kernel_message.hpp"

#include <cstddef>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// object[key] when `object` is an object and that member is a string, else "".
std::string string_field(const nlohmann::json& object, const char* key);

// The string members `keys` of the JSON object `text` ("" where one is absent or not a
// string; the last of duplicates wins, as when parsed), read with nlohmann's SAX parser
// without building the object: the gateway reads a field or two of every kernel message's
// header, and building each header was a dozen allocations. nullopt when `text` is not a
// JSON object, nests deeper than max_json_depth or holds a NUL byte (as parse_json_bounded).
std::optional<std::vector<std::string>> string_members(std::string_view text,
                                                       std::initializer_list<const char*> keys);

// `text` (a message part from a client or a kernel) as a JSON object; throws protocol_error
// naming `what` when it is not one or nests deeper than max_json_depth (checked before it is
// parsed: see bounded_json.hpp).
nlohmann::json parse_object_part(std::string_view text, const std::string& what);

// Throws protocol_error naming `what` when `text` nests deeper than max_json_depth; a check
// without parsing, for parts that are relayed as they came.
void check_json_depth(std::string_view text, const std::string& what);

// Bytes a message holds (its four dicts and its buffers): what the buffers count.
std::size_t message_bytes(const kernel_message& message);

// What the iopub filters and the fan-out need to know about a message, parsed once.
struct message_info
{
    std::string msg_type;
    std::string parent_msg_id;
    std::string parent_session;
    std::string execution_state; // status messages only
    bool has_parent = false;     // the parent header is a JSON object
};
message_info describe(const kernel_message& message);

// A message from a WebSocket client must carry four JSON objects and a header with string
// msg_id and msg_type; anything else is dropped before it reaches the kernel. Throws
// protocol_error saying what is wrong.
void check_client_message(const kernel_message& message);

} // namespace cellbox::gateway
