// cellbox-sandbox's command line: the gateway's builder (to_argv) and the sandbox's reader
// (the CLI11 options of sandbox_cli.hpp) agree on every option.
#include "cellbox/contract/sandbox_invocation.hpp"
#include "contract_refusals.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellbox::contract;

namespace
{

bool has_pair(const std::vector<std::string>& argv, const std::string& option,
              const std::string& value)
{
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
    {
        if (argv[i] == option && argv[i + 1] == value)
        {
            return true;
        }
    }
    return false;
}

} // namespace

TEST_CASE("sandbox invocation: to_argv then parse gives back the same invocation")
{
    sandbox_invocation everything;
    everything.program = "/opt/cellbox/bin/cellbox-sandbox";
    everything.policy_file = CELLBOX_DEFAULT_POLICY; // the options that name files check them
    everything.limits = {1ULL << 30, 128, 0.5, 12.25, 3600};
    everything.workdir = "/tmp";
    everything.ipc_dir = "/";
    everything.uid = 100007;
    everything.verdict_file = "/run/kernel-1/verdict.json";
    everything.allow_degraded = true;
    everything.late_binding_fd = 3;
    everything.environment = {{"CELLBOX_MEMORY_LIMIT", "939524096"},
                              {"KERNEL_X", "a=b c"},
                              {"KERNEL_X", ""},
                              {"_", "-x"}};
    everything.command = {"/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{c}", "--", ""};

    sandbox_invocation by_descriptor;
    by_descriptor.verdict_fd = 5;
    by_descriptor.command = {"/bin/true"};

    sandbox_invocation check;
    check.check = true;

    for (const auto& invocation : {everything, by_descriptor, check, sandbox_invocation{}})
    {
        const std::vector<std::string> argv = invocation.to_argv();
        CAPTURE(argv);
        const auto parsed = parse_sandbox_invocation(argv);
        REQUIRE(parsed.ok());
        CHECK(*parsed == invocation);
    }
}

TEST_CASE("sandbox invocation: the command line the gateway gives")
{
    sandbox_invocation launch;
    launch.program = "cellbox-sandbox";
    launch.ipc_dir = "/run/k/ipc";
    launch.uid = 100001;
    launch.limits.memory_bytes = 1ULL << 30;
    launch.late_binding_fd = 3;
    launch.environment = {{"KERNEL_USERNAME", "alice"}};
    launch.command = {"cellbox-kernel", "-f", "/run/k/ipc/kernel.json"};
    const std::vector<std::string> argv = launch.to_argv();
    CHECK(argv.front() == "cellbox-sandbox");
    CHECK(has_pair(argv, "--ipc-dir", "/run/k/ipc"));
    CHECK(has_pair(argv, "--uid", "100001"));
    CHECK(has_pair(argv, "--memory", "1073741824"));
    CHECK(has_pair(argv, "--late-binding-fd", "3"));
    CHECK(has_pair(argv, "--setenv", "KERNEL_USERNAME=alice"));
    CHECK(std::count(argv.begin(), argv.end(), "--workdir") == 0); // not given, not written
    CHECK(std::count(argv.begin(), argv.end(), "--allow-degraded") == 0);
    const auto dashes = std::find(argv.begin(), argv.end(), "--");
    REQUIRE(dashes != argv.end());
    CHECK(std::vector<std::string>(dashes + 1, argv.end()) == launch.command);
}

TEST_CASE("sandbox invocation: what a person types")
{
    const auto sized = parse_sandbox_invocation(
        {"cellbox-sandbox", "--memory", "512M", "--cpus", "0.5", "--", "/bin/echo", "--memory"});
    REQUIRE(sized.ok());
    CHECK(sized->limits.memory_bytes == 512ULL << 20);
    CHECK(sized->limits.cpus == 0.5);
    CHECK(sized->command == std::vector<std::string>{"/bin/echo", "--memory"});
    const refusals<std::vector<std::string>> refused = {
        {{"cellbox-sandbox", "--memory", "lots", "--", "/bin/true"}, "size"},
        {{"cellbox-sandbox", "--setenv", "1X=y", "--", "/bin/true"}, "--setenv expects NAME=VALUE"},
        {{"cellbox-sandbox", "--setenv", "NOVALUE", "--", "/bin/true"}, "NAME=VALUE"},
        {{"cellbox-sandbox", "--verdict-fd", "3", "--verdict-file", "/tmp/v", "--", "/bin/true"},
         "excludes"},
        {{"cellbox-sandbox", "--pids", "0", "--", "/bin/true"}, "--pids"},
        {{"cellbox-sandbox", "--late-binding-fd", "-1", "--", "/bin/true"}, "--late-binding-fd"},
        {{"cellbox-sandbox", "--workdir", "/nonexistent-cellbox-dir", "--", "/bin/true"},
         "--workdir"},
        {{"cellbox-sandbox", "--uid", "root", "--", "/bin/true"}, "--uid"},
        {{"cellbox-sandbox", "--frobnicate"}, "frobnicate"},
        {{}, "starts with the program"},
    };
    check_refusals(refused, [](const std::vector<std::string>& argv)
                   { return parse_sandbox_invocation(argv); });
}
