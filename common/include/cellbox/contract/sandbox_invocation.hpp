#pragma once
// One launch of cellbox-sandbox, as a struct: the gateway builds one and turns it into a
// command line (to_argv), the sandbox's main reads its command line back into one
// (sandbox_cli.hpp binds the same option names to CLI11, with the help texts). A round trip,
// to_argv then parse_sandbox_invocation, gives back the same struct.
#include "cellbox/contract/decoded.hpp"
#include "cellbox/contract/launch_limits.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cellbox::contract
{

struct sandbox_invocation
{
    std::string program = "cellbox-sandbox"; // argv[0]
    bool check = false;      // --check: print which protections this machine can give
    std::string policy_file; // --policy ("": the built-in default.toml)
    // --memory (bytes, or K/M/G when parsed), --pids, --cpus, --cpu-time, --wall-time
    launch_limits limits;
    std::string workdir;              // --workdir: bound read-write at /work
    std::string ipc_dir;              // --ipc-dir: bound read-write at the same path
    std::optional<std::uint32_t> uid; // --uid: the program's uid/gid (as root)
    int verdict_fd = -1;              // --verdict-fd
    std::string verdict_file;         // --verdict-file
    bool allow_degraded = false;      // --allow-degraded
    int late_binding_fd = -1;         // --late-binding-fd (late_binding.hpp)
    // --setenv NAME=VALUE, in order (a later one for the same name wins).
    std::vector<std::pair<std::string, std::string>> environment;
    std::vector<std::string> command; // after --: the program and its arguments

    // The command line: argv[0] is `program`; options left at their defaults are not given.
    std::vector<std::string> to_argv() const;

    bool operator==(const sandbox_invocation& other) const;
    bool operator!=(const sandbox_invocation& other) const { return !(*this == other); }
};

// `argv` (argv[0] the program) read as cellbox-sandbox reads its command line, or why not.
decoded<sandbox_invocation> parse_sandbox_invocation(const std::vector<std::string>& argv);

} // namespace cellbox::contract
