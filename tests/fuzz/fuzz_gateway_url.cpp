// parse_gateway_url: the --url of `cellbox run` and `cellbox mcp` (a user's bytes, often from
// an environment variable). Whatever it accepts must be a plain http URL whose parts cannot
// steer a request elsewhere: a host, a port from 1 to 65535, a base path that begins and ends
// with '/' and has no query, fragment or white space; written back, it parses the same.
#include "client/gateway_url.hpp"
#include "fuzz_support.hpp"

using namespace cellbox;
using cellbox::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    gateway::client::gateway_url url;
    try
    {
        url = gateway::client::parse_gateway_url(fuzz::text_of(data, size));
    }
    catch (const gateway::client::gateway_error& e)
    {
        require(std::string_view(e.what()).size() < 400, "a refusal shows a bounded part");
        return 0;
    }
    require(!url.host.empty() && url.host.find_first_of("/?#@ ") == std::string::npos,
            "a host alone");
    const unsigned long port = std::stoul(url.port);
    require(port >= 1 && port <= 65535 && std::to_string(port) == url.port, "a port in range");
    require(url.base.front() == '/' && url.base.back() == '/', "a base path between slashes");
    require(url.base.find_first_of("?# \t\r\n") == std::string::npos, "no query or space");
    const auto again = gateway::client::parse_gateway_url(url.text());
    require(again.host == url.host && again.port == url.port && again.base == url.base,
            "written back, the same URL");
    return 0;
}
