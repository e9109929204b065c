// Drives cellbox's MCP server with the official MCP TypeScript SDK (pinned in package.json):
// Client over StreamableHTTPClientTransport against {url}mcp, and over StdioClientTransport
// spawning `cellbox mcp`. Usage: node client.mjs URL TOKEN OTHER_USER_TOKEN CELLBOX_BINARY
// Prints one JSON report on its last line: {"steps": {name: {ok, ...details}}}; each step
// records what it saw, and test_mcp_sdk.py asserts on it.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

const [url, token, otherToken, cellbox] = process.argv.slice(2);
const report = { steps: {}, sdkProtocol: LATEST_PROTOCOL_VERSION };

async function step(name, body) {
  try {
    report.steps[name] = { ok: true, ...(await body()) };
  } catch (e) {
    report.steps[name] = { ok: false, error: String(e && e.stack ? e.stack : e) };
  }
}

function connectHttp(tok) {
  const client = new Client({ name: "cellbox-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url + "/mcp"), {
    requestInit: tok ? { headers: { Authorization: `Bearer ${tok}` } } : {},
  });
  return client.connect(transport).then(() => ({ client, transport }));
}

const text = (result) => result.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
const run = (client, code, extra = {}, options = undefined) =>
  client.callTool({ name: "execute_code", arguments: { code, ...extra } }, undefined, options);

async function kernels(tok) {
  const res = await fetch(url + "/api/kernels", { headers: { Authorization: `Bearer ${tok}` } });
  return (await res.json()).map((k) => k.id);
}

await step("unauthenticated", async () => {
  try {
    await connectHttp(null);
    return { refused: false };
  } catch (e) {
    return { refused: true, error: String(e) };
  }
});

let a;
await step("connect", async () => {
  a = await connectHttp(token);
  return {
    server: a.client.getServerVersion(),
    capabilities: a.client.getServerCapabilities(),
    sessionId: a.transport.sessionId,
    protocolVersion: a.transport.protocolVersion,
  };
});

await step("listTools", async () => {
  const { tools } = await a.client.listTools();
  return { tools: tools.map((t) => ({ name: t.name, required: t.inputSchema.required || [], hasOutputSchema: !!t.outputSchema, description: t.description })) };
});

await step("state", async () => {
  const first = await run(a.client, "x = 21\nprint('set')");
  const second = await run(a.client, "x * 2");
  return { first: text(first), second: text(second), isError: second.isError, structured: second.structuredContent };
});

await step("figure", async () => {
  const result = await run(a.client,
    "import matplotlib.pyplot as plt\n" +
    "fig, ax = plt.subplots()\nax.plot([1, 2, 3], [3, 1, 2])\nplt.show()");
  const images = result.content.filter((c) => c.type === "image");
  return { isError: result.isError, images: images.map((i) => ({ mimeType: i.mimeType, data: i.data })), text: text(result) };
});

await step("error", async () => {
  const result = await run(a.client, "def f():\n    return 1 / 0\nf()");
  return { isError: result.isError, text: text(result), status: result.structuredContent?.status };
});

await step("timeout", async () => {
  const started = Date.now();
  const result = await run(a.client, "import time\ny = 7\ntime.sleep(60)", { timeout: 1 });
  const after = await run(a.client, "x + y");
  return { isError: result.isError, status: result.structuredContent?.status, text: text(result), seconds: (Date.now() - started) / 1000, after: text(after) };
});

await step("progress", async () => {
  const notes = [];
  const result = await run(a.client, "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.3)", {},
    { onprogress: (p) => notes.push(p) });
  return { notes, text: text(result) };
});

await step("badArguments", async () => {
  const result = await a.client.callTool({ name: "execute_code", arguments: { cod: "1" } });
  return { isError: result.isError, text: text(result) };
});

await step("files", async () => {
  const call = (name, args) => a.client.callTool({ name, arguments: args });
  const write = await call("write_file", { path: "notes/../x.txt", content: "no" });
  const mk = await run(a.client, "import os\nos.makedirs('/work/mcpdir', exist_ok=True)");
  const written = await call("write_file", { path: "mcpdir/hello.txt", content: "héllo from mcp\n" });
  const read = await call("read_file", { path: "/work/mcpdir/hello.txt" });
  const listed = await call("list_files", { path: "mcpdir" });
  const inKernel = await run(a.client, "print(open('/work/mcpdir/hello.txt', encoding='utf-8').read(), end='')");
  const escape = await call("read_file", { path: "../../etc/passwd" });
  const absolute = await call("read_file", { path: "/etc/passwd" });
  const missing = await call("read_file", { path: "mcpdir/nope.txt" });
  return {
    dotdot: { isError: write.isError, text: text(write) }, mk: mk.isError,
    written: { isError: written.isError, text: text(written) },
    read: { isError: read.isError, text: text(read) },
    listed: { isError: listed.isError, text: text(listed) },
    inKernel: text(inKernel),
    escape: { isError: escape.isError, text: text(escape) },
    absolute: { isError: absolute.isError, text: text(absolute) },
    missing: { isError: missing.isError, text: text(missing) },
  };
});

await step("isolation", async () => {
  const b = await connectHttp(otherToken);
  const seen = await run(b.client, "print('x' in dir())");
  const file = await b.client.callTool({ name: "read_file", arguments: { path: "mcpdir/hello.txt" } });
  // Another user's session id, sent by user b: not found.
  const res = await fetch(url + "/mcp", {
    method: "POST",
    headers: { Authorization: `Bearer ${otherToken}`, "Content-Type": "application/json",
      Accept: "application/json, text/event-stream", "Mcp-Session-Id": a.transport.sessionId,
      "MCP-Protocol-Version": a.transport.protocolVersion },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  await b.transport.terminateSession();
  await b.client.close();
  return { seen: text(seen), file: { isError: file.isError, text: text(file) }, foreignSession: res.status };
});

await step("cancel", async () => {
  // The SDK sends notifications/cancelled when a call's signal aborts: the cell must stop, or
  // the next call would queue behind a 60 s sleep.
  const controller = new AbortController();
  const started = Date.now();
  const long = run(a.client, "import time\ntime.sleep(60)", {}, { signal: controller.signal });
  setTimeout(() => controller.abort("enough"), 1000);
  let aborted = false;
  try { await long; } catch { aborted = true; }
  const next = await run(a.client, "x");
  return { aborted, next: text(next), seconds: (Date.now() - started) / 1000 };
});

await step("restart", async () => {
  const restarted = await a.client.callTool({ name: "restart_kernel", arguments: {} });
  const after = await run(a.client, "x");
  return { restarted: { isError: restarted.isError, text: text(restarted) }, after: { isError: after.isError, text: text(after) } };
});

await step("terminate", async () => {
  const before = await kernels(token);
  await a.transport.terminateSession();
  await a.client.close();
  // The shutdown is asynchronous: wait for the kernel to leave /api/kernels.
  let after = await kernels(token);
  for (let i = 0; i < 50 && after.length >= before.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await kernels(token);
  }
  return { before: before.length, after: after.length };
});

await step("stdio", async () => {
  const client = new Client({ name: "cellbox-stdio-test", version: "1.0.0" });
  const transport = new StdioClientTransport({ command: cellbox, args: ["mcp", "--url", url + "/", "--token", token], stderr: "pipe" });
  await client.connect(transport);
  const { tools } = await client.listTools();
  await run(client, "z = 40");
  const result = await run(client, "z + 2");
  // With a progressToken the gateway answers as SSE; the bridge relays every event.
  const notes = [];
  const streamed = await run(client, "import time\nprint('a', flush=True)\ntime.sleep(0.5)\nprint('b')", {}, { onprogress: (p) => notes.push(p) });
  const during = (await kernels(token)).length;
  await client.close();
  // The bridge ends its session when its stdin closes: the kernel goes.
  let after = await kernels(token);
  for (let i = 0; i < 50 && after.length >= during; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await kernels(token);
  }
  return { tools: tools.map((t) => t.name), text: text(result), isError: result.isError, during, after: after.length,
    notes: notes.length, streamed: text(streamed) };
});

console.log(JSON.stringify(report));
process.exit(0);
