#pragma once
// The one rule for a gateway's URL as its clients (`cellbox run --url`, `cellbox mcp --url`)
// take it: http://HOST[:PORT][/BASE/]. These clients speak plain HTTP only; https is refused
// by name, so that a user is told to put a TLS proxy in front rather than "bad URL".
#include <stdexcept>
#include <string>
#include <string_view>

namespace cellbox::gateway::client
{

// The gateway cannot be reached, or answered something its client cannot use; also a URL
// the client cannot use.
class gateway_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

struct gateway_url
{
    std::string host; // without the brackets of an IPv6 literal
    std::string port; // "80" when the URL names none; 1 to 65535
    std::string base; // "/" or "/base/": always begins and ends with '/'

    // The URL written back in full: http://HOST:PORT/BASE/ (IPv6 literals in brackets).
    std::string text() const;
    // HOST:PORT as the Host header names it.
    std::string authority() const;
};

// Throws gateway_error naming what is wrong (the URL shortened to 200 characters).
gateway_url parse_gateway_url(std::string_view url);

} // namespace cellbox::gateway::client
