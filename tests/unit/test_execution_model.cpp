// The execute API's model without a kernel or a socket: request bodies, budgets (middle cuts,
// held-back stream tails, images), and how kernel messages become events, outputs and a status.
#include "executions/execute_request.hpp"
#include "executions/execution.hpp"
#include "executions/output_budget.hpp"
#include "protocol/message_builder.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace cellbox::gateway;
using json = nlohmann::json;

namespace
{

kernel_message iopub(const std::string& type, const json& content)
{
    return {"iopub", json{{"msg_type", type}}.dump(), R"({"msg_id":"m"})", "{}", content.dump(),
            {}};
}

kernel_message reply(const json& content, const std::string& session = "kernel",
                     const json& metadata = json::object())
{
    return {"shell",
            json{{"msg_type", "execute_reply"}, {"session", session}}.dump(),
            R"({"msg_id":"m"})",
            metadata.dump(),
            content.dump(),
            {}};
}

execution run(std::size_t text = 1000, std::size_t image = 1000)
{
    return execution("e", "m", output_budget(text, image));
}

std::string finish(execution& e, const json& reply_content)
{
    e.on_message(reply(reply_content));
    e.on_message(iopub("status", {{"execution_state", "idle"}}));
    REQUIRE(e.done());
    return e.status();
}

} // namespace

TEST_CASE("execute bodies: fields checked by name")
{
    const auto params = parse_execute_request(
        R"({"code":"1","timeout":2.5,"stdin":["a"],"store_history":false,"max_output_bytes":10})",
        false);
    CHECK(params.code == "1");
    CHECK(*params.timeout == 2.5);
    CHECK(params.stdin_lines->at(0) == "a");
    CHECK_FALSE(params.store_history);
    CHECK(*params.max_output_bytes == 10);
    CHECK_THROWS_WITH(parse_execute_request(R"({"code":"1","x":1})", false),
                      Catch::Contains("unknown field \"x\""));
    CHECK_THROWS_WITH(parse_execute_request(R"({"code":"1","timeout":0})", false),
                      Catch::Contains("timeout"));
    CHECK_THROWS_WITH(parse_execute_request(R"({"code":"1","files":{}})", false),
                      Catch::Contains("files"));
    CHECK_THROWS_WITH(parse_execute_request(R"({"timeout":1})", false),
                      Catch::Contains("code is required"));
    CHECK_THROWS_AS(parse_execute_request("[[[", false), execute_request_error);
    const auto one_shot = parse_execute_request(R"({"code":"1","files":{"a/b":"t"}})", true);
    CHECK(one_shot.files.at("a/b") == "t");
    CHECK_THROWS(parse_execute_request(R"({"code":"1","interrupt_on_disconnect":true})", true));
}

TEST_CASE("file paths stay under the directory")
{
    CHECK(safe_relative_path("a/b.txt"));
    CHECK(safe_relative_path("..a"));
    for (const char* bad : {"", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/", "a\\b"})
    {
        CHECK_FALSE(safe_relative_path(bad));
    }
    CHECK_FALSE(safe_relative_path(std::string("a\0b", 3)));
}

TEST_CASE("cut_middle keeps both ends, the count, and UTF-8 sequences whole")
{
    std::size_t cut = 0;
    CHECK(cut_middle("short", 10, cut) == "short");
    CHECK(cut == 0);
    const std::string text = "HEAD" + std::string(100, 'x') + "TAIL";
    const std::string out = cut_middle(text, 20, cut);
    CHECK(out.rfind("HEAD", 0) == 0);
    CHECK(out.substr(out.size() - 4) == "TAIL");
    CHECK(cut == text.size() - 20);
    CHECK(out.find(cut_marker(cut)) != std::string::npos);
    const std::string accents = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"; // 5 x e-acute
    const std::string kept = cut_middle(accents, 5, cut);
    CHECK(kept.substr(0, 2) == "\xc3\xa9");
    CHECK(cut % 2 == 0);
}

TEST_CASE("stream text past half the budget is held back and its end kept")
{
    output_budget budget(20, 0);
    CHECK(budget.take_stream("stdout", "0123456789abc") == "0123456789");
    CHECK(budget.take_stream("stderr", "E") == "");
    CHECK(budget.take_stream("stdout", "0123456789") == "");
    const auto tail = budget.finish_streams();
    REQUIRE(tail.size() == 2);
    CHECK(tail[0].text == cut_marker(4)); // "abc" and "E" went: 4 bytes
    CHECK(tail[1].name == "stdout");
    CHECK(tail[1].text == "0123456789");
    CHECK(budget.cut_bytes() == 4);
    CHECK(budget.truncated());
}

TEST_CASE("statuses from the reply")
{
    auto ok = run();
    CHECK(finish(ok, {{"status", "ok"}, {"execution_count", 3}}) == "ok");
    CHECK(ok.result(false)["execution_count"] == 3);
    auto error = run();
    CHECK(finish(error, {{"status", "error"}, {"ename", "ValueError"}}) == "error");
    auto timeout = run();
    CHECK(finish(timeout, {{"status", "error"}, {"ename", "CellTimeoutError"}}) == "timeout");
    auto aborted = run();
    CHECK(finish(aborted, {{"status", "aborted"}}) == "aborted");
    auto interrupted = run();
    interrupted.mark_interrupted();
    CHECK(finish(interrupted, {{"status", "error"}, {"ename", "KeyboardInterrupt"}}) == "aborted");
    auto died = run();
    died.on_message(reply({{"status", "error"}, {"ename", "CellTimeoutError"}}, "cellbox-gateway"));
    died.on_message(iopub("status", {{"execution_state", "idle"}}));
    CHECK(died.status() == "died");
    auto removed = run();
    removed.end_died("KernelDied", "gone");
    CHECK(removed.status() == "died");
    CHECK(removed.result(false)["error"]["evalue"] == "gone");
}

TEST_CASE("outputs: streams merged, displays updated, clear_output, usage from the kernel")
{
    auto e = run();
    e.on_message(iopub("stream", {{"name", "stdout"}, {"text", "a"}}));
    e.on_message(iopub("stream", {{"name", "stdout"}, {"text", "b"}}));
    e.on_message(iopub("display_data",
                       {{"data", {{"text/plain", "1"}}}, {"transient", {{"display_id", "d"}}}}));
    e.on_message(iopub("update_display_data",
                       {{"data", {{"text/plain", "2"}}}, {"transient", {{"display_id", "d"}}}}));
    e.on_message(reply({{"status", "ok"}}, "kernel", {{"cellbox", {{"cpu_ms", 7}}}}));
    CHECK_FALSE(e.done()); // the idle status closes it
    e.on_message(iopub("status", {{"execution_state", "idle"}}));
    const json result = e.result(true);
    CHECK(result["stdout"] == "ab");
    CHECK(result["outputs"].size() == 2);
    CHECK(result["outputs"][0]["text"] == "ab");
    CHECK(result["outputs"][1]["data"]["text/plain"] == "2");
    CHECK(result["usage"]["cpu_ms"] == 7);
    CHECK(result["usage"]["peak_rss_bytes"].is_null());
    CHECK(e.events().size() == 5); // 2 streams, display, update, done
    CHECK(e.events().back().type == "done");

    auto cleared = run();
    cleared.on_message(iopub("stream", {{"name", "stdout"}, {"text", "gone"}}));
    cleared.on_message(iopub("clear_output", {{"wait", true}}));
    cleared.on_message(iopub("stream", {{"name", "stderr"}, {"text", "kept"}}));
    finish(cleared, {{"status", "ok"}});
    CHECK(cleared.result(true)["outputs"] ==
          json::array({{{"output_type", "stream"}, {"name", "stderr"}, {"text", "kept"}}}));
}

TEST_CASE("images over the budget are dropped with a note")
{
    auto e = run(1000, 10);
    e.on_message(iopub("display_data", {{"data", {{"image/png", std::string(50, 'A')}}}}));
    e.on_message(iopub("display_data", {{"data", {{"image/png", "AAAA"}}}}));
    finish(e, {{"status", "ok"}});
    const json result = e.result(true);
    CHECK_FALSE(result["outputs"][0]["data"].contains("image/png"));
    CHECK(result["outputs"][0]["data"]["text/plain"].get<std::string>().find("50 bytes") !=
          std::string::npos);
    CHECK(result["outputs"][1]["data"]["image/png"] == "AAAA");
    CHECK(result["usage"]["cut_image_bytes"] == 50);
    CHECK(result["truncated"] == true);
}

TEST_CASE("events are capped, the end always kept")
{
    auto e = run(100000000, 0);
    for (std::size_t i = 0; i < execution::max_events + 5; ++i)
    {
        e.on_message(iopub("stream", {{"name", i % 2 ? "stdout" : "stderr"}, {"text", "x"}}));
    }
    finish(e, {{"status", "ok"}});
    CHECK(e.events().size() == execution::max_events + 1);
    CHECK(e.result(false)["usage"]["dropped_events"] == 5);
    CHECK(e.result(false)["truncated"] == true);
}

TEST_CASE("a reply is a change even without an event: its idle status may never come")
{
    // A kernel's iopub drops messages at its high-water mark (3000 displays read by a slow
    // gateway), the final idle status among them: the runner ends the execution a grace
    // period after the reply, and only if it is told the reply came.
    execution e = run();
    CHECK(e.on_message(iopub("status", {{"execution_state", "busy"}})) == false);
    CHECK(e.on_message(reply({{"status", "ok"}, {"execution_count", 3}})));
    CHECK(e.replied());
    CHECK_FALSE(e.done());
    CHECK_FALSE(e.on_message(reply({{"status", "ok"}}))); // a second reply changes nothing
    // The gateway's stand-in for the lost idle status (sent to every client of the kernel)
    // is not the end: the runner's own grace is, with its warning.
    const kernel_message stand_in = make_lost_idle_status(R"({"msg_id":"m"})");
    CHECK(is_lost_idle_status(stand_in));
    CHECK_FALSE(is_lost_idle_status(iopub("status", {{"execution_state", "idle"}})));
    e.on_message(stand_in);
    CHECK_FALSE(e.done());
    e.end_now();
    CHECK(e.done());
    CHECK(e.status() == "ok");
}
