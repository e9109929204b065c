// The MCP execute_code round trip through the official SDK's Client (Streamable HTTP) against
// POST /api/kernels/{id}/execute with fetch, interleaved in one process so that both see the
// same load. Used by tests/bench/mcp_bench.py; prints {"mcp": [ms...], "execute": [ms...]}.
// Usage: node bench_client.mjs URL TOKEN ROUND_TRIPS
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token, rounds] = process.argv.slice(2);
const headers = { Authorization: `Bearer ${token}` };
const client = new Client({ name: "cellbox-bench", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(url + "/mcp"), { requestInit: { headers } });
await client.connect(transport);

const kernel = await (await fetch(url + "/api/kernels", { method: "POST", headers, body: "{}" })).json();
const execute = async () => {
  const res = await fetch(`${url}/api/kernels/${kernel.id}/execute`, {
    method: "POST", headers: { ...headers, "Content-Type": "application/json" },
    body: JSON.stringify({ code: "1+1" }),
  });
  const body = await res.json();
  if (body.status !== "ok") throw new Error(JSON.stringify(body));
};
const mcp = async () => {
  const result = await client.callTool({ name: "execute_code", arguments: { code: "1+1" } });
  if (result.isError || !result.content[0].text.includes("2")) throw new Error(JSON.stringify(result));
};
const timed = async (fn) => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

const samples = { mcp: [], execute: [] };
for (let i = 0; i < 20; i++) { await mcp(); await execute(); } // warm-up (starts the MCP kernel)
for (let i = 0; i < Number(rounds); i++) {
  samples.mcp.push(await timed(mcp));
  samples.execute.push(await timed(execute));
}
await transport.terminateSession();
await client.close();
console.log(JSON.stringify(samples));
