// The MCP endpoint's parsers of untrusted bytes: a JSON-RPC message as a client posts it
// (mcp::parse_message), the arguments of each tool (mcp::parse_*), and the shaping of an
// execute answer into a tool result (what a kernel's outputs become). Input: the message; the
// parsed params' "arguments" are also fed to every tool's parser, and a body that is a JSON
// object to execute_code_result.
#include "cellbox/bounded_json.hpp"
#include "fuzz_support.hpp"
#include "mcp/jsonrpc.hpp"
#include "mcp/session_table.hpp"
#include "mcp/tools.hpp"

#include <cmath>

using namespace cellbox::gateway;
using cellbox::fuzz::require;
using json = nlohmann::json;

namespace
{

template <class Parse> void try_tool(Parse parse)
{
    try
    {
        parse();
    }
    catch (const mcp::tool_argument_error&)
    {
        // The isError result the tool answers with.
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(cellbox::fuzz::text_of(data, size));
    mcp::rpc_failure failure{};
    const auto message = mcp::parse_message(text, failure);
    if (!message)
    {
        require(failure.code == mcp::parse_error || failure.code == mcp::invalid_request ||
                    failure.code == mcp::invalid_params,
                "a refusal is one of JSON-RPC's errors");
        require(failure.id.is_null() || failure.id.is_string() || failure.id.is_number_integer(),
                "an echoed id is a string or an integer");
        mcp::error_message(failure.id, failure.code, failure.message).dump();
        return 0;
    }
    require(message->params.is_object(), "params are an object");
    require(message->id.is_null() == (message->type == mcp::rpc_message::kind::notification),
            "only notifications have no id");
    if (message->type != mcp::rpc_message::kind::response)
    {
        require(!message->method.empty() && message->method.size() <= mcp::max_method_bytes,
                "methods are bounded");
    }
    const json arguments =
        message->params.contains("arguments") ? message->params["arguments"] : json::object();
    try_tool(
        [&]
        {
            const auto args = mcp::parse_execute_code(arguments);
            require(!args.timeout || (std::isfinite(*args.timeout) && *args.timeout > 0),
                    "an accepted timeout is a positive number");
        });
    try_tool([&] { mcp::parse_path(arguments, false); });
    try_tool([&] { mcp::parse_path(arguments, true); });
    try_tool([&] { mcp::parse_write_file(arguments); });
    try_tool([&] { mcp::parse_no_arguments(arguments); });
    mcp::negotiate_version(mcp::text_member(message->params, "protocolVersion"));
    const json answer = cellbox::parse_json_bounded(text);
    if (answer.is_object())
    {
        const json result = mcp::execute_code_result(answer);
        require(result["content"].is_array() && !result["content"].empty() &&
                    result["content"][0]["type"] == "text",
                "a result starts with its text");
        require(!result["structuredContent"].contains("outputs"), "outputs are not repeated");
        result.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    return 0;
}
