// The mount table reader the sandbox finds cgroup v1 hierarchies with.
#include "mount_table.hpp" // sandbox/src

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace cellbox::sandbox;

namespace
{

std::vector<std::string> entries_of(std::string_view table)
{
    std::vector<std::string> entries;
    for_each_mount_in(table,
                      [&entries](const mount_entry& m)
                      {
                          entries.push_back(std::string(m.device) + "|" + std::string(m.target) +
                                            "|" + std::string(m.type) + "|" +
                                            std::string(m.options));
                      });
    return entries;
}

} // namespace

TEST_CASE("each line of the mount table is an entry of its first four fields")
{
    const auto entries =
        entries_of("/dev/vda / ext4 rw,relatime 0 0\n"
                   "cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,memory 0 0\n"
                   "/dev/loop3 /srv/work/alice\\040smith ext4 rw,nosuid,nodev,discard 0 0\n"
                   "tmpfs /tmp tmpfs rw"); // the last line without its newline
    CHECK(entries == std::vector<std::string>{
                         "/dev/vda|/|ext4|rw,relatime",
                         "cgroup|/sys/fs/cgroup/memory|cgroup|rw,nosuid,memory",
                         "/dev/loop3|/srv/work/alice\\040smith|ext4|rw,nosuid,nodev,discard",
                         "tmpfs|/tmp|tmpfs|rw"});
}

TEST_CASE("blank and short lines of the mount table are no entries")
{
    CHECK(entries_of("").empty());
    CHECK(entries_of("\n\nproc /proc proc\n").empty());
    CHECK(entries_of("proc /proc proc rw\n\n") == std::vector<std::string>{"proc|/proc|proc|rw"});
}

TEST_CASE("this process's mount table has its root")
{
    bool root = false;
    for_each_mount([&root](const mount_entry& m) { root = root || m.target == "/"; });
    CHECK(root);
}
