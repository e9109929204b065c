// The zygote's protocol: the gateway's requests, the zygote's answers and events, and its
// sessions' records. Request lines come from the zygote's owner and are checked before anything
// acts on them.
#include "cellbox/contract/zygote.hpp"
#include "contract_refusals.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <limits>
#include <string>
#include <system_error>

using namespace cellbox::contract;
using nlohmann::json;

namespace
{

zygote_spawn kernel_spawn()
{
    zygote_spawn spawn;
    spawn.ipc_dir = "/run/k";
    spawn.connection_file = "/run/k/connection.json";
    return spawn;
}

// The op of a request line, or the reason it was refused (as an exception, like the zygote).
zygote_op op_of(const json& request)
{
    return decode_zygote_request(request.dump()).op.value();
}

zygote_spawn spawn_of(const json& request)
{
    return std::get<zygote_spawn>(op_of(request));
}

json kernel_line(const json& extra = json::object())
{
    json request = {
        {"op", "spawn"}, {"ipc_dir", "/run/k"}, {"connection_file", "/run/k/connection.json"}};
    request.update(extra);
    return request;
}

} // namespace

TEST_CASE("zygote requests: encode then decode gives back the same request")
{
    zygote_spawn full = kernel_spawn();
    full.workdir = "/srv/work/alice";
    full.owner = workdir_owner{200007, 200008};
    full.uid = 100005;
    full.verdict_file = "/run/k/verdict.json";
    full.log_file = "/run/k/output";
    full.limits = {1ULL << 30, 256, 1.5, 60, 3600};
    full.cell_timeout_s = 30;
    zygote_spawn program;
    program.script = zygote_script{"import sys; print(sys.argv)", {"a", "-b", ""}};
    program.limits.wall_time_s = 0.25;
    const std::vector<zygote_request> requests = {
        {1, kernel_spawn()},
        {json("text id"), full},
        {json(), program},
        {7, zygote_go{4242, {"/srv/work/alice", workdir_owner{200007, 200007}, 2ULL << 30}}},
        {8, zygote_go{4243, {}}},
        {9, zygote_kill{4242}},
    };
    for (const auto& request : requests)
    {
        CAPTURE(encode(request));
        const zygote_request_read read = decode_zygote_request(encode(request));
        REQUIRE(read.op.ok());
        CHECK(read.id == request.id);
        CHECK(*read.op == request.op);
    }
}

TEST_CASE("zygote requests: lines are JSON objects of bounded depth with a string op")
{
    const zygote_request_read kill = decode_zygote_request(R"({"op":"kill","pid":42,"id":7})");
    CHECK(kill.id == 7);
    CHECK(std::get<zygote_kill>(kill.op.value()).pid == 42);
    CHECK_THAT(decode_zygote_request("not json").op.error(), Catch::Contains("JSON object"));
    CHECK_THAT(decode_zygote_request("[1]").op.error(), Catch::Contains("JSON object"));
    CHECK_THAT(decode_zygote_request(R"({"op":"spawn","id":)" + std::string(100000, '[') +
                                     std::string(100000, ']') + "}")
                   .op.error(),
               Catch::Contains("deeper than 256"));
    // A refused request keeps its id, for the answer.
    const zygote_request_read unknown = decode_zygote_request(R"({"op":"fly","id":"x"})");
    CHECK(unknown.id == "x");
    CHECK_THAT(unknown.op.error(), Catch::Contains("unknown op \"fly\""));
    CHECK_THAT(decode_zygote_request("{}").op.error(), Catch::Contains("string \"op\""));
    CHECK_THAT(decode_zygote_request(R"({"op":5})").op.error(), Catch::Contains("string \"op\""));
    for (const json& pid : {json(-1), json(0), json(1e300), json("42"), json(nullptr),
                            json(std::numeric_limits<std::int64_t>::max())})
    {
        CAPTURE(pid);
        for (const char* op : {"kill", "go"})
        {
            CHECK_THROWS_WITH(op_of({{"op", op}, {"pid", pid}}),
                              Catch::Contains("needs the session's \"pid\""));
        }
    }
}

TEST_CASE("spawn requests: numbers are checked before they are converted")
{
    CHECK_FALSE(spawn_of(kernel_line()).uid);
    CHECK(spawn_of(kernel_line({{"uid", 100005}})).uid == 100005U);
    CHECK(spawn_of(kernel_line({{"pids", 64.0}})).limits.pids == 64U);
    CHECK(spawn_of(kernel_line({{"cpus", 0.5}})).limits.cpus == 0.5);
    CHECK(spawn_of(kernel_line({{"memory", "1G"}})).limits.memory_bytes == 1ULL << 30);
    CHECK(spawn_of(kernel_line({{"memory", "1073741824"}})).limits.memory_bytes == 1ULL << 30);
    // A double out of a uid's range, a fraction, a negative or an infinite number would be
    // undefined behaviour or nonsense once converted: all are refused.
    for (const auto& [key, value] :
         {std::pair{"uid", json(1e300)}, std::pair{"uid", json(4294967296.0)},
          std::pair{"uid", json(-1)}, std::pair{"uid", json(1.5)}, std::pair{"uid", json("1")},
          std::pair{"pids", json(1e30)}, std::pair{"pids", json(18446744073709551616.0)},
          std::pair{"cpus", json(-0.5)}, std::pair{"wall_time", json("10")},
          std::pair{"cell_timeout", json(-1)}, std::pair{"memory", json::array()}})
    {
        CAPTURE(key, value);
        CHECK_THROWS_WITH(spawn_of(kernel_line({{key, value}})), Catch::Contains(key));
    }
    // JSON has no infinity; a number too large for a double is no number at all.
    const std::string line = kernel_line().dump();
    CHECK_THAT(
        decode_zygote_request(line.substr(0, line.size() - 1) + R"(,"cpu_time":1e400})").op.error(),
        Catch::Contains("not JSON"));
}

TEST_CASE("spawn requests: paths, scripts and owners")
{
    const auto script =
        spawn_of({{"op", "spawn"}, {"script", {{"code", "print(1)"}, {"argv", {"a", "b"}}}}});
    REQUIRE(script.script);
    CHECK(script.script->code == "print(1)");
    CHECK(script.script->argv == std::vector<std::string>{"a", "b"});
    const auto owned =
        spawn_of(kernel_line({{"workdir", "/w"}, {"owner_uid", 200000}, {"owner_gid", 200001}}));
    CHECK(owned.owner == workdir_owner{200000, 200001});
    for (const json& bad :
         {json{{"op", "spawn"}, {"script", "code"}},
          json{{"op", "spawn"}, {"script", {{"code", 1}}}},
          json{{"op", "spawn"}, {"script", {{"code", "x"}, {"argv", "a"}}}},
          json{{"op", "spawn"}, {"script", {{"code", "x"}, {"argv", {1}}}}}, json{{"op", "spawn"}},
          kernel_line({{"connection_file", "/elsewhere/c.json"}}),
          kernel_line({{"log_file", "relative.log"}}), kernel_line({{"verdict_file", 5}}),
          kernel_line({{"owner_uid", 200000}}),
          kernel_line({{"workdir", "/w"}, {"owner_uid", 999}})})
    {
        CAPTURE(bad);
        CHECK_THROWS_AS(spawn_of(bad), std::invalid_argument);
    }
}

TEST_CASE("go requests carry only the late-binding fields, checked")
{
    const auto go = std::get<zygote_go>(
        op_of({{"op", "go"}, {"pid", 9}, {"workdir", "/w"}, {"memory", "1G"}, {"uid", 1}}));
    CHECK(go.pid == 9);
    CHECK(go.binding == late_binding_request{"/w", std::nullopt, 1ULL << 30});
    for (const json& bad : {json{{"workdir", "relative"}}, json{{"memory", json::array()}},
                            json{{"owner_uid", 5}, {"workdir", "/w"}}})
    {
        CAPTURE(bad);
        json request = {{"op", "go"}, {"pid", 9}};
        request.update(bad);
        CHECK_THROWS_AS(op_of(request), std::invalid_argument);
    }
}

TEST_CASE("zygote messages: encode then decode gives back answers and events")
{
    verdict killed;
    killed.kind = "signal";
    killed.signal = SIGKILL;
    killed.wall_ms = 12;
    const std::system_error fork_failed(EAGAIN, std::generic_category(), "fork");
    const std::vector<zygote_message> messages = {
        zygote_answer{1, true, 4242, "", std::nullopt},
        zygote_answer{2, true, std::nullopt, "", std::nullopt},
        zygote_answer{3, false, 4242, "the session ended", std::nullopt},
        zygote_answer::failure("text id", fork_failed),
        zygote_answer::failure(json(), std::invalid_argument("unknown op \"fly\"")),
        zygote_ready{77, 1234.5, {"numpy", "pandas"}, 56u << 20, ""},
        zygote_ready{78, 0, {}, 0, "madvise(MADV_COLLAPSE): Invalid argument"},
        zygote_exit{4242, killed},
    };
    for (const auto& message : messages)
    {
        CAPTURE(encode(message));
        const auto decoded = decode_zygote_message(encode(message));
        REQUIRE(decoded.ok());
        CHECK(*decoded == message);
    }
    const auto& failed = std::get<zygote_answer>(messages[3]);
    CHECK(failed.system_error == system_error{"fork", EAGAIN});
    CHECK(json::parse(encode(messages[7]))["verdict"]["signal"] == "SIGKILL");
}

TEST_CASE("zygote messages: malformed lines are refused with a reason")
{
    refusals<std::string> cases = not_objects();
    cases.insert(cases.end(),
                 {
                     {R"({"id": 1})", "needs \"ok\""},
                     {R"({"id": 1, "ok": true, "pid": "4242"})", "pid must be a process id"},
                     {R"({"id": 1, "ok": true, "pid": -3})", "pid must be a process id"},
                     {R"({"event": 5})", "event must be a string"},
                     {R"({"event": "boom"})", "unknown event \"boom\""},
                     {R"({"event": "ready"})", "needs the zygote's \"pid\""},
                     {R"({"event": "ready", "pid": 1, "warm_modules": "numpy"})", "warm_modules"},
                     {R"({"event": "ready", "pid": 1, "huge_page_bytes": -2})", "huge_page_bytes"},
                     {R"({"event": "exit", "pid": 4242})", "needs the session's \"verdict\""},
                     {R"({"event": "exit", "pid": 4242, "verdict": {"verdict": "gone"}})",
                      "the exit event's verdict: verdict must be one of"},
                 });
    check_refusals(cases, [](const std::string& text) { return decode_zygote_message(text); });
}

TEST_CASE("a session's link: late-binding answers, then the verdict")
{
    verdict ended;
    ended.kind = "exit";
    ended.exit_code = 1;
    const std::vector<supervisor_record> records = {
        late_binding_answer{true, "", std::nullopt},
        late_binding_answer{false, "no memory cgroup", std::nullopt},
        ended,
    };
    for (const auto& record : records)
    {
        CAPTURE(encode_supervisor_record(record));
        const auto decoded = decode_supervisor_record(encode_supervisor_record(record));
        REQUIRE(decoded.ok());
        CHECK(*decoded == record);
    }
    CHECK(json::parse(encode_supervisor_record(ended))["verdict"]["verdict"] == "exit");
    CHECK_THAT(decode_supervisor_record(R"({"verdict": "ok"})").error(),
               Catch::Contains("a verdict must be a JSON object"));
    CHECK_THAT(decode_supervisor_record("{}").error(), Catch::Contains("needs \"ok\""));
}
