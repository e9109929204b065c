#include "cellbox/kernel/fd_capture.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unistd.h>

using namespace cellbox::kernel;

TEST_CASE("writes to descriptors 1 and 2, also by child processes, reach the sink")
{
    std::mutex mutex;
    std::string out, err;
    {
        fd_capture capture(
            [&](const std::string& stream, const std::string& text)
            {
                std::lock_guard<std::mutex> lock(mutex);
                (stream == "stdout" ? out : err) += text;
                return true;
            });
        REQUIRE(write(1, "direct\n", 7) == 7);
        REQUIRE(write(2, "problem\n", 8) == 8);
        REQUIRE(std::system("echo from-child; echo child-err 1>&2") == 0);
        REQUIRE(write(1, "split \xE2\x82", 8) == 8); // a character cut in two writes
        capture.drain();
        REQUIRE(write(1, "\xAC\n", 2) == 2);
        capture.drain();
    }
    CHECK(out == "direct\nfrom-child\nsplit \xE2\x82\xAC\n");
    CHECK(err == "problem\nchild-err\n");
}

TEST_CASE("invalid UTF-8 is replaced, not dropped")
{
    std::string out;
    std::mutex mutex;
    {
        fd_capture capture(
            [&](const std::string& stream, const std::string& text)
            {
                std::lock_guard<std::mutex> lock(mutex);
                if (stream == "stdout")
                {
                    out += text;
                }
                return true;
            });
        REQUIRE(write(1,
                      "a\xFF"
                      "b\n",
                      4) == 4);
        capture.drain();
    }
    CHECK(out == "a\xEF\xBF\xBD"
                 "b\n");
}
