#pragma once
// Running a system tool to completion (e2fsprogs' mkfs.ext4, e2fsck, resize2fs) from the
// gateway: found in the system directories only, with an environment built here (nothing of
// the gateway's, its token included, reaches it), none of the gateway's descriptors, and its
// output captured for the log.
#include <string>
#include <vector>

namespace cellbox::gateway
{

struct program_result
{
    int exit_code = -1; // -1: killed by a signal (or could not start)
    std::string output; // stdout and stderr, the last few KiB
    bool ok() const { return exit_code == 0; }
};

// The absolute path of `name` in /usr/sbin, /sbin, /usr/bin or /bin, or "" if none has it.
std::string find_system_program(const std::string& name);

// Runs argv (argv[0]: a name find_system_program finds) and waits for it. Blocks the caller:
// for short tools only. Throws std::runtime_error when the program is missing or cannot start.
program_result run_program(const std::vector<std::string>& argv);

} // namespace cellbox::gateway
