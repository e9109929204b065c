// The late-binding contract (gateway or zygote -> a session's supervisor, and its answer), and
// the system errors that travel in answers.
#include "cellbox/contract/late_binding.hpp"
#include "contract_refusals.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <future>
#include <stdexcept>
#include <string>
#include <system_error>

using namespace cellbox::contract;
using nlohmann::json;

TEST_CASE("late-binding request: encode then decode gives back the same request")
{
    const std::vector<late_binding_request> requests = {
        {},
        {"/srv/work/alice", std::nullopt, std::nullopt},
        {"/srv/work/alice", workdir_owner{200007, 200007}, 2ULL << 30},
        {"/srv/work/bob", workdir_owner{200008, 300001}, std::nullopt},
        {"", std::nullopt, 1ULL << 20},
    };
    for (const auto& request : requests)
    {
        CAPTURE(encode(request));
        const auto decoded = decode_late_binding_request(encode(request));
        REQUIRE(decoded.ok());
        CHECK(*decoded == request);
    }
    CHECK(to_json(requests[2]) == json{{"workdir", "/srv/work/alice"},
                                       {"owner_uid", 200007},
                                       {"owner_gid", 200007},
                                       {"memory", 2ULL << 30}});
}

TEST_CASE("late-binding request: what people and Python clients send")
{
    const auto sized = decode_late_binding_request(R"({"memory": "1G", "workdir": null})");
    REQUIRE(sized.ok());
    CHECK(sized->memory_bytes == 1ULL << 30);
    CHECK(sized->workdir.empty());
    const auto owned = decode_late_binding_request(R"({"workdir": "/w", "owner_uid": 200007})");
    REQUIRE(owned.ok());
    CHECK(owned->owner == workdir_owner{200007, 200007}); // the gid defaults to the uid
    // A zygote's "go" carries the same fields beside its own.
    const auto go = late_binding_request_from_json(
        {{"op", "go"}, {"pid", 9}, {"id", 3}, {"workdir", "/w"}, {"memory", 2048}, {"uid", 1}});
    REQUIRE(go.ok());
    CHECK(*go == late_binding_request{"/w", std::nullopt, 2048});
}

TEST_CASE("late-binding request: malformed requests are refused with a reason")
{
    refusals<std::string> cases = not_objects();
    cases.insert(
        cases.end(),
        {
            {R"({"workdir": "relative"})", "workdir must be an absolute host path"},
            {R"({"workdir": ""})", "workdir must be an absolute host path"},
            {R"({"workdir": 5})", "workdir must be an absolute host path"},
            {R"({"memory": []})", "memory must be a byte count"},
            {R"({"memory": "lots"})", "size"},
            {R"({"memory": 1.5})", "memory must be a byte count"},
            {R"({"workdir": "/w", "owner_uid": 5})", ">= 1000"},
            {R"({"workdir": "/w", "owner_uid": 0})", ">= 1000"},
            {R"({"workdir": "/w", "owner_uid": 200007, "owner_gid": 0})", ">= 1000"},
            {R"({"workdir": "/w", "owner_uid": -5})", "owner_uid must be a uid/gid number"},
            {R"({"workdir": "/w", "owner_uid": "200007"})", "owner_uid must be a uid/gid number"},
            {R"({"workdir": "/w", "owner_gid": 200007})", "owner_gid needs owner_uid"},
            {R"({"owner_uid": 200007})", "owner_uid needs a workdir"},
        });
    check_refusals(cases,
                   [](const std::string& text) { return decode_late_binding_request(text); });
}

TEST_CASE("late-binding answer: encode then decode, with the errno of a failed call")
{
    const std::system_error failed(EACCES, std::generic_category(), "open workdir /srv/x");
    const std::vector<late_binding_answer> answers = {
        {true, "", std::nullopt},
        late_binding_answer::failure(std::runtime_error("this session has no memory cgroup")),
        late_binding_answer::failure(failed),
    };
    for (const auto& answer : answers)
    {
        CAPTURE(encode(answer));
        const auto decoded = decode_late_binding_answer(encode(answer));
        REQUIRE(decoded.ok());
        CHECK(*decoded == answer);
    }
    CHECK(encode(answers[0]) == R"({"ok":true})");
    CHECK_FALSE(answers[1].system_error);
    REQUIRE(answers[2].system_error);
    CHECK(*answers[2].system_error == system_error{"open workdir /srv/x", EACCES});
    CHECK(answers[2].error == failed.what());
    CHECK(answers[2].system_error->message() == failed.what());
}

TEST_CASE("late-binding answer: malformed answers are refused with a reason")
{
    refusals<std::string> cases = not_objects();
    cases.insert(cases.end(),
                 {
                     {"{}", "needs \"ok\""},
                     {R"({"ok": "yes"})", "ok must be true or false"},
                     {R"({"ok": false, "error": 5})", "error must be a string"},
                     {R"({"ok": false, "system_error": {"call": "x"}})", "system_error: errno"},
                     {R"({"ok": false, "system_error": {"call": "x", "errno": 1e9}})",
                      "system_error: errno"},
                     {R"({"ok": false, "system_error": {"errno": 2}})", "system_error: call"},
                 });
    check_refusals(cases, [](const std::string& text) { return decode_late_binding_answer(text); });
}

TEST_CASE("system errors: the call and errno of a std::system_error, nothing of others")
{
    const auto error = system_error_of(
        std::system_error(ENOENT, std::generic_category(), "open program /nonexistent"));
    REQUIRE(error);
    CHECK(error->call == "open program /nonexistent");
    CHECK(error->number == ENOENT);
    CHECK(system_error_from_json(to_json(*error)).value() == *error);
    CHECK_FALSE(system_error_of(std::invalid_argument("no program to run")));
    CHECK_FALSE(
        system_error_of(std::system_error(std::make_error_code(std::future_errc::no_state))));
}
