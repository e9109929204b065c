// The connection limits: per client (an IPv4 address, an IPv6 /64) and in total, slots given
// back when their connection ends.
#include "http/connection_limits.hpp"

#include <catch2/catch.hpp>
#include <vector>

using cellbox::gateway::connection_limits;
using cellbox::gateway::connection_slot;
namespace ip = boost::asio::ip;

TEST_CASE("a client gets at most its share, others still get in, a closed slot frees a place")
{
    auto limits = connection_limits::create(10, 3);
    const auto a = ip::make_address("10.0.0.1");
    std::vector<connection_slot> held;
    for (int i = 0; i < 3; ++i)
    {
        auto slot = limits->admit(a);
        REQUIRE(slot);
        held.push_back(std::move(*slot));
    }
    CHECK_FALSE(limits->admit(a));
    CHECK(limits->admit(ip::make_address("10.0.0.2")));
    CHECK(limits->total() == 3); // the slot for 10.0.0.2 was dropped at once
    held.pop_back();
    CHECK(limits->of("10.0.0.1") == 2);
    CHECK(limits->admit(a));
}

TEST_CASE("the total limit holds whoever connects")
{
    auto limits = connection_limits::create(2, 0);
    auto first = limits->admit(ip::make_address("10.0.0.1"));
    auto second = limits->admit(ip::make_address("10.0.0.2"));
    REQUIRE(first);
    REQUIRE(second);
    CHECK_FALSE(limits->admit(ip::make_address("10.0.0.3")));
    first.reset();
    CHECK(limits->admit(ip::make_address("10.0.0.3")));
}

TEST_CASE("IPv6 clients count per /64, v4-mapped ones as their IPv4 address")
{
    CHECK(connection_limits::client_of(ip::make_address("2001:db8:1:2:aaaa::1")) ==
          connection_limits::client_of(ip::make_address("2001:db8:1:2:bbbb::2")));
    CHECK(connection_limits::client_of(ip::make_address("2001:db8:1:2::1")) !=
          connection_limits::client_of(ip::make_address("2001:db8:1:3::1")));
    CHECK(connection_limits::client_of(ip::make_address("::ffff:10.0.0.1")) == "10.0.0.1");
}

TEST_CASE("0 means no limit; a moved slot is given back once")
{
    auto limits = connection_limits::create(0, 0);
    std::vector<connection_slot> held;
    for (int i = 0; i < 1000; ++i)
    {
        held.push_back(std::move(*limits->admit(ip::make_address("10.0.0.1"))));
    }
    connection_slot moved = std::move(held.back());
    held.pop_back();
    CHECK(limits->total() == 1000);
    held.clear();
    CHECK(limits->total() == 1);
}
