// The URL rules of a gateway's clients (`cellbox run --url`, `cellbox mcp --url`): what they
// take, what they refuse, and that every refusal names the problem.
#include "client/gateway_url.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace cellbox::gateway::client;

namespace
{

// The message of the refusal of `url`; fails the test when `url` is taken.
std::string refusal(const std::string& url)
{
    try
    {
        const gateway_url taken = parse_gateway_url(url);
        FAIL("taken: " << url << " as " << taken.text());
    }
    catch (const gateway_error& e)
    {
        return e.what();
    }
    return {};
}

} // namespace

TEST_CASE("a gateway URL: host, port and base path", "[client]")
{
    const gateway_url plain = parse_gateway_url("http://127.0.0.1:8888/");
    CHECK(plain.host == "127.0.0.1");
    CHECK(plain.port == "8888");
    CHECK(plain.base == "/");
    CHECK(plain.text() == "http://127.0.0.1:8888/");

    const gateway_url no_port = parse_gateway_url("http://gateway.example");
    CHECK(no_port.host == "gateway.example");
    CHECK(no_port.port == "80");
    CHECK(no_port.base == "/");

    // A base path always ends with '/', as the gateway's base_url does.
    CHECK(parse_gateway_url("http://h:1/jupyter").base == "/jupyter/");
    CHECK(parse_gateway_url("http://h:1/a/b/").base == "/a/b/");
    CHECK(parse_gateway_url("http://h:65535/a").text() == "http://h:65535/a/");

    const gateway_url v6 = parse_gateway_url("http://[::1]:9000/x/");
    CHECK(v6.host == "::1");
    CHECK(v6.port == "9000");
    CHECK(v6.authority() == "[::1]:9000");
    CHECK(v6.text() == "http://[::1]:9000/x/");

    // Leading zeros name the same port.
    CHECK(parse_gateway_url("http://h:0080/").port == "80");
}

TEST_CASE("https is refused by name, with what to do instead", "[client]")
{
    const std::string text = refusal("https://127.0.0.1:8888/");
    CHECK(text.find("https is not supported") != std::string::npos);
    CHECK(text.find("TLS proxy") != std::string::npos);
    CHECK(refusal("HTTPS://h/").find("https is not supported") != std::string::npos);
}

TEST_CASE("ports out of range are refused", "[client]")
{
    CHECK(refusal("http://h:0/").find("port 0 is not between 1 and 65535") != std::string::npos);
    CHECK(refusal("http://h:65536/").find("port 65536") != std::string::npos);
    CHECK(refusal("http://h:99999/").find("port 99999") != std::string::npos);
    CHECK(refusal("http://h:123456/").find("must look like") != std::string::npos);
    CHECK(refusal("http://h:/").find("must look like") != std::string::npos);
    CHECK(refusal("http://h:8x/").find("must look like") != std::string::npos);
}

TEST_CASE("garbage is refused, and the refusal shows a bounded part of it", "[client]")
{
    for (const char* url :
         {"", "127.0.0.1:8888", "ftp://h/", "http://", "http:///x", "http://user:pw@h/",
          "http://h/a?x=1", "http://h/a#f", "http://h /", "http://h/a b", "http://[::1/",
          "http://h\n/", " http://h/", "//h:1/", "http://h_1/"})
    {
        INFO(url);
        CHECK(refusal(url).find("must look like http://HOST[:PORT][/BASE/]") != std::string::npos);
    }
    const std::string huge = "http://" + std::string(100000, '%');
    CHECK(refusal(huge).size() < 400);
}
