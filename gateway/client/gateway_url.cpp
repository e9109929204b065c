#include "client/gateway_url.hpp"

#include <boost/regex.hpp>

namespace cellbox::gateway::client
{

namespace
{

std::string shown(std::string_view url)
{
    return std::string(url.substr(0, 200));
}

} // namespace

std::string gateway_url::authority() const
{
    const bool ipv6 = host.find(':') != std::string::npos;
    return (ipv6 ? "[" + host + "]" : host) + ":" + port;
}

std::string gateway_url::text() const
{
    return "http://" + authority() + base;
}

gateway_url parse_gateway_url(std::string_view url)
{
    if (url.substr(0, 8) == "https://" || url.substr(0, 8) == "HTTPS://")
    {
        throw gateway_error("--url: https is not supported by this client (put a TLS proxy such "
                            "as stunnel in front and give its http:// URL), got " +
                            shown(url));
    }
    // No user info, query or fragment: a base path is all a gateway's URL has after the port.
    static const boost::regex form(
        R"(http://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[^?#\s]*)?)");
    boost::match_results<std::string_view::const_iterator> match;
    if (!boost::regex_match(url.begin(), url.end(), match, form))
    {
        throw gateway_error("--url must look like http://HOST[:PORT][/BASE/], got " + shown(url));
    }
    gateway_url out;
    out.host = match[1].str();
    if (out.host.front() == '[')
    {
        out.host = out.host.substr(1, out.host.size() - 2);
    }
    out.port = match[2].matched ? match[2].str() : "80";
    const unsigned long port = std::stoul(out.port);
    if (port == 0 || port > 65535)
    {
        throw gateway_error("--url: port " + out.port + " is not between 1 and 65535, got " +
                            shown(url));
    }
    out.port = std::to_string(port); // "0080" is port 80
    out.base = match[3].matched ? match[3].str() : "/";
    if (out.base.back() != '/')
    {
        out.base += '/';
    }
    return out;
}

} // namespace cellbox::gateway::client
