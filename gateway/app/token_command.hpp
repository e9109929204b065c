#pragma once
// `cellbox token`: mints a user's HS256 token, as a SaaS backend would.
#include <CLI/CLI.hpp>

namespace cellbox::gateway
{

// Registers the subcommand; it prints the token and exits when run.
void add_token_command(CLI::App& app);

} // namespace cellbox::gateway
