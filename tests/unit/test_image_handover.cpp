// The image handover: a kernel's image passed as a read-only descriptor over a Unix socket in
// its exchange directory, to the exchange directory's owner only, once.
#include "cellbox/sandbox/handover.hpp"
#include "kernels/image_handover.hpp"
#include "scratch_dir.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using cellbox::unique_fd;
using cellbox::gateway::image_handover;

namespace
{

struct exchange_dir
{
    exchange_dir() { std::filesystem::create_directory(path); }
    scratch_dir parent{"cellbox-handover"};
    std::string path = parent.file("ipc");
};

unique_fd image_file(const std::string& directory, const std::string& content)
{
    const std::string path = directory + "/image";
    unique_fd out(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    REQUIRE(write(out.get(), content.data(), content.size()) ==
            static_cast<ssize_t>(content.size()));
    return unique_fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
}

// Connects as this process's uid and returns the descriptor received (empty if none).
unique_fd take(const std::string& socket_path)
{
    unique_fd link(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socket_path.copy(address.sun_path, sizeof(address.sun_path) - 1);
    if (connect(link.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
    {
        return {};
    }
    // The sandbox library already reads records that carry a descriptor (SCM_RIGHTS).
    std::string byte;
    unique_fd received;
    if (!cellbox::sandbox::receive_record(link.get(), byte, &received) || byte.size() != 1)
    {
        return {};
    }
    return received;
}

// Runs the io_context until `client` (on its own thread) finished.
unique_fd take_while_serving(boost::asio::io_context& io, const std::string& socket_path)
{
    unique_fd received;
    bool done = false;
    // Without work the io_context stops as soon as the handover has nothing more to wait for,
    // and a stopped io_context runs nothing more, not even the client's `done`: it would spin.
    auto keep_running = boost::asio::make_work_guard(io);
    std::thread client(
        [&]
        {
            received = take(socket_path);
            boost::asio::post(io,
                              [&]
                              {
                                  done = true;
                                  keep_running.reset();
                              });
        });
    while (!done)
    {
        io.run_one_for(std::chrono::seconds(5));
    }
    client.join();
    io.restart();
    return received;
}

} // namespace

TEST_CASE("the exchange directory's owner receives the image read-only, once", "[image_handover]")
{
    exchange_dir dir;
    boost::asio::io_context io;
    auto handover = image_handover::offer(io, image_file(dir.parent.path, "IMAGE-BYTES"), dir.path,
                                          getuid(), getgid());
    const std::string socket_path = dir.path + "/image.sock";
    REQUIRE(std::filesystem::exists(socket_path));
    const unique_fd image = take_while_serving(io, socket_path);
    REQUIRE(image);
    CHECK(handover->handed_over());
    CHECK((fcntl(image.get(), F_GETFL) & O_ACCMODE) == O_RDONLY);
    char text[16] = {};
    CHECK(pread(image.get(), text, sizeof(text), 0) == 11);
    CHECK(std::string(text) == "IMAGE-BYTES");
    CHECK(write(image.get(), "x", 1) < 0);
    // Used once: the name is gone, nothing more to ask for.
    CHECK_FALSE(std::filesystem::exists(socket_path));
}

TEST_CASE("another uid gets no image, and the socket goes with the handover", "[image_handover]")
{
    if (geteuid() != 0)
    {
        WARN("skipped: offering the socket to another uid needs root (chown)");
        return;
    }
    exchange_dir dir;
    boost::asio::io_context io;
    const uid_t someone_else = 65534;
    auto handover = image_handover::offer(io, image_file(dir.parent.path, "SECRET"), dir.path,
                                          someone_else, someone_else);
    const std::string socket_path = dir.path + "/image.sock";
    // Root may connect despite the socket's owner and mode: the peer's uid is what is checked.
    CHECK_FALSE(take_while_serving(io, socket_path));
    CHECK_FALSE(handover->handed_over());
    CHECK(std::filesystem::exists(socket_path));
    handover.reset();
    CHECK_FALSE(std::filesystem::exists(socket_path));
}

TEST_CASE("an exchange directory that is not there is refused with its name", "[image_handover]")
{
    exchange_dir dir;
    boost::asio::io_context io;
    CHECK_THROWS_WITH(image_handover::offer(io, image_file(dir.parent.path, "x"),
                                            dir.path + "/gone", getuid(), getgid()),
                      Catch::Contains("gone/image.sock"));
}
