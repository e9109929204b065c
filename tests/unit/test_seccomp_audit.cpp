#include "seccomp_audit.hpp"

#include <catch2/catch.hpp>

using cellbox::sandbox::parse_seccomp_record;

TEST_CASE("seccomp audit records name the call that was killed")
{
    const std::string x86_64 =
        "5,1234,5678,-;audit: type=1326 audit(1795357937.095:108): auid=4294967295 uid=100034 "
        "gid=100034 ses=4294967295 pid=24897 comm=\"python3\" exe=\"/usr/bin/python3.11\" sig=31 "
        "arch=c000003e syscall=101 compat=0 ip=0x7fcd2aba5007 code=0x80000000";
    CHECK(parse_seccomp_record(x86_64, 100034) == std::optional<std::string>("ptrace"));
    CHECK_FALSE(parse_seccomp_record(x86_64, 100035)); // another session's kill

    const std::string x32 = "audit: type=1326 audit(1.0:1): uid=7 arch=c000003e "
                            "syscall=1073741863 compat=0";
    CHECK(parse_seccomp_record(x32, 7) == std::optional<std::string>("getpid (x32 ABI)"));
    const std::string i386 =
        "audit: type=1326 audit(1.0:2): uid=7 arch=40000003 syscall=20 compat=1";
    CHECK(parse_seccomp_record(i386, 7) == std::optional<std::string>("getpid (i386, int 0x80)"));

    CHECK_FALSE(parse_seccomp_record("audit: type=1400 apparmor uid=7 syscall=1", 7));
    CHECK_FALSE(parse_seccomp_record("audit: type=1326 uid=7 arch=zz syscall=1", 7));
    CHECK_FALSE(parse_seccomp_record("audit: type=1326 uid=7", 7));
}
