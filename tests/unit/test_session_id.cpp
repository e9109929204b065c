// Client session ids become ZeroMQ routing ids: what ZeroMQ would refuse never gets that far.
#include "protocol/session_id.hpp"

#include <catch2/catch.hpp>
#include <string>

using cellbox::gateway::valid_session_id;

TEST_CASE("the session ids of Jupyter clients are valid")
{
    CHECK(valid_session_id("0b8c6f1e4a6d4b1e9f3c2a1b0c9d8e7f"));
    CHECK(valid_session_id("0b8c6f1e-4a6d-4b1e-9f3c-2a1b0c9d8e7f"));
    CHECK(valid_session_id(std::string(128, 'a')));
}

TEST_CASE("empty, oversized, NUL-led, spaced or non-ASCII session ids are not")
{
    CHECK_FALSE(valid_session_id(""));
    CHECK_FALSE(valid_session_id(std::string(129, 'a')));
    CHECK_FALSE(valid_session_id(std::string(300, 'a')));
    CHECK_FALSE(valid_session_id(std::string("\0abc", 4)));
    CHECK_FALSE(valid_session_id("a b"));
    CHECK_FALSE(valid_session_id("a\nb"));
    CHECK_FALSE(valid_session_id("caf\xc3\xa9"));
}
