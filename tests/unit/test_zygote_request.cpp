// A zygote spawn request (its decoding is tested in test_contract_zygote.cpp) made into the
// session the zygote forks: the zygote's policy and defaults, with what the request gives.
#include "cellbox/kernel/zygote_request.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace cellbox::kernel;
namespace contract = cellbox::contract;

namespace
{

contract::zygote_spawn kernel_spawn()
{
    contract::zygote_spawn spawn;
    spawn.ipc_dir = "/run/k";
    spawn.connection_file = "/run/k/connection.json";
    return spawn;
}

} // namespace

TEST_CASE("a spawn request runs under the zygote's policy, with the limits it gives")
{
    cellbox::sandbox::policy rules;
    rules.limits.memory_bytes = 1ULL << 30;
    rules.limits.pids = 256;
    rules.limits.cpus = 1;
    rules.environment["LANG"] = "C.UTF-8";
    kernel_options defaults;
    defaults.cell_timeout_s = 30;
    defaults.memory_limit_bytes = 900ULL << 20;

    const spawn_request plain = session_of(kernel_spawn(), rules, defaults, 100001);
    CHECK(plain.sandbox.uid == 100001U);
    CHECK(plain.sandbox.ipc_dir == "/run/k");
    CHECK(plain.connection_file == "/run/k/connection.json");
    CHECK(plain.sandbox.rules.limits.memory_bytes == 1ULL << 30);
    CHECK(plain.sandbox.rules.limits.pids == 256U);
    CHECK(plain.sandbox.rules.environment.at("LANG") == "C.UTF-8");
    CHECK_FALSE(plain.script);
    CHECK(plain.kernel.cell_timeout_s == 30);
    CHECK(plain.kernel.memory_limit_bytes == 900ULL << 20);
    CHECK(plain.kernel.enter_workdir_at_first_cell);

    contract::zygote_spawn asked = kernel_spawn();
    asked.workdir = "/srv/work/alice";
    asked.owner = contract::workdir_owner{200007, 200007};
    asked.verdict_file = "/run/k/verdict.json";
    asked.log_file = "/run/k/output";
    asked.limits.memory_bytes = 2ULL << 30;
    asked.limits.wall_time_s = 60;
    asked.cell_timeout_s = 5;
    const spawn_request bound = session_of(asked, rules, defaults, 100002);
    CHECK(bound.sandbox.workdir == "/srv/work/alice");
    REQUIRE(bound.sandbox.owner);
    CHECK(bound.sandbox.owner->uid == 200007U);
    CHECK(bound.verdict_file == "/run/k/verdict.json");
    CHECK(bound.log_file == "/run/k/output");
    CHECK(bound.sandbox.rules.limits.memory_bytes == 2ULL << 30);
    CHECK(bound.sandbox.rules.limits.wall_time_s == 60);
    CHECK(bound.sandbox.rules.limits.pids == 256U); // not asked: the policy's
    CHECK(bound.kernel.cell_timeout_s == 5);
}

TEST_CASE("a program session runs its script instead of a kernel")
{
    contract::zygote_spawn spawn;
    spawn.script = contract::zygote_script{"print(1)", {"a", "b"}};
    const spawn_request program =
        session_of(spawn, cellbox::sandbox::policy{}, kernel_options{}, 100003);
    CHECK(program.script == "print(1)");
    CHECK(program.script_argv == std::vector<std::string>{"a", "b"});
    CHECK(program.connection_file.empty());
}
