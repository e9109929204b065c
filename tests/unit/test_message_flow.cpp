// The gateway's message-flow policies: replay buffer bounds, per-cell output cap, iopub rate
// limits.
#include "cellbox/byte_size.hpp"
#include "protocol/message_builder.hpp"
#include "streams/iopub_rate_limiter.hpp"
#include "streams/output_limiter.hpp"
#include "streams/replay_buffer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace cellbox::gateway;
using json = nlohmann::json;

namespace
{

kernel_message iopub(const std::string& msg_type, const json& content,
                     const std::string& parent_msg_id = "cell-1")
{
    kernel_message m = make_request("iopub", msg_type, content, "kernel");
    m.parent_header = json{{"msg_id", parent_msg_id}, {"session", "client"}}.dump();
    return m;
}

kernel_message print(const std::string& text, const std::string& parent = "cell-1")
{
    return iopub("stream", {{"name", "stdout"}, {"text", text}}, parent);
}

std::string text_of(const kernel_message& m)
{
    return json::parse(m.content).value("text", "");
}

} // namespace

TEST_CASE("the replay buffer keeps the newest messages within its bounds")
{
    const auto shared = [](const std::string& text)
    { return std::make_shared<const kernel_message>(print(text)); };
    replay_buffer by_count(3, 1 << 20);
    for (int i = 0; i < 5; ++i)
    {
        by_count.push(shared(std::to_string(i)));
    }
    auto kept = by_count.take();
    REQUIRE(kept.size() == 3);
    CHECK(text_of(*kept.front()) == "2");
    CHECK(text_of(*kept.back()) == "4");
    CHECK(by_count.empty());
    CHECK(by_count.bytes() == 0);

    const std::size_t one = message_bytes(print("x"));
    replay_buffer by_bytes(100, 2 * one);
    CHECK(by_bytes.push(shared("a")) == 0);
    CHECK(by_bytes.push(shared("b")) == 0);
    CHECK(by_bytes.push(shared("c")) == 1);
    CHECK(by_bytes.size() == 2);

    // Messages a closing connection had taken are older than what was buffered meanwhile.
    replay_buffer ordered(10, 1 << 20);
    ordered.push(shared("later"));
    ordered.push_front({shared("first"), shared("second")});
    kept = ordered.take();
    REQUIRE(kept.size() == 3);
    CHECK(text_of(*kept[0]) == "first");
    CHECK(text_of(*kept[1]) == "second");
    CHECK(text_of(*kept[2]) == "later");
}

TEST_CASE("replay buffers share one copy of a message and count it as theirs")
{
    const shared_message message = std::make_shared<const kernel_message>(print("x"));
    std::vector<replay_buffer> buffers(40, replay_buffer(10, 1 << 20));
    for (auto& buffer : buffers)
    {
        buffer.push(message);
        CHECK(buffer.bytes() == message_bytes(*message)); // each session's own bound
    }
    CHECK(message.use_count() == 41); // forty pointers, one copy
    CHECK(buffers.back().take().front().get() == message.get());
}

TEST_CASE("the output cap discards a cell's output past its limit with one notice")
{
    output_limiter limiter(150);
    const std::string chunk(40, 'x');
    std::vector<kernel_message> seen;
    for (int i = 0; i < 5; ++i)
    {
        auto m = print(chunk);
        for (auto& out : limiter.filter(m, describe(m)))
        {
            seen.push_back(std::move(out));
        }
    }
    // ~68 content bytes each: two fit, the third passes the cap -> notice, rest dropped.
    REQUIRE(seen.size() == 3);
    CHECK(text_of(seen[2]).find("output limit of 150 bytes reached") != std::string::npos);
    CHECK(json::parse(seen[2].content)["name"] == "stderr");
    CHECK(json::parse(seen[2].parent_header)["msg_id"] == "cell-1");

    // Status and other cells pass; the cell's idle status forgets it.
    auto busy = iopub("status", {{"execution_state", "busy"}});
    CHECK(limiter.filter(busy, describe(busy)).size() == 1);
    auto other = print(chunk, "cell-2");
    CHECK(limiter.filter(other, describe(other)).size() == 1);
    auto idle = iopub("status", {{"execution_state", "idle"}});
    CHECK(limiter.filter(idle, describe(idle)).size() == 1);
    auto again = print(chunk);
    CHECK(limiter.filter(again, describe(again)).size() == 1);

    CHECK(cellbox::format_byte_size(std::size_t(16) << 20) == "16 MiB");
    CHECK(cellbox::format_byte_size(512 * 1024) == "512 KiB");
    output_limiter off(0);
    auto big = print(std::string(1000, 'y'));
    CHECK(off.filter(big, describe(big)).size() == 1);
}

TEST_CASE("the iopub message rate limit drops output with one notice and resumes")
{
    using clock = iopub_rate_limiter::clock;
    iopub_rate_limiter limiter(10, 0, 1); // 10 messages/s over 1 s
    const auto start = clock::now();
    int passed = 0, notices = 0;
    for (int i = 0; i < 30; ++i)
    {
        auto m = print("x");
        for (auto& out : limiter.filter(m, describe(m), start))
        {
            (text_of(out).find("IOPub message rate exceeded") == 0 ? notices : passed)++;
        }
    }
    CHECK(passed == 10);
    CHECK(notices == 1);
    // Status always passes, even while output is dropped.
    auto busy = iopub("status", {{"execution_state", "busy"}});
    CHECK(limiter.filter(busy, describe(busy), start).size() == 1);
    // A window later the rate has fallen: output resumes.
    auto later = print("y");
    const auto out = limiter.filter(later, describe(later), start + std::chrono::seconds(2));
    REQUIRE(out.size() == 1);
    CHECK(text_of(out[0]) == "y");
}

TEST_CASE("the iopub data rate limit counts stream bytes and resets on idle")
{
    using clock = iopub_rate_limiter::clock;
    iopub_rate_limiter limiter(0, 1000, 1);
    const auto now = clock::now();
    int passed = 0, notices = 0;
    for (int i = 0; i < 6; ++i)
    {
        auto m = print(std::string(250, 'z'));
        for (auto& out : limiter.filter(m, describe(m), now))
        {
            (text_of(out).find("IOPub data rate exceeded") == 0 ? notices : passed)++;
        }
    }
    CHECK(passed == 2); // ~330 bytes each: the third goes over 1000 bytes/s
    CHECK(notices == 1);
    auto small = print("a");
    auto idle = iopub("status", {{"execution_state", "idle"}});
    CHECK(limiter.filter(idle, describe(idle), now).size() == 1);
    const auto out = limiter.filter(small, describe(small), now);
    REQUIRE(out.size() == 1);
    CHECK(text_of(out[0]) == "a");
}

TEST_CASE("client messages must carry a header with msg_id and msg_type")
{
    kernel_message good = make_request("shell", "kernel_info_request", json::object(), "s");
    CHECK_NOTHROW(check_client_message(good));
    kernel_message no_type = good;
    no_type.header = R"({"msg_id": "1"})";
    CHECK_THROWS_AS(check_client_message(no_type), protocol_error);
    kernel_message number_type = good;
    number_type.header = R"({"msg_id": "1", "msg_type": 5})";
    CHECK_THROWS_AS(check_client_message(number_type), protocol_error);
    kernel_message bad_content = good;
    bad_content.content = "not json";
    CHECK_THROWS_AS(check_client_message(bad_content), protocol_error);
    CHECK(string_field(json::parse(R"({"a": 1})"), "a").empty());
    CHECK(string_field(json::array(), "a").empty());
}

TEST_CASE("the gateway answers an execute_request itself with the error, reply and idle status")
{
    kernel_message request = make_request("shell", "execute_request", {{"code", "1"}}, "client");
    const auto answer = make_error_answer(request, "KernelDied", "it died");
    REQUIRE(answer.size() == 3);
    CHECK(answer[0].channel == "iopub");
    CHECK(json::parse(answer[0].header)["msg_type"] == "error");
    CHECK(answer[1].channel == "shell");
    const json reply = json::parse(answer[1].content);
    CHECK(json::parse(answer[1].header)["msg_type"] == "execute_reply");
    CHECK(reply["status"] == "error");
    CHECK(reply["ename"] == "KernelDied");
    CHECK(reply["execution_count"].is_null());
    CHECK(json::parse(answer[2].content)["execution_state"] == "idle");
    for (const auto& message : answer)
    {
        CHECK(message.parent_header == request.header); // shown under the request
    }
}

TEST_CASE("other requests get their own reply type; messages that wait for none get nothing")
{
    const auto complete = make_error_answer(
        make_request("shell", "complete_request", {{"code", "pri"}}, "client"), "E", "v");
    REQUIRE(complete.size() == 1);
    CHECK(json::parse(complete[0].header)["msg_type"] == "complete_reply");
    CHECK(json::parse(complete[0].content)["status"] == "error");
    const auto control = make_error_answer(
        make_request("control", "interrupt_request", json::object(), "client"), "E", "v");
    REQUIRE(control.size() == 1);
    CHECK(control[0].channel == "control");
    CHECK(make_error_answer(make_request("stdin", "input_reply", {{"value", "x"}}, "c"), "E", "v")
              .empty());
    CHECK(make_error_answer(make_request("shell", "comm_msg", json::object(), "c"), "E", "v")
              .empty());
    kernel_message broken{"shell", "not json", "{}", "{}", "{}", {}};
    CHECK(make_error_answer(broken, "E", "v").empty());
}

TEST_CASE("string_members reads a header's fields as the parsed object holds them")
{
    using cellbox::gateway::string_members;
    const auto read = string_members(
        R"({"msg_id": "m\"1", "msg_type": 3, "msg_type": "stream", "session": {"msg_id": "inner"},
            "date": [{"session": "no"}], "version": "5.3"})",
        {"msg_id", "msg_type", "session", "version", "absent"});
    REQUIRE(read);
    CHECK(*read == std::vector<std::string>{"m\"1", "stream", "", "5.3", ""});
    // The last of duplicates wins, whatever it is, as in the parsed object.
    CHECK((*string_members(R"({"a": "x", "a": null})", {"a"}))[0].empty());
    for (const char* not_object : {"", "[]", "\"s\"", "3", "{\"a\": \"x\"", "{\"a\": \"x\"} x",
                                   "{\"a\": \"x\"}\n{}", "null"})
    {
        CHECK_FALSE(string_members(not_object, {"a"}));
    }
    CHECK_FALSE(string_members(std::string("{\"a\": \"x\"}\0", 11), {"a"}));
    CHECK_FALSE(string_members(std::string(300, '[') + std::string(300, ']'), {"a"}));

    // describe() reads through it: type, parent, and the status of a status message.
    auto idle = iopub("status", {{"execution_state", "idle"}}, "cell-9");
    const auto info = describe(idle);
    CHECK(info.msg_type == "status");
    CHECK(info.parent_msg_id == "cell-9");
    CHECK(info.execution_state == "idle");
    CHECK(info.has_parent);
    idle.parent_header = "[]";
    CHECK_FALSE(describe(idle).has_parent);
    CHECK(describe(idle).parent_msg_id.empty());
}
