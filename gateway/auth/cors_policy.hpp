#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cellbox::gateway
{

// Which browser origins may use the API (`--allow-origin`): "" (no cross-origin access, no
// CORS headers), "*" (any), or a comma-separated list of origins such as
// "https://a.example, http://localhost:3000". Origins compare case-insensitively, without a
// trailing slash.
class cors_policy
{
public:
    explicit cors_policy(std::string_view allow_origin);

    bool enabled() const { return m_any || !m_origins.empty(); }

    // The Access-Control-Allow-Origin value for a request with this Origin header: "*", the
    // origin itself when it is listed, else "" (send no header: the browser refuses).
    std::string allow_origin_for(std::string_view origin) const;

    // Whether a WebSocket upgrade with this Origin (and Host) header may proceed. As in
    // jupyter_server: without an Origin (not a browser), from the server's own origin (the
    // Origin's host:port is the Host header), or with "*", always; otherwise only from a
    // listed origin. So without a policy, only the same origin: browsers let any page open a
    // WebSocket anywhere, and a token in a cookie or URL would otherwise be enough.
    bool websocket_allowed(std::string_view origin, std::string_view host) const;

private:
    bool m_any = false;
    std::vector<std::string> m_origins; // normalized
};

} // namespace cellbox::gateway
