// The verdict contract: what the launcher writes is what the gateway reads, field for field,
// and a verdict file that is not one is refused with a reason, never thrown through.
#include "cellbox/contract/verdict.hpp"
#include "contract_refusals.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace cellbox::contract;
using nlohmann::json;

namespace
{

verdict make(const std::string& kind)
{
    verdict v;
    v.kind = kind;
    v.peak_memory_bytes = 123456789;
    v.cpu_ms = 42;
    v.wall_ms = 1234;
    return v;
}

verdict with_exit(const std::string& kind, int code)
{
    verdict v = make(kind);
    v.exit_code = code;
    return v;
}

verdict with_signal(const std::string& kind, int signal)
{
    verdict v = make(kind);
    v.signal = signal;
    return v;
}

std::vector<verdict> examples()
{
    std::vector<verdict> all = {
        with_exit("ok", 0), with_exit("exit", 3), with_signal("signal", SIGSEGV),
        with_signal("oom", SIGKILL), with_signal("timeout_wall", SIGKILL),
        with_signal("timeout_cpu", SIGXCPU), with_signal("seccomp", SIGSYS), make("internal_error"),
        // No abbreviation: it travels as its number.
        with_signal("signal", SIGRTMIN + 3)};
    all[1].degraded = {"memory_cgroup", "distinct_uid"};
    all[3].pids_limit_hit = true;
    all[6].syscall = "getpid (x32 ABI)";
    all[6].message = "killed by the seccomp filter for calling getpid (x32 ABI)";
    all[7].message = "sandbox setup failed: mount /proc: Operation not permitted";
    all[7].system_error = system_error{"mount /proc", EPERM};
    return all;
}

} // namespace

TEST_CASE("verdict: encode then decode gives back every kind, field for field")
{
    for (const verdict& v : examples())
    {
        CAPTURE(encode(v));
        const auto text = decode_verdict(encode(v));
        REQUIRE(text.ok());
        CHECK(*text == v);
        const auto embedded = verdict_from_json(to_json(v));
        REQUIRE(embedded.ok());
        CHECK(*embedded == v);
    }
}

TEST_CASE("verdict: the wire format the tests and users read")
{
    verdict oom = make("oom");
    oom.signal = SIGKILL;
    const json out = to_json(oom);
    CHECK(out["verdict"] == "oom");
    CHECK(out["signal"] == "SIGKILL");
    CHECK(out["peak_memory_bytes"] == 123456789);
    CHECK(out["pids_limit_hit"] == false);
    CHECK_FALSE(out.contains("exit_code")); // only ok and exit have one
    CHECK_FALSE(out.contains("system_error"));
    verdict exited = make("exit");
    exited.exit_code = 3;
    CHECK(to_json(exited)["exit_code"] == 3);
    CHECK(exited.exit_status() == 3);
    CHECK(oom.exit_status() == 128 + SIGKILL);
    CHECK(make("internal_error").exit_status() == 125);
    verdict failed = make("internal_error");
    failed.system_error = system_error{"fork", EAGAIN};
    CHECK(to_json(failed)["system_error"] == json{{"call", "fork"}, {"errno", EAGAIN}});
}

TEST_CASE("verdict: malformed input is refused with a reason")
{
    refusals<std::string> cases = not_objects();
    cases.insert(cases.end(),
                 {
                     {"{}", "verdict must be one of"},
                     {R"({"verdict": "exploded"})", "verdict must be one of"},
                     {R"({"verdict": 5})", "verdict must be a string"},
                     {R"({"verdict": "ok"})", "exit_code"},
                     {R"({"verdict": "exit", "exit_code": "3"})", "exit_code"},
                     {R"({"verdict": "exit", "exit_code": 300})", "exit_code"},
                     {R"({"verdict": "signal", "signal": 9})", "signal must be a string"},
                     {R"({"verdict": "signal", "signal": "SIGNOPE"})", "signal must name a signal"},
                     {R"({"verdict": "oom", "peak_memory_bytes": -1})", "peak_memory_bytes"},
                     {R"({"verdict": "oom", "cpu_ms": "1"})", "cpu_ms"},
                     {R"({"verdict": "oom", "pids_limit_hit": 1})", "pids_limit_hit"},
                     {R"({"verdict": "oom", "degraded": "memory_cgroup"})", "degraded"},
                     {R"({"verdict": "oom", "degraded": [1]})", "degraded"},
                     {R"({"verdict": "oom", "message": {}})", "message must be a string"},
                     {R"({"verdict": "internal_error", "system_error": {"call": 5, "errno": 1}})",
                      "system_error: call"},
                     {R"({"verdict": "internal_error", "system_error": {"call": "x", "errno": 0}})",
                      "system_error: errno"},
                     {R"({"verdict": "internal_error", "system_error": []})", "system_error"},
                 });
    check_refusals(cases, [](const std::string& text) { return decode_verdict(text); });
}

TEST_CASE("verdict: the verdict file, written by the launcher and read by the gateway")
{
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("cellbox-verdict-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "verdict.json").string();
    const verdict v = examples().at(1);
    write_verdict_file(path, v);
    const auto read = read_verdict_file(path);
    REQUIRE(read.ok());
    CHECK(*read == v);
    std::ofstream(path) << "{\"verdict\": \"ok\""; // cut short
    CHECK_THAT(read_verdict_file(path).error(), Catch::Contains("not JSON"));
    CHECK_THAT(read_verdict_file((dir / "missing.json").string()).error(),
               Catch::Contains("no verdict file"));
    std::filesystem::remove_all(dir);
}
