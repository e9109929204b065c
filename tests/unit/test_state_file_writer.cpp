// The gateway's state files written off its event loop: the newest contents win, waiters
// run once what they wait for is on disk, nothing queued is lost at shutdown.
#include "kernels/state_file_writer.hpp"
#include "scratch_dir.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <sys/stat.h>
#include <thread>

using cellbox::gateway::state_file_writer;

namespace
{

std::string contents(const std::string& path)
{
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

} // namespace

TEST_CASE("a state file holds the newest contents queued for it, 0600", "[state_file_writer]")
{
    scratch_dir dir("cellbox-state-files");
    state_file_writer writer;
    for (int version = 0; version < 200; ++version)
    {
        writer.write(dir.file("kernels.json"), "v" + std::to_string(version));
    }
    writer.write(dir.file("sessions.json"), "[]");
    writer.flush();
    CHECK(contents(dir.file("kernels.json")) == "v199");
    CHECK(contents(dir.file("sessions.json")) == "[]");
    struct stat info
    {
    };
    REQUIRE(stat(dir.file("kernels.json").c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK_FALSE(std::filesystem::exists(dir.file("kernels.json.tmp")));
}

TEST_CASE("when_written runs once what was queued before it is on disk", "[state_file_writer]")
{
    scratch_dir dir("cellbox-state-files");
    state_file_writer writer;
    std::promise<std::string> seen;
    writer.write(dir.file("kernels.json"), std::string(1 << 20, 'x') + "end");
    writer.when_written([&] { seen.set_value(contents(dir.file("kernels.json"))); });
    auto future = seen.get_future();
    REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const std::string text = future.get();
    CHECK(text.size() == (1u << 20) + 3);
    CHECK(text.substr(text.size() - 3) == "end");
}

TEST_CASE("when_written with nothing outstanding runs at once, on the caller's thread",
          "[state_file_writer]")
{
    scratch_dir dir("cellbox-state-files");
    state_file_writer writer;
    writer.write(dir.file("a"), "1");
    writer.flush();
    std::thread::id ran_on;
    writer.when_written([&] { ran_on = std::this_thread::get_id(); });
    CHECK(ran_on == std::this_thread::get_id());
}

TEST_CASE("a write that fails leaves the others and the waiters going", "[state_file_writer]")
{
    scratch_dir dir("cellbox-state-files");
    state_file_writer writer;
    writer.write(dir.file("no-such-dir/kernels.json"), "lost");
    writer.write(dir.file("sessions.json"), "kept");
    std::promise<void> told;
    writer.when_written([&] { told.set_value(); });
    REQUIRE(told.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK_FALSE(std::filesystem::exists(dir.file("no-such-dir")));
    CHECK(contents(dir.file("sessions.json")) == "kept");
}

TEST_CASE("a writer going away writes what is queued first", "[state_file_writer]")
{
    scratch_dir dir("cellbox-state-files");
    {
        state_file_writer writer;
        for (int i = 0; i < 50; ++i)
        {
            writer.write(dir.file("f" + std::to_string(i % 5)), "last " + std::to_string(i));
        }
    }
    for (int i = 45; i < 50; ++i)
    {
        CHECK(contents(dir.file("f" + std::to_string(i % 5))) == "last " + std::to_string(i));
    }
}
