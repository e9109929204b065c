// The backend seam's bookkeeping (backends/kernel_backend.hpp), with a backend whose processes
// are real children of the test: an exit is reported once, under the kernel and the process
// serial it was handed out with, carrying the verdict its sandbox left; an abandoned process is
// killed, its directory removed, and its exit never reported.
#include "backends/kernel_backend.hpp"
#include "protocol/connection_info.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace cellbox;
using namespace cellbox::gateway;

namespace
{

// Launches `sleep` as the "kernel", in a directory of its own.
class child_backend final : public kernel_backend
{
public:
    explicit child_backend(std::filesystem::path root) : m_root(std::move(root)) {}
    pid_t last_pid = -1;

private:
    const char* name_impl() const override { return "test children"; }
    bool serves_impl(const launch_spec& spec) const override { return spec.kernelspec == "kids"; }
    void launch_impl(const launch_spec& spec, launch_handler done) override
    {
        process_place place;
        place.directory = (m_root / spec.kernel_id).string();
        std::filesystem::create_directories(place.directory);
        place.pid = fork();
        if (place.pid == 0)
        {
            execl("/bin/sleep", "sleep", "30", static_cast<char*>(nullptr));
            _exit(127);
        }
        const pid_t pid = place.pid;
        last_pid = pid;
        done(hand_out(std::make_unique<kernel_process>(std::move(place), nullptr), pid,
                      spec.kernel_id),
             "");
    }

    std::filesystem::path m_root;
};

// Waits for the child `pid` to end.
pid_t reap(pid_t pid)
{
    int status = 0;
    return waitpid(pid, &status, 0);
}

} // namespace

TEST_CASE("a backend reports each exit of a process it handed out once, with its verdict")
{
    const auto root = std::filesystem::temp_directory_path() /
                      ("cellbox-backend-test-" + std::to_string(getpid()));
    child_backend backend(root);
    std::vector<process_exit> exits;
    backend.on_exit([&](const process_exit& exit) { exits.push_back(exit); });

    REQUIRE_FALSE(backend.serves({"k1", "other", {}, "", 0, 0, {}}));
    REQUIRE(backend.serves({"k1", "kids", {}, "", 0, 0, {}}));

    std::unique_ptr<kernel_process> process;
    backend.launch({"k1", "kids", {}, "", 0, 0, {}},
                   [&](std::unique_ptr<kernel_process> p, const std::string& error)
                   {
                       REQUIRE(error.empty());
                       process = std::move(p);
                   });
    REQUIRE(process != nullptr);

    contract::verdict oom;
    oom.kind = "oom";
    oom.signal = SIGKILL;
    contract::write_verdict_file(verdict_file_of(process->directory()), oom);

    process->kill();
    const pid_t pid = reap(backend.last_pid);
    REQUIRE(pid > 0);
    CHECK_FALSE(backend.on_child_exit(pid + 100000)); // not one of its processes
    REQUIRE(backend.on_child_exit(pid));
    REQUIRE(exits.size() == 1);
    CHECK(exits[0].kernel_id == "k1");
    CHECK(exits[0].serial == process->serial());
    REQUIRE(exits[0].verdict);
    CHECK(exits[0].verdict->kind == "oom");
    CHECK_FALSE(backend.on_child_exit(pid)); // reported once
    CHECK(exits.size() == 1);

    SECTION("an abandoned process is killed, its directory removed, its exit not reported")
    {
        std::unique_ptr<kernel_process> second;
        backend.launch({"k2", "kids", {}, "", 0, 0, {}},
                       [&](std::unique_ptr<kernel_process> p, const std::string&)
                       { second = std::move(p); });
        REQUIRE(second != nullptr);
        CHECK(second->serial() != process->serial());
        const std::string directory = second->directory();
        backend.abandon(std::move(second));
        CHECK_FALSE(std::filesystem::exists(directory));
        const pid_t gone = reap(backend.last_pid);
        REQUIRE(gone > 0);
        CHECK_FALSE(backend.on_child_exit(gone));
        CHECK(exits.size() == 1);
    }
    std::filesystem::remove_all(root);
}
