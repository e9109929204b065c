#include "auth/cors_policy.hpp"

#include <algorithm>
#include <cctype>

namespace cellbox::gateway
{
namespace
{

std::string normalize(std::string_view origin)
{
    const auto first = origin.find_first_not_of(" \t");
    if (first == std::string_view::npos)
    {
        return "";
    }
    origin = origin.substr(first, origin.find_last_not_of(" \t") - first + 1);
    while (!origin.empty() && origin.back() == '/')
    {
        origin.remove_suffix(1);
    }
    std::string out(origin);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

// "https://host:port" -> "host:port".
std::string_view authority_of(std::string_view origin)
{
    const auto scheme = origin.find("://");
    return scheme == std::string_view::npos ? origin : origin.substr(scheme + 3);
}

} // namespace

cors_policy::cors_policy(std::string_view allow_origin)
{
    std::size_t start = 0;
    while (start <= allow_origin.size())
    {
        const auto comma = std::min(allow_origin.find(',', start), allow_origin.size());
        const std::string origin = normalize(allow_origin.substr(start, comma - start));
        if (origin == "*")
        {
            m_any = true;
        }
        else if (!origin.empty())
        {
            m_origins.push_back(origin);
        }
        start = comma + 1;
    }
}

std::string cors_policy::allow_origin_for(std::string_view origin) const
{
    if (m_any)
    {
        return "*";
    }
    const std::string wanted = normalize(origin);
    if (wanted.empty() || std::find(m_origins.begin(), m_origins.end(), wanted) == m_origins.end())
    {
        return "";
    }
    return std::string(origin);
}

bool cors_policy::websocket_allowed(std::string_view origin, std::string_view host) const
{
    const std::string wanted = normalize(origin);
    if (m_any || wanted.empty())
    {
        return true;
    }
    if (!host.empty() && authority_of(wanted) == normalize(host))
    {
        return true; // the page was served by this server itself
    }
    return std::find(m_origins.begin(), m_origins.end(), wanted) != m_origins.end();
}

} // namespace cellbox::gateway
