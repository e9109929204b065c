// JSON from outside is refused above max_json_depth before anything parses or walks it: the
// depth scan itself, then every reader of untrusted JSON that is built on it.
#include "cellbox/bounded_json.hpp"
#include "cellbox/contract/late_binding.hpp"
#include "http/http_util.hpp"
#include "protocol/message_fields.hpp"
#include "protocol/websocket_framing.hpp"
#include "protocol/wire_codec.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using cellbox::json_depth_within;
using cellbox::max_json_depth;
using cellbox::parse_json_bounded;
using nlohmann::json;

namespace
{

std::string nested(int depth, const std::string& inner = "")
{
    return std::string(static_cast<std::size_t>(depth), '[') + inner +
           std::string(static_cast<std::size_t>(depth), ']');
}

// An object whose member "x" nests `depth` arrays: `depth` + 1 levels in all.
std::string deep_object(int depth)
{
    return R"({"x":)" + nested(depth) + "}";
}

// A random valid document of at most `depth` levels, with strings full of brackets, quotes
// and backslashes that must not count.
json random_value(std::mt19937& random, int depth)
{
    const int kind = static_cast<int>(random() % (depth > 0 ? 6 : 4));
    switch (kind)
    {
    case 0:
        return static_cast<int>(random() % 1000);
    case 1:
        return std::string("a[{\"\\}]") + std::to_string(random() % 10);
    case 2:
        return nullptr;
    case 3:
        return random() % 2 == 0;
    case 4:
    {
        json array = json::array();
        for (unsigned i = random() % 3; i > 0; --i)
        {
            array.push_back(random_value(random, depth - 1));
        }
        return array;
    }
    default:
    {
        json object = json::object();
        for (unsigned i = random() % 3; i > 0; --i)
        {
            object["k[" + std::to_string(i) + "\"{"] = random_value(random, depth - 1);
        }
        return object;
    }
    }
}

} // namespace

TEST_CASE("the depth scan counts containers, not brackets in strings")
{
    CHECK(json_depth_within("", 0));
    CHECK(json_depth_within("1", 0));
    CHECK_FALSE(json_depth_within("[]", 0));
    CHECK(json_depth_within("[]", 1));
    CHECK(json_depth_within(nested(max_json_depth)));
    CHECK_FALSE(json_depth_within(nested(max_json_depth + 1)));
    CHECK(json_depth_within(R"({"a":[1,{"b":2}],"c":{}})", 3));
    CHECK_FALSE(json_depth_within(R"({"a":[1,{"b":2}],"c":{}})", 2));
    // Brackets inside strings, after escaped quotes and escaped backslashes, do not count.
    CHECK(json_depth_within(R"({"[[[[": "{{{{", "q\"[[[": "\\", "e": "\\\"[[["})", 1));
    // An escaped backslash ends before the quote: the string closes and the bracket counts.
    CHECK_FALSE(json_depth_within(R"({"a\\":[]})", 1));
    // A megabyte of nesting is refused at the first bracket past the limit.
    CHECK_FALSE(json_depth_within(nested(1'000'000)));
}

TEST_CASE("bounded parsing gives what nlohmann gives, or discarded when too deep")
{
    std::mt19937 random(12);
    for (int i = 0; i < 300; ++i)
    {
        const json value = random_value(random, 8);
        const std::string text = value.dump();
        CAPTURE(text);
        CHECK(parse_json_bounded(text) == json::parse(text));
        CHECK(parse_json_bounded(text, 8) == json::parse(text));
    }
    CHECK(parse_json_bounded(nested(max_json_depth)).is_array());
    CHECK(parse_json_bounded(nested(max_json_depth + 1)).is_discarded());
    CHECK(parse_json_bounded(nested(100'000)).is_discarded());
    CHECK(parse_json_bounded("{not json").is_discarded());
    // nlohmann alone stops at a NUL byte and accepts what came before (found by fuzz_json_check).
    const std::string with_nul("{\"a\":1}\0trailing", 16);
    CHECK(json::parse(with_nul) == json{{"a", 1}});
    CHECK(parse_json_bounded(with_nul).is_discarded());
    CHECK(parse_json_bounded("").is_discarded());
    std::istringstream file(deep_object(max_json_depth));
    CHECK(parse_json_bounded(file).is_discarded());
}

TEST_CASE("deep client frames are refused by both WebSocket framings")
{
    using namespace cellbox::gateway;
    const std::string header = R"({"msg_id":"1","msg_type":"execute_request"})";
    const std::string legacy =
        R"({"channel":"shell","header":)" + header + R"(,"content":)" + deep_object(100'000) + "}";
    CHECK_THROWS_WITH(decode_legacy(legacy, false), Catch::Contains("deeper than 256"));
    const kernel_message shallow{"shell", header, "{}", deep_object(max_json_depth - 1), "{}", {}};
    CHECK_NOTHROW(check_client_message(decode_v1(encode_v1(shallow))));
    for (int part = 0; part < 4; ++part)
    {
        kernel_message message{"shell", header, "{}", "{}", "{}", {}};
        std::string* parts[] = {&message.header, &message.parent_header, &message.metadata,
                                &message.content};
        *parts[part] = deep_object(100'000);
        CAPTURE(part);
        CHECK_THROWS_WITH(decode_v1(encode_v1(message)), Catch::Contains("deeper than 256"));
        CHECK_THROWS_WITH(check_client_message(message), Catch::Contains("deeper than 256"));
    }
}

TEST_CASE("a kernel's deep message is refused by the wire decoder")
{
    using namespace cellbox::gateway;
    const message_signer signer("key");
    kernel_message message{"iopub",
                           R"({"msg_id":"1","msg_type":"display_data"})",
                           "{}",
                           "{}",
                           deep_object(max_json_depth - 1),
                           {}};
    CHECK_NOTHROW(decode_wire(encode_wire(message, {}, signer), "iopub", signer));
    message.content = deep_object(max_json_depth);
    // The kernel knows the key: the signature is valid, the message is still refused.
    CHECK_THROWS_WITH(decode_wire(encode_wire(message, {}, signer), "iopub", signer),
                      Catch::Contains("content nests JSON deeper than 256"));
}

TEST_CASE("a deep REST body is a 400 with its own reason")
{
    using cellbox::gateway::parse_json_body;
    CHECK(parse_json_body("").value == json::object());
    CHECK(parse_json_body(R"({"a":1})").error.empty());
    CHECK(parse_json_body("[1]").error == "the body must be a JSON object");
    CHECK(parse_json_body("{nope").error == "the body must be a JSON object");
    CHECK(parse_json_body(R"({"env":)" + nested(1'000'000) + "}").error ==
          "the body nests JSON deeper than 256 levels");
}

TEST_CASE("a deep late-binding request is refused with a message for its owner")
{
    using cellbox::contract::decode_late_binding_request;
    CHECK(decode_late_binding_request(R"({"memory":"1G"})")->memory_bytes == 1ULL << 30);
    CHECK_THAT(decode_late_binding_request(deep_object(100'000)).error(),
               Catch::Contains("deeper than 256"));
    CHECK_THAT(decode_late_binding_request("{").error(), Catch::Contains("not JSON"));
    CHECK_THAT(decode_late_binding_request("[]").error(), Catch::Contains("must be a JSON object"));
}
