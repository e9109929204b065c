#pragma once
// Runs the MCP tools of a session (mcp/tools describes them): execute_code as an execution
// of the execute API (api/execution_runner) in the session's kernel, the file tools as
// contents API calls on the user's /work (files/work_tree), restart_kernel as POST
// /api/kernels/{id}/restart.
#include "api/mcp_service.hpp"

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace cellbox::gateway
{

struct mcp_tool_call
{
    std::string session_id;
    identity who;
    std::string name; // a known tool (mcp::known_tool)
    nlohmann::json arguments = nlohmann::json::object();
    std::string request; // the JSON-RPC id, dumped: what notifications/cancelled names
    // Told while a cell runs (progress grows; message says what happened); may be empty.
    std::function<void(double progress, const std::string& message)> progress;
    // The CallToolResult, once.
    std::function<void(nlohmann::json result)> done;
};

void run_mcp_tool(const std::shared_ptr<mcp_service>& service, mcp_tool_call call);

} // namespace cellbox::gateway
