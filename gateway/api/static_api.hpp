#pragma once
// The pages outside the API, served to anyone without a token: the landing page at
// {base_url} and the files under the share dir's static/ at {base_url}static/... (the widget
// cellbox-embed.js, the landing page's script and style, the embed example). GET and HEAD
// only; no directory listing; nothing outside static_dir, even through a symlink.
#include "api/api_context.hpp"
#include "http/router.hpp"

#include <memory>

namespace cellbox::gateway
{

void add_static_api(router& routes, const std::shared_ptr<api_context>& ctx);

} // namespace cellbox::gateway
