// The MCP model (gateway/mcp): JSON-RPC messages as the endpoint parses them, tool arguments,
// the shaping of an execute answer into a tool result, and the session table's ownership,
// bounds and idleness.
#include "mcp/jsonrpc.hpp"
#include "mcp/session_table.hpp"
#include "mcp/tools.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::gateway;
using json = nlohmann::json;

namespace
{

mcp::rpc_failure refusal(const std::string& body)
{
    mcp::rpc_failure failure{};
    CHECK_FALSE(mcp::parse_message(body, failure).has_value());
    return failure;
}

} // namespace

TEST_CASE("JSON-RPC requests, notifications and responses are told apart, ids keep their type")
{
    mcp::rpc_failure failure{};
    auto request =
        mcp::parse_message(R"({"jsonrpc":"2.0","id":"a","method":"tools/list"})", failure);
    REQUIRE(request);
    CHECK(request->type == mcp::rpc_message::kind::request);
    CHECK(request->id == "a");
    CHECK(request->params == json::object());
    auto numbered = mcp::parse_message(R"({"jsonrpc":"2.0","id":7,"method":"ping"})", failure);
    REQUIRE(numbered);
    CHECK(mcp::result_message(numbered->id, json::object()).dump() ==
          R"({"id":7,"jsonrpc":"2.0","result":{}})");
    auto note =
        mcp::parse_message(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", failure);
    REQUIRE(note);
    CHECK(note->type == mcp::rpc_message::kind::notification);
    auto answer = mcp::parse_message(R"({"jsonrpc":"2.0","id":3,"result":{}})", failure);
    REQUIRE(answer);
    CHECK(answer->type == mcp::rpc_message::kind::response);
}

TEST_CASE("malformed JSON-RPC gets the error code the specification names")
{
    CHECK(refusal("{").code == mcp::parse_error);
    CHECK(refusal(std::string(300, '[') + std::string(300, ']')).code == mcp::parse_error);
    CHECK(refusal(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])").code == mcp::invalid_request);
    CHECK(refusal("42").code == mcp::invalid_request);
    CHECK(refusal(R"({"id":1,"method":"ping"})").code == mcp::invalid_request);
    CHECK(refusal(R"({"jsonrpc":"2.0","id":null,"method":"ping"})").code == mcp::invalid_request);
    CHECK(refusal(R"({"jsonrpc":"2.0","id":true,"method":"ping"})").code == mcp::invalid_request);
    CHECK(refusal(R"({"jsonrpc":"2.0","id":1})").code == mcp::invalid_request);
    const auto params = refusal(R"({"jsonrpc":"2.0","id":"x","method":"ping","params":3})");
    CHECK(params.code == mcp::invalid_params);
    CHECK(params.id == "x"); // echoed when it could be read
}

TEST_CASE("tool arguments are checked by name and type")
{
    CHECK(mcp::parse_execute_code({{"code", "1"}, {"timeout", 2}}).timeout == 2.0);
    CHECK_THROWS_WITH(mcp::parse_execute_code({{"code", 1}}), Catch::Contains("\"code\""));
    CHECK_THROWS_WITH(mcp::parse_execute_code({{"code", "1"}, {"timeout", 0}}),
                      Catch::Contains("timeout"));
    CHECK_THROWS_WITH(mcp::parse_execute_code({{"code", "1"}, {"timout", 1}}),
                      Catch::Contains("timout"));
    CHECK_THROWS_AS(mcp::parse_path(json::array(), false), mcp::tool_argument_error);
    CHECK(mcp::parse_path(json::object(), false).path.empty());
    CHECK_THROWS_AS(mcp::parse_path(json::object(), true), mcp::tool_argument_error);
    CHECK_THROWS_AS(mcp::parse_write_file({{"path", "a"}}), mcp::tool_argument_error);
    CHECK_THROWS_AS(mcp::parse_no_arguments({{"x", 1}}), mcp::tool_argument_error);
    CHECK(mcp::work_relative("/work/a/b") == "a/b");
    CHECK(mcp::work_relative("/work") == "");
    CHECK(mcp::work_relative("/etc/passwd") == "/etc/passwd"); // for the path rules to refuse
}

TEST_CASE("an execute answer becomes text, images and structuredContent")
{
    const json answer = {
        {"execution_id", "e"},
        {"status", "error"},
        {"stdout", "out\n"},
        {"stderr", ""},
        {"result", nullptr},
        {"error",
         {{"ename", "ValueError"},
          {"evalue", "bad"},
          {"traceback", {"\x1b[31mValueError\x1b[0m"}}}},
        {"outputs",
         {{{"output_type", "display_data"}, {"data", {{"image/png", "iVBO\nRw=="}}}},
          {{"output_type", "stream"}, {"name", "stdout"}, {"text", "out\n"}}}},
        {"truncated", false}};
    const json result = mcp::execute_code_result(answer);
    CHECK(result["isError"] == true);
    const std::string text = result["content"][0]["text"];
    CHECK(text.find("out\n") != std::string::npos);
    CHECK(text.find("ValueError: bad") != std::string::npos);
    CHECK(text.find('\x1b') == std::string::npos);
    REQUIRE(result["content"].size() == 2);
    CHECK(result["content"][1] ==
          json{{"type", "image"}, {"data", "iVBORw=="}, {"mimeType", "image/png"}});
    CHECK_FALSE(result["structuredContent"].contains("outputs"));
    CHECK(result["structuredContent"]["status"] == "error");
}

TEST_CASE("the tool list offers the five tools with schemas")
{
    const json tools = mcp::tool_list();
    REQUIRE(tools.size() == 5);
    for (const auto& tool : tools)
    {
        CHECK(mcp::known_tool(tool["name"]));
        CHECK(tool["inputSchema"]["type"] == "object");
    }
    CHECK_FALSE(mcp::known_tool("rm"));
}

TEST_CASE("sessions belong to their user, are bounded per user and idle out")
{
    using clock = mcp::session::clock;
    const auto t0 = clock::time_point{};
    mcp::session_table table(2);
    REQUIRE(table.create("a1", "alice", "2025-06-18", "c", t0));
    REQUIRE(table.create("a2", "alice", "2025-06-18", "c", t0));
    CHECK(table.create("a3", "alice", "2025-06-18", "c", t0) == nullptr);
    REQUIRE(table.create("b1", "bob", "2025-06-18", "c", t0));
    CHECK(table.find("a1", "bob") == nullptr);
    REQUIRE(table.find("a1", "alice"));
    table.find("a1", "alice")->busy = 1;
    table.find("a2", "alice")->last_used = t0 + std::chrono::seconds(50);
    const auto idle = table.idle_since(std::chrono::seconds(30), t0 + std::chrono::seconds(60));
    CHECK(idle == std::vector<std::string>{"b1"}); // a1 busy, a2 used recently
    CHECK(table.idle_since(clock::duration::zero(), t0 + std::chrono::hours(1)).empty());
    table.remove("a2");
    CHECK(table.count("alice") == 1);
    CHECK(mcp::negotiate_version("2025-03-26") == "2025-03-26");
    CHECK(mcp::negotiate_version("2024-11-05") == mcp::protocol_versions().front());
}
