// What the gateway gives the processes it starts: an explicit environment, stdio of their own,
// and how their output is cut, bounded and cleaned before it is logged; where the admin token
// is read from and shown.
#include "app/admin_token.hpp"
#include "app/config.hpp"
#include "backends/child_process.hpp"
#include "backends/output_lines.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace cellbox::gateway;
using std::chrono::milliseconds;

namespace
{

output_lines::limits small_limits()
{
    return {8, 3, 1, 64, milliseconds(1000)};
}

std::string read_all(int fd)
{
    std::string text;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = read(fd, buffer, sizeof buffer)) > 0)
    {
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

std::string temporary_file(const std::string& text, mode_t mode)
{
    char path[] = "/tmp/cellbox-token-test-XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    fchmod(fd, mode);
    close(fd);
    return path;
}

} // namespace

TEST_CASE("output is cut into lines; an unterminated rest waits for the next read or the end")
{
    output_lines lines(small_limits());
    const auto now = output_lines::clock::now();
    auto out = lines.feed("ab\ncd", now);
    REQUIRE(out.size() == 1);
    CHECK(out[0].text == "ab");
    out = lines.feed("e\r\n", now);
    REQUIRE(out.size() == 1);
    CHECK(out[0].text == "cde"); // CRLF ends a line like LF
    CHECK(lines.feed("tail", now).empty());
    const auto last = lines.finish(now);
    REQUIRE(last);
    CHECK(last->text == "tail");
    CHECK_FALSE(lines.finish(now));
}

TEST_CASE("a line longer than the limit is cut and the dropped bytes counted")
{
    output_lines lines(small_limits());
    const auto now = output_lines::clock::now();
    auto out = lines.feed("0123456789", now);
    CHECK(out.empty());
    out = lines.feed("abc\nnext\n", now);
    REQUIRE(out.size() == 2);
    CHECK(out[0].text == "01234567");
    CHECK(out[0].cut_bytes == 5);
    CHECK(out[1].text == "next");
    CHECK(out[1].cut_bytes == 0);
}

TEST_CASE("lines past the burst and the rate are counted as suppressed")
{
    output_lines lines(small_limits());
    const auto start = output_lines::clock::now();
    CHECK(lines.feed("1\n2\n3\n4\n5\n", start).size() == 3); // the burst
    CHECK(lines.suppressed() == 2);
    CHECK(lines.take_suppressed() == 2);
    CHECK(lines.take_suppressed() == 0);
    CHECK(lines.feed("6\n", start + milliseconds(500)).empty()); // half a line earned
    CHECK(lines.take_suppressed() == 1);
    const auto next = lines.feed("7\n8\n", start + milliseconds(1600));
    REQUIRE(next.size() == 1); // one a second
    CHECK(next[0].text == "7");
    CHECK(lines.take_suppressed() == 1);
    CHECK(lines.feed("9\n", start + milliseconds(60000)).size() == 1);
    CHECK(lines.feed("a\nb\nc\nd\n", start + milliseconds(60000)).size() ==
          2); // refilled to the burst
}

TEST_CASE("past the byte budget the reader waits for the window's end")
{
    output_lines lines(small_limits());
    const auto start = output_lines::clock::now();
    lines.feed(std::string(63, 'x'), start);
    CHECK_FALSE(lines.over_byte_budget(start));
    lines.feed("x", start);
    CHECK(lines.over_byte_budget(start));
    CHECK_FALSE(lines.over_byte_budget(lines.window_end()));
}

TEST_CASE("invalid UTF-8 and characters that disguise a log line become U+FFFD")
{
    const std::string fffd = "\xEF\xBF\xBD";
    CHECK(output_lines::printable("plain é ✓ 😀") == "plain é ✓ 😀");
    CHECK(output_lines::printable("a\xFF"
                                  "b") == "a" + fffd + "b");
    CHECK(output_lines::printable("\xC0\xAF") == fffd + fffd);            // overlong '/'
    CHECK(output_lines::printable("\xED\xA0\x80") == fffd + fffd + fffd); // a surrogate
    CHECK(output_lines::printable("cut \xE2\x9C") == "cut " + fffd + fffd);
    CHECK(output_lines::printable("\xC2\x9B"
                                  "2J") == fffd + "2J"); // C1 CSI
    CHECK(output_lines::printable("\xE2\x80\xAE"
                                  "txt") == fffd + "txt"); // RIGHT-TO-LEFT OVERRIDE
    CHECK(output_lines::printable("a\xE2\x80\xA8"
                                  "b") == "a" + fffd + "b"); // LINE SEPARATOR
    // C0 controls stay: the log escapes them (\x1b, \r, \t) in both formats.
    CHECK(output_lines::printable("\x1b[2J\t") == "\x1b[2J\t");
}

TEST_CASE("children get an allow-listed environment, never the gateway's secrets")
{
    const char* gateway_environment[] = {"CELLBOX_TOKEN=secret",
                                         "CELLBOX_JWT_SECRET=also",
                                         "AWS_SECRET_ACCESS_KEY=key",
                                         "LD_PRELOAD=/tmp/evil.so",
                                         "PATH=/opt/bin:/usr/bin",
                                         "LANG=C.UTF-8",
                                         "LC_ALL=C",
                                         "TZ=UTC",
                                         "ASAN_OPTIONS=detect_leaks=0",
                                         "HOME=/root",
                                         "NOVALUE",
                                         nullptr};
    CHECK(child_environment(gateway_environment) ==
          std::vector<std::string>{"PATH=/opt/bin:/usr/bin", "LANG=C.UTF-8", "LC_ALL=C", "TZ=UTC",
                                   "ASAN_OPTIONS=detect_leaks=0"});
    const char* without_path[] = {"CELLBOX_TOKEN=secret", nullptr};
    CHECK(child_environment(without_path) ==
          std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin"});
}

TEST_CASE("a spawned child has its own output, /dev/null as stdin and the explicit environment")
{
    setenv("CELLBOX_TOKEN", "unit-test-secret", 1);
    int fds[2];
    REQUIRE(pipe2(fds, O_CLOEXEC) == 0);
    const pid_t pid = spawn_in_own_session(
        {"/bin/sh", "-c",
         "echo out; echo err >&2; env; readlink /proc/self/fd/0; ls /proc/self/fd | wc -l"},
        "a test child", {fds[1], -1});
    close(fds[1]);
    const std::string output = read_all(fds[0]);
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    unsetenv("CELLBOX_TOKEN");
    CHECK(WIFEXITED(status));
    CHECK(output.find("out\nerr\n") == 0);
    CHECK(output.find("unit-test-secret") == std::string::npos);
    CHECK(output.find("CELLBOX_TOKEN") == std::string::npos);
    CHECK(output.find("PATH=") != std::string::npos);
    CHECK(output.find("/dev/null\n") != std::string::npos);
    // 0, 1, 2 and ls's own directory: none of the test's descriptors followed.
    CHECK(output.substr(output.size() - 2) == "4\n");
}

TEST_CASE("the URL line carries the token on a terminal only, and says where it is otherwise")
{
    const std::string url = "http://127.0.0.1:8888/";
    CHECK(startup_line(url, "t0k", token_origin::given, "", true) ==
          "cellbox serve: Jupyter kernels API on http://127.0.0.1:8888/?token=t0k");
    const std::string given = startup_line(url, "t0k", token_origin::given, "", false);
    CHECK(given.find("t0k") == std::string::npos);
    CHECK(given.find("--token") != std::string::npos);
    CHECK(startup_line(url, "t0k", token_origin::file, "/etc/cellbox/token", false) ==
          "cellbox serve: Jupyter kernels API on http://127.0.0.1:8888/ (admin token: in "
          "/etc/cellbox/token)");
    CHECK(startup_line(url, "", token_origin::none, "", false) ==
          "cellbox serve: Jupyter kernels API on http://127.0.0.1:8888/");
}

TEST_CASE("the admin token is read from the first line of a token file")
{
    const std::string good = temporary_file("  s3cret \nsecond line\n", 0600);
    CHECK(read_token_file(good) == "s3cret");
    const std::string empty = temporary_file("\n", 0600);
    CHECK_THROWS_AS(read_token_file(empty), config_error);
    CHECK_THROWS_AS(read_token_file("/nonexistent/token"), config_error);
    CHECK_THROWS_AS(read_token_file("/tmp"), config_error);

    serve_settings settings;
    settings.manager.runtime_dir = "/tmp/r";
    settings.token_file = good;
    finish_settings(settings);
    CHECK(settings.server.token == "s3cret");
    CHECK(settings.token_from == token_origin::file);
    serve_settings both;
    both.manager.runtime_dir = "/tmp/r";
    both.token_file = good;
    both.server.token = "other";
    CHECK_THROWS_WITH(finish_settings(both), Catch::Contains("not both"));
    unlink(good.c_str());
    unlink(empty.c_str());
}
