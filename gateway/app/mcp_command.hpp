#pragma once
// `cellbox mcp --url URL --token TOKEN`: an MCP server on stdin/stdout (newline-delimited
// JSON-RPC, the stdio transport desktop assistants spawn) that forwards every message to a
// gateway's {url}mcp endpoint (Streamable HTTP) and writes back what it answers. Logs go to
// stderr.
#include <CLI/CLI.hpp>

namespace cellbox::gateway
{

void add_mcp_command(CLI::App& app);

} // namespace cellbox::gateway
