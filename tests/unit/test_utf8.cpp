#include "cellbox/kernel/utf8.hpp"

#include <catch2/catch.hpp>

using cellbox::kernel::incomplete_utf8_tail;
using cellbox::kernel::sanitize_utf8;

TEST_CASE("complete text has no incomplete tail")
{
    CHECK(incomplete_utf8_tail("") == 0);
    CHECK(incomplete_utf8_tail("plain ascii\n") == 0);
    CHECK(incomplete_utf8_tail("caf\xC3\xA9") == 0);      // é
    CHECK(incomplete_utf8_tail("\xF0\x9F\x98\x80") == 0); // 😀
}

TEST_CASE("a multi-byte character cut by a read is held back")
{
    CHECK(incomplete_utf8_tail("caf\xC3") == 1);
    CHECK(incomplete_utf8_tail("x\xE2\x82") == 2);     // first two bytes of €
    CHECK(incomplete_utf8_tail("x\xF0\x9F\x98") == 3); // first three bytes of 😀
}

TEST_CASE("bytes that can never start a character are not held back")
{
    CHECK(incomplete_utf8_tail("x\xFF") == 0);
    CHECK(incomplete_utf8_tail("x\xE0\x80") == 0); // overlong start cannot be completed
}

TEST_CASE("sanitize keeps valid UTF-8 and replaces invalid bytes")
{
    CHECK(sanitize_utf8("h\xC3\xA9llo \xE2\x82\xAC") == "h\xC3\xA9llo \xE2\x82\xAC");
    CHECK(sanitize_utf8("a\xFF"
                        "b") == "a\xEF\xBF\xBD"
                                "b");
    CHECK(sanitize_utf8("\xC3") == "\xEF\xBF\xBD");                                 // truncated
    CHECK(sanitize_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // surrogate
    CHECK(sanitize_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                 // overlong '/'
}
