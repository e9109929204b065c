// Host-wide uid blocks: two gateways never get the same sandbox uids, a work dir keeps the
// block its users' uids are in, and a gateway whose block is taken says by whom.
#include "backends/uid_block.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using cellbox::gateway::uid_block;
namespace fs = std::filesystem;

namespace
{

struct scratch
{
    scratch()
    {
        char name[] = "/tmp/cellbox-uid-block-XXXXXX";
        REQUIRE(mkdtemp(name) != nullptr);
        root = name;
        locks = root + "/locks";
    }
    ~scratch() { fs::remove_all(root); }

    // A work dir with a users.json (whose content the blocks never read: uids are passed).
    std::string work_dir(const std::string& name, bool with_users)
    {
        const std::string dir = root + "/" + name;
        fs::create_directories(dir);
        if (with_users)
        {
            std::ofstream(dir + "/users.json") << "{}\n";
        }
        return dir;
    }

    std::string root;
    std::string locks;
};

} // namespace

TEST_CASE("gateways with new work dirs get disjoint blocks, a stopped one's block is free again")
{
    scratch s;
    auto a = uid_block::claim(200000, {}, s.work_dir("a", false), s.locks);
    auto b = uid_block::claim(200000, {}, s.work_dir("b", false), s.locks);
    CHECK(a.first_user_uid() == 200000);
    CHECK(b.first_user_uid() == 200000 + uid_block::span);
    CHECK(a.next_session_uid() == 300000);
    CHECK(b.next_session_uid() == 500000);
    {
        auto moved = std::move(a); // the lock goes with it, and away with it
    }
    auto c = uid_block::claim(200000, {}, s.work_dir("c", false), s.locks);
    CHECK(c.first_user_uid() == 200000);
}

TEST_CASE("a work dir stays in its users' block and is refused while another gateway holds it")
{
    scratch s;
    const std::string a_dir = s.work_dir("a", true);
    {
        auto other = uid_block::claim(200000, {}, s.work_dir("x", false), s.locks); // slot 0
        auto a = uid_block::claim(200000, {}, a_dir, s.locks);                      // slot 1
        REQUIRE(a.first_user_uid() == 400000);
    }
    // Restarted with its users (uids 400000, 400001): the same block, even with slot 0 free.
    auto a = uid_block::claim(200000, {400000, 400001}, a_dir, s.locks);
    CHECK(a.first_user_uid() == 400000);
    // A second gateway on the same work dir (or any work dir with users there) is refused.
    try
    {
        uid_block::claim(200000, {400005}, s.work_dir("twin", true), s.locks);
        FAIL("claimed a block another gateway holds");
    }
    catch (const uid_block::unavailable& e)
    {
        const std::string message = e.what();
        CHECK(message.find("pid " + std::to_string(getpid())) != std::string::npos);
        CHECK(message.find(a_dir) != std::string::npos);
    }
}

TEST_CASE("a new work dir avoids blocks that other work dirs' users live in")
{
    scratch s;
    {
        auto a = uid_block::claim(200000, {}, s.work_dir("a", true), s.locks); // slot 0, users
    }
    auto b = uid_block::claim(200000, {}, s.work_dir("b", false), s.locks);
    CHECK(b.first_user_uid() == 400000);
    fs::remove_all(s.root + "/a"); // gone: its block is anyone's
    auto c = uid_block::claim(200000, {}, s.work_dir("c", false), s.locks);
    CHECK(c.first_user_uid() == 200000);
}

TEST_CASE("session uids cycle inside the block, apart from users'")
{
    scratch s;
    auto a = uid_block::claim(200000, {}, s.work_dir("a", false), s.locks);
    const std::uint32_t first = a.next_session_uid();
    for (std::uint32_t i = 1; i < uid_block::session_uids; ++i)
    {
        const std::uint32_t uid = a.next_session_uid();
        REQUIRE(uid >= 200000 + uid_block::user_uids);
        REQUIRE(uid < 200000 + uid_block::span);
    }
    CHECK(a.next_session_uid() == first);
}
