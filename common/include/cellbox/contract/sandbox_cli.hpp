#pragma once
// cellbox-sandbox's command line on CLI11: the options of sandbox_invocation, with their help
// texts and checks. Only the sandbox's main (and parse_sandbox_invocation) include it.
#include "cellbox/contract/sandbox_invocation.hpp"

namespace CLI
{
class App;
} // namespace CLI

namespace cellbox::contract
{

// Adds cellbox-sandbox's options to `app`, bound to `invocation`. Parsing throws
// CLI::ParseError (usage, --help) or std::invalid_argument (a value CLI11 cannot check
// itself: a size, a NAME=VALUE), whose message is meant for the user.
void define_sandbox_options(CLI::App& app, sandbox_invocation& invocation);

} // namespace cellbox::contract
