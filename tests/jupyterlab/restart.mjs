// One phase of a gateway restart as JupyterLab sees it, with @jupyterlab/services: "before"
// starts a kernel and defines a variable, "after" (a new gateway on the same state directory)
// connects to the same kernel id and reads it back. Prints one JSON line; asserts nothing
// (test_jupyterlab_client.py does).
//
//   node restart.mjs BASE_URL TOKEN before
//   node restart.mjs BASE_URL TOKEN after KERNEL_ID
import { KernelManager, ServerConnection } from '@jupyterlab/services';
import { WebSocket } from 'ws';

const [baseUrl, token, phase, kernelId] = process.argv.slice(2);
const settings = ServerConnection.makeSettings({
  baseUrl, wsUrl: baseUrl.replace(/^http/, 'ws'), token, appendToken: true, WebSocket,
  fetch: globalThis.fetch, Request: globalThis.Request, Headers: globalThis.Headers,
});
for (const level of ['debug', 'log', 'info', 'warn']) {
  console[level] = (...args) => process.stderr.write(`${level}: ${args.join(' ')}\n`);
}
setTimeout(() => { process.stdout.write(JSON.stringify({ error: 'timed out' }) + '\n'); process.exit(1); }, 40_000).unref();

async function run(kernel, code) {
  const out = [];
  const future = kernel.requestExecute({ code, stop_on_error: false });
  future.onIOPub = (msg) => { if (msg.header.msg_type === 'stream') out.push(msg.content.text); };
  const reply = await future.done;
  return { status: reply.content.status, count: reply.content.execution_count, text: out.join('') };
}

const manager = new KernelManager({ serverSettings: settings });
const report = { phase };
try {
  await manager.ready;
  const kernel = phase === 'before'
    ? await manager.startNew({ name: 'cellbox-python' })
    : manager.connectTo({ model: { id: kernelId, name: 'cellbox-python' } });
  report.id = kernel.id;
  report.run = await run(kernel, phase === 'before' ? "answer = 41\nprint('set')" : 'print(answer + 1)');
  kernel.dispose();
} catch (e) {
  report.error = String(e?.message ?? e);
}
manager.dispose();
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(report.error ? 1 : 0);
