// Drives `cellbox serve` with @jupyterlab/services, the client library JupyterLab 4 itself
// uses to talk to a Jupyter server (kernels, sessions, contents), and prints one JSON report
// on stdout: every step with "ok", what it saw, and on failure "error". The assertions live in
// test_jupyterlab_client.py; this script only records.
//
//   node client.mjs BASE_URL TOKEN        (or CELLBOX_URL / CELLBOX_TOKEN in the environment)
//
// Every await has its own time limit, so a request the gateway never answers becomes a failed
// step instead of a hung process, and the script always exits.
import {
  ContentsManager,
  KernelManager,
  KernelSpecManager,
  ServerConnection,
  SessionManager,
} from '@jupyterlab/services';
import { WebSocket } from 'ws';

const baseUrl = process.argv[2] ?? process.env.CELLBOX_URL;
const token = process.argv[3] ?? process.env.CELLBOX_TOKEN;
if (!baseUrl || !token) {
  console.error('usage: node client.mjs BASE_URL TOKEN');
  process.exit(2);
}

const KERNEL_NAME = 'cellbox-python';
const TIMEOUT = 20_000;
// Several hung steps could add up to more than the wrapper waits for (60 s); at this deadline
// the report so far is printed anyway, so the wrapper still says which step hung.
const DEADLINE = 45_000;
const report = { baseUrl, steps: {}, console: [] };
const t0 = Date.now();
let currentStep = null;

function finish() {
  report.seconds = (Date.now() - t0) / 1000;
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(Object.values(report.steps).every((s) => s.ok) && !report.error ? 0 : 1);
}

setTimeout(() => {
  report.error = `client.mjs deadline (${DEADLINE / 1000} s) reached during step ${currentStep}`;
  finish();
}, DEADLINE).unref();

// @jupyterlab/services logs through console.debug/log (stdout in node) and console.warn: all of
// it goes to stderr and into the report, so stdout carries nothing but the JSON, and warnings
// such as "Removing errant kernel spec" show up next to the step they explain.
for (const level of ['debug', 'log', 'info', 'warn', 'error']) {
  console[level] = (...args) => {
    const line = `${level}: ${args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ')}`;
    if (report.console.length < 200) {
      report.console.push(line);
    }
    process.stderr.write(line + '\n');
  };
}

// Every WebSocket the library opens, to read the subprotocol it asked for and the one the
// gateway accepted (KernelConnection keeps its socket private).
const sockets = [];
class RecordingWebSocket extends WebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    sockets.push({ socket: this, requested: protocols });
  }
}

const serverSettings = ServerConnection.makeSettings({
  baseUrl,
  wsUrl: baseUrl.replace(/^http/, 'ws'),
  token,
  appendToken: true, // node has no cookies: the WebSocket carries the token in its URL
  WebSocket: RecordingWebSocket,
  fetch: globalThis.fetch,
  Request: globalThis.Request,
  Headers: globalThis.Headers,
});

function within(promise, what, ms = TIMEOUT) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${what}`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// Runs `body(record)` as the step `name`; `record` collects what the step saw. A step whose
// prerequisite failed is recorded as not run, with the reason, so every step has an outcome.
async function step(name, body, needs = []) {
  const record = {};
  const missing = needs.filter((n) => !report.steps[n]?.ok);
  if (missing.length) {
    report.steps[name] = { ok: false, error: `not run: ${missing.join(', ')} failed` };
    return;
  }
  const start = Date.now();
  currentStep = name;
  try {
    await within(body(record), `step ${name}`, 3 * TIMEOUT);
    report.steps[name] = { ok: true, ...record };
  } catch (e) {
    report.steps[name] = { ok: false, error: String(e?.message ?? e), ...record };
  }
  report.steps[name].seconds = (Date.now() - start) / 1000;
}

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

// The raw REST view, to tell apart what the gateway sends from what the library keeps.
async function rest(path) {
  const response = await within(
    ServerConnection.makeRequest(baseUrl.replace(/\/$/, '') + path, {}, serverSettings),
    `GET ${path}`,
  );
  check(response.ok, `GET ${path}: ${response.status}`);
  return response.json();
}

// Runs `code` and collects its iopub messages until the reply and idle; `onStdin` answers
// input_request messages. Returns { reply, iopub, stdin } in plain JSON.
async function execute(kernel, code, { onStdin, allowStdin = false, limit = TIMEOUT } = {}) {
  const iopub = [];
  const stdin = [];
  const future = kernel.requestExecute({ code, allow_stdin: allowStdin, stop_on_error: false });
  future.onIOPub = (msg) => iopub.push({ type: msg.header.msg_type, content: msg.content });
  future.onStdin = (msg) => {
    stdin.push({ type: msg.header.msg_type, content: msg.content });
    onStdin?.(msg);
  };
  const reply = await within(future.done, `reply to ${JSON.stringify(code)}`, limit);
  return { reply: reply.content, iopub, stdin };
}

const streamText = (run) =>
  run.iopub.filter((m) => m.type === 'stream').map((m) => m.content.text).join('');
const results = (run) =>
  run.iopub.filter((m) => m.type === 'execute_result').map((m) => m.content.data['text/plain']);

const specManager = new KernelSpecManager({ serverSettings });
const kernelManager = new KernelManager({ serverSettings });
const sessionManager = new SessionManager({ serverSettings, kernelManager });
let kernel;

try {
  await step('kernelspecs', async (r) => {
    const raw = await rest('/api/kernelspecs');
    r.server = { default: raw.default, names: Object.keys(raw.kernelspecs ?? {}) };
    r.serverArgv = raw.kernelspecs?.[KERNEL_NAME]?.spec?.argv ?? null;
    await within(specManager.ready, 'KernelSpecManager.ready');
    await within(specManager.refreshSpecs(), 'KernelSpecManager.refreshSpecs()');
    const specs = specManager.specs;
    // validateSpecModels drops every spec it finds malformed (a missing spec.argv array is
    // enough) with only a console warning, and keeps no specs at all when none is valid.
    check(specs, `KernelSpecManager kept no specs: server sent ${r.server.names}, ` +
      `${KERNEL_NAME} with spec.argv ${JSON.stringify(r.serverArgv)}`);
    r.client = { default: specs.default, names: Object.keys(specs.kernelspecs) };
    const spec = specs.kernelspecs[KERNEL_NAME];
    check(spec, `KernelSpecManager dropped ${KERNEL_NAME}: kept ${r.client.names}, ` +
      `server sent ${r.server.names} (spec.argv: ${JSON.stringify(r.serverArgv)})`);
    r.spec = { name: spec.name, display_name: spec.display_name, language: spec.language, argv: spec.argv };
  });

  await step('kernel_start', async (r) => {
    kernel = await within(kernelManager.startNew({ name: KERNEL_NAME }), 'KernelManager.startNew()');
    r.id = kernel.id;
    r.name = kernel.name;
    const info = await within(kernel.info, 'kernel_info_reply');
    r.language = info.language_info?.name;
    r.protocolVersion = info.protocol_version;
    const ws = sockets.at(-1);
    check(ws, 'the kernel connection opened no WebSocket');
    r.requestedProtocols = ws.requested;
    // What the gateway chose in its 101 reply; '' would mean the legacy JSON protocol.
    r.protocol = ws.socket.protocol;
    r.connectionStatus = kernel.connectionStatus;
    r.status = kernel.status;
  });

  await step('execute', async (r) => {
    const run = await execute(kernel, 'print("hello from cellbox")\n1+1');
    r.reply = { status: run.reply.status, execution_count: run.reply.execution_count };
    r.stream = streamText(run);
    r.results = results(run);
    r.iopubTypes = run.iopub.map((m) => (m.type === 'status' ? `status:${m.content.execution_state}` : m.type));
  }, ['kernel_start']);

  await step('stdin', async (r) => {
    const run = await execute(kernel, 'name = input("Your name? ")\nprint("hi", name)', {
      allowStdin: true,
      onStdin: (msg) => kernel.sendInputReply({ status: 'ok', value: 'cellbox' }, msg.header),
    });
    r.reply = { status: run.reply.status };
    r.prompts = run.stdin.filter((m) => m.type === 'input_request').map((m) => m.content.prompt);
    r.stream = streamText(run);
  }, ['kernel_start']);

  await step('complete', async (r) => {
    const code = 'import os\nos.pat';
    const reply = await within(kernel.requestComplete({ code, cursor_pos: code.length }), 'complete_reply');
    r.status = reply.content.status;
    r.matches = reply.content.matches.slice(0, 20);
    r.cursor = [reply.content.cursor_start, reply.content.cursor_end];
  }, ['kernel_start']);

  await step('inspect', async (r) => {
    const reply = await within(kernel.requestInspect({ code: 'len', cursor_pos: 3, detail_level: 0 }), 'inspect_reply');
    r.status = reply.content.status;
    r.found = reply.content.found;
    r.text = String(reply.content.data?.['text/plain'] ?? '').slice(0, 400);
  }, ['kernel_start']);

  await step('interrupt', async (r) => {
    // Something to look for after the restart; set before the sleep so a failed interrupt
    // does not hide it.
    await execute(kernel, 'x = 42');
    const started = Date.now();
    const busy = new Promise((resolve) => {
      const listen = (_, msg) => {
        if (msg.header.msg_type === 'execute_input' && msg.content.code.includes('sleep')) {
          kernel.iopubMessage.disconnect(listen);
          resolve();
        }
      };
      kernel.iopubMessage.connect(listen);
    });
    const sleeping = execute(kernel, 'import time; time.sleep(30)', { limit: 15_000 });
    await within(busy, 'execute_input of the sleeping cell');
    await new Promise((resolve) => setTimeout(resolve, 500)); // let it reach time.sleep
    await within(kernel.interrupt(), 'POST /api/kernels/<id>/interrupt');
    const run = await sleeping;
    r.seconds = (Date.now() - started) / 1000;
    r.reply = { status: run.reply.status, ename: run.reply.ename, evalue: run.reply.evalue };
    r.errors = run.iopub.filter((m) => m.type === 'error').map((m) => m.content.ename);
  }, ['kernel_start']);

  await step('restart', async (r) => {
    const id = kernel.id;
    await within(kernel.restart(), 'kernel.restart()');
    r.sameId = kernel.id === id;
    r.protocol = sockets.at(-1).socket.protocol; // restart() reconnects: a new WebSocket
    const info = await within(kernel.info, 'kernel_info_reply after the restart');
    r.language = info.language_info?.name;
    const old = await execute(kernel, 'x');
    r.oldVariable = { status: old.reply.status, ename: old.reply.ename };
    const run = await execute(kernel, '1+1');
    r.after = { status: run.reply.status, execution_count: run.reply.execution_count, results: results(run) };
  }, ['kernel_start']);

  await step('shutdown', async (r) => {
    const id = kernel.id;
    await within(kernelManager.shutdown(id), 'KernelManager.shutdown()');
    await within(kernelManager.refreshRunning(), 'KernelManager.refreshRunning()');
    r.running = Array.from(kernelManager.running(), (m) => m.id);
    r.server = (await rest('/api/kernels')).map((k) => k.id);
    r.id = id;
    r.disposed = kernel.isDisposed;
  }, ['kernel_start']);

  await step('sessions', async (r) => {
    const session = await within(sessionManager.startNew({
      path: 'notebooks/first.ipynb',
      name: 'first.ipynb',
      type: 'notebook',
      kernel: { name: KERNEL_NAME },
    }), 'SessionManager.startNew()');
    r.started = { id: session.id, path: session.path, type: session.type, kernel: session.kernel?.name };
    const run = await execute(session.kernel, '3*7');
    r.results = results(run);
    await within(session.setPath('notebooks/renamed.ipynb'), 'session.setPath()');
    r.path = session.path;
    const found = await within(sessionManager.findByPath('notebooks/renamed.ipynb'), 'findByPath(new)');
    r.foundNew = found ? { id: found.id, path: found.path, kernel: found.kernel?.id } : null;
    const stale = await within(sessionManager.findByPath('notebooks/first.ipynb'), 'findByPath(old)');
    r.foundOld = stale ? stale.id : null;
    r.kernelId = session.kernel?.id;
    await within(session.shutdown(), 'session.shutdown()');
    await within(sessionManager.refreshRunning(), 'SessionManager.refreshRunning()');
    r.running = Array.from(sessionManager.running(), (m) => m.id);
    r.serverSessions = (await rest('/api/sessions')).map((s) => s.id);
    r.serverKernels = (await rest('/api/kernels')).map((k) => k.id);
  });

  // The contents API through ContentsManager, as JupyterLab's file browser and documents use
  // it: a directory, text, binary and notebook files, listing, rename, copy, delete, and
  // paths that try to leave /work.
  const contents = new ContentsManager({ serverSettings });
  const statusOf = async (promise) => {
    try {
      await promise;
      return 'ok';
    } catch (e) {
      return e?.response?.status ?? String(e?.message ?? e);
    }
  };
  const notebook = {
    cells: [{ cell_type: 'code', source: 'print(1)', metadata: {}, outputs: [], execution_count: null, id: 'c1' }],
    metadata: {}, nbformat: 4, nbformat_minor: 5,
  };
  await step('contents_save', async (r) => {
    const folder = await within(contents.newUntitled({ path: '', type: 'directory' }), 'newUntitled(directory)');
    r.untitled = folder.path;
    r.folder = (await within(contents.rename(folder.path, 'lab'), 'rename(folder)')).path;
    const text = await within(contents.save('lab/hello.txt', { type: 'file', format: 'text', content: 'hello from lab' }), 'save(text)');
    r.text = { path: text.path, type: text.type, size: text.size, created: text.created, writable: text.writable };
    const nb = await within(contents.save('lab/nb.ipynb', { type: 'notebook', format: 'json', content: notebook }), 'save(notebook)');
    r.notebook = { path: nb.path, type: nb.type };
    const bin = await within(contents.save('lab/bytes.bin', { type: 'file', format: 'base64', content: 'AAEC/w==' }), 'save(base64)');
    r.binary = { path: bin.path, size: bin.size };
    const untitled = await within(contents.newUntitled({ path: 'lab', type: 'notebook' }), 'newUntitled(notebook)');
    r.untitledNotebook = untitled.path;
  });
  await step('contents_get', async (r) => {
    const text = await within(contents.get('lab/hello.txt'), 'get(text)');
    r.text = { content: text.content, format: text.format, mimetype: text.mimetype };
    const nb = await within(contents.get('lab/nb.ipynb'), 'get(notebook)');
    r.notebook = { type: nb.type, format: nb.format, source: nb.content?.cells?.[0]?.source };
    const bin = await within(contents.get('lab/bytes.bin', { format: 'base64', content: true }), 'get(base64)');
    r.binary = { content: bin.content, format: bin.format };
    const bare = await within(contents.get('lab/hello.txt', { content: false }), 'get(content: false)');
    r.bareContent = bare.content;
  }, ['contents_save']);
  await step('contents_list', async (r) => {
    const dir = await within(contents.get('lab'), 'get(directory)');
    r.type = dir.type;
    r.names = dir.content.map((m) => m.name).sort();
    r.types = Object.fromEntries(dir.content.map((m) => [m.name, m.type]));
  }, ['contents_save']);
  await step('contents_rename_copy', async (r) => {
    r.renamed = (await within(contents.rename('lab/hello.txt', 'lab/renamed.txt'), 'rename')).path;
    r.oldStatus = await statusOf(contents.get('lab/hello.txt'));
    r.renamedContent = (await within(contents.get('lab/renamed.txt'), 'get(renamed)')).content;
    r.copy = (await within(contents.copy('lab/renamed.txt', 'lab'), 'copy')).path;
    r.clash = await statusOf(contents.rename('lab/renamed.txt', 'lab/nb.ipynb'));
    r.checkpoints = await within(contents.listCheckpoints('lab/nb.ipynb'), 'listCheckpoints');
  }, ['contents_save']);
  await step('contents_delete', async (r) => {
    r.nonEmpty = await statusOf(contents.delete('lab'));
    const dir = await within(contents.get('lab'), 'get(directory)');
    for (const m of dir.content) {
      await within(contents.delete(m.path), `delete(${m.path})`);
    }
    await within(contents.delete('lab'), 'delete(lab)');
    r.after = await statusOf(contents.get('lab'));
    r.root = (await within(contents.get(''), 'get(root)')).content.map((m) => m.name);
  }, ['contents_save']);
  await step('contents_escape', async (r) => {
    r.statuses = {};
    for (const path of ['../../etc/passwd', '..', '%2e%2e/etc/passwd', '/etc/passwd', 'a/../../etc/passwd']) {
      r.statuses[path] = await statusOf(contents.get(path));
    }
    r.saveOutside = await statusOf(contents.save('../escaped.txt', { type: 'file', format: 'text', content: 'x' }));
    r.renameOutside = await statusOf(contents.rename('nothing.txt', '../../tmp/escaped.txt'));
  });
  contents.dispose();
} catch (e) {
  report.error = String(e?.stack ?? e);
} finally {
  // The managers poll the server on timers: disposing them (and exiting) ends those.
  sessionManager.dispose();
  kernelManager.dispose();
  specManager.dispose();
}

finish();
