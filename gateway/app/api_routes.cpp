#include "app/api_routes.hpp"

#include "api/channels_api.hpp"
#include "api/contents_api.hpp"
#include "api/execute_api.hpp"
#include "api/hibernate_api.hpp"
#include "api/kernels_api.hpp"
#include "api/kernelspecs_api.hpp"
#include "api/mcp_api.hpp"
#include "api/sessions_api.hpp"
#include "api/static_api.hpp"
#include "api/status_api.hpp"

namespace cellbox::gateway
{

router api_routes(const std::shared_ptr<api_context>& ctx)
{
    router routes;
    add_status_api(routes, ctx);
    add_kernelspecs_api(routes, ctx);
    add_kernels_api(routes, ctx);
    add_hibernate_api(routes, ctx);
    add_sessions_api(routes, ctx);
    add_channels_api(routes, ctx);
    add_static_api(routes, ctx);
    add_contents_api(routes, ctx);
    add_execute_api(routes, ctx);
    add_mcp_api(routes, ctx);
    return routes;
}

} // namespace cellbox::gateway
