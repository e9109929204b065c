// The zygote's request reader: lines from its owner are checked before anything acts on them.
#include "cellbox/kernel/zygote_request.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <string>

using namespace cellbox::kernel;
using nlohmann::json;

namespace
{

spawn_request spawn(const json& request)
{
    return parse_spawn_request(request, cellbox::sandbox::policy{}, kernel_options{}, 100001);
}

json kernel_spawn(const json& extra = json::object())
{
    json request = {
        {"op", "spawn"}, {"ipc_dir", "/run/k"}, {"connection_file", "/run/k/connection.json"}};
    request.update(extra);
    return request;
}

} // namespace

TEST_CASE("zygote request lines are JSON objects of bounded depth with a string op")
{
    const json request = parse_zygote_line(R"({"op":"kill","pid":42,"id":7})");
    CHECK(request_op(request) == "kill");
    CHECK(session_pid(request) == 42);
    CHECK_THROWS_WITH(parse_zygote_line("not json"), Catch::Contains("JSON object"));
    CHECK_THROWS_WITH(parse_zygote_line("[1]"), Catch::Contains("JSON object"));
    CHECK_THROWS_WITH(parse_zygote_line(R"({"op":"spawn","id":)" + std::string(100000, '[') +
                                        std::string(100000, ']') + "}"),
                      Catch::Contains("deeper than 256"));
    CHECK_THROWS_AS(request_op(json::object()), std::invalid_argument);
    CHECK_THROWS_AS(request_op(json{{"op", 5}}), std::invalid_argument);
    for (const json& pid : {json(-1), json(0), json(1e300), json("42"), json(nullptr)})
    {
        CAPTURE(pid);
        CHECK_THROWS_AS(session_pid(json{{"pid", pid}}), std::invalid_argument);
    }
}

TEST_CASE("spawn requests: numbers are checked before they are converted")
{
    CHECK(spawn(kernel_spawn()).sandbox.uid == 100001);
    CHECK(spawn(kernel_spawn({{"uid", 100005}})).sandbox.uid == 100005);
    CHECK(spawn(kernel_spawn({{"pids", 64.0}})).sandbox.rules.limits.pids == 64U);
    CHECK(spawn(kernel_spawn({{"cpus", 0.5}})).sandbox.rules.limits.cpus == 0.5);
    CHECK(spawn(kernel_spawn({{"memory", "1G"}})).sandbox.rules.limits.memory_bytes == 1ULL << 30);
    // A double out of a uid's range, a fraction, a negative or an infinite number would be
    // undefined behaviour or nonsense once converted: all are refused.
    for (const auto& [key, value] :
         {std::pair{"uid", json(1e300)}, std::pair{"uid", json(4294967296.0)},
          std::pair{"uid", json(-1)}, std::pair{"uid", json(1.5)}, std::pair{"uid", json("1")},
          std::pair{"pids", json(1e30)}, std::pair{"pids", json(18446744073709551616.0)},
          std::pair{"cpus", json(-0.5)},
          std::pair{"cpu_time", json(std::numeric_limits<double>::infinity())},
          std::pair{"wall_time", json("10")}, std::pair{"cell_timeout", json(-1)}})
    {
        CAPTURE(key, value);
        CHECK_THROWS_AS(spawn(kernel_spawn({{key, value}})), std::invalid_argument);
    }
    CHECK_THROWS_AS(requested_uid(json{{"uid", 1e300}}), std::invalid_argument);
}

TEST_CASE("spawn requests: paths, scripts and owners")
{
    const auto script = spawn({{"script", {{"code", "print(1)"}, {"argv", {"a", "b"}}}}});
    CHECK(script.script == "print(1)");
    CHECK(script.script_argv == std::vector<std::string>{"a", "b"});
    for (const json& bad :
         {json{{"script", "code"}}, json{{"script", {{"code", 1}}}},
          json{{"script", {{"code", "x"}, {"argv", "a"}}}},
          json{{"script", {{"code", "x"}, {"argv", {1}}}}}, json::object(),
          kernel_spawn({{"connection_file", "/elsewhere/c.json"}}),
          kernel_spawn({{"log_file", "relative.log"}}), kernel_spawn({{"owner_uid", 200000}})})
    {
        CAPTURE(bad);
        CHECK_THROWS_AS(spawn(bad), std::invalid_argument);
    }
}

TEST_CASE("go requests forward only the late-binding fields, checked")
{
    const json binding = late_binding_of(
        {{"op", "go"}, {"pid", 9}, {"workdir", "/w"}, {"memory", "1G"}, {"uid", 1}});
    CHECK(binding == json{{"workdir", "/w"}, {"memory", "1G"}});
    CHECK_THROWS_AS(late_binding_of({{"workdir", "relative"}}), std::invalid_argument);
    CHECK_THROWS_AS(late_binding_of({{"memory", json::array()}}), std::invalid_argument);
    CHECK_THROWS_AS(late_binding_of({{"owner_uid", 5}, {"workdir", "/w"}}), std::invalid_argument);
}
