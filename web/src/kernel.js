// One kernel on the gateway and its WebSocket, shared by the cells of a group: plain JSON
// Jupyter messages (the legacy framing jupyter_server and cellbox speak when no subprotocol
// is asked for), a few dozen lines instead of @jupyterlab/services. A dropped socket is
// reopened with the same session_id, and the gateway replays what the session missed.
import { tokenSource } from './token.js';

const RECONNECT_DELAYS = [250, 500, 1000, 2000, 4000, 8000];
// About a minute and a half of trying; the gateway keeps a session's messages for its
// --replay-timeout (300 s by default) anyway.
const MAX_ATTEMPTS = 15;
// The gateway's answers for a cell whose kernel died (explained errors).
const DEATHS = new Set(['KernelDied', 'MemoryLimitExceeded', 'CellTimeoutError']);
let counter = 0;

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Date.now().toString(16) + '-' + Math.random().toString(16).slice(2) + '-' + (++counter);
}

export class Kernel {
  constructor(config, group) {
    this.config = config;
    this.group = group;
    this.base = config.url.endsWith('/') ? config.url : config.url + '/';
    this.token = tokenSource(config);
    this.session = uuid();
    this.id = null;
    this.ws = null;
    this.status = 'connecting';
    this.reason = '';
    this.pending = new Map(); // msg_id -> execution
    this.listeners = new Set();
    this.attempt = 0;
    this.holdUntil = 0; // tests: stay disconnected until then
    this.closed = false;
    this.ready = this.start();
    this.ready.catch(() => {});
  }

  onStatus(fn) {
    this.listeners.add(fn);
    fn(this.status, this.reason);
  }

  setStatus(status, reason = '') {
    this.status = status;
    this.reason = reason;
    for (const fn of this.listeners) fn(status, reason);
  }

  async request(method, path, body) {
    const token = await this.token();
    const res = await fetch(this.base + path, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!res.ok) {
      const message = (json && (json.message || json.reason)) || `${res.status} ${res.statusText}`;
      throw new Error(`${method} ${path}: ${message}`);
    }
    return json;
  }

  async start() {
    try {
      const model = await this.request('POST', 'api/kernels', this.config.kernel ? { name: this.config.kernel } : {});
      this.id = model.id;
      this.model = model;
      await this.connect();
    } catch (e) {
      this.setStatus('dead', e.message);
      throw e;
    }
  }

  async connect() {
    const token = await this.token();
    const url = new URL(`api/kernels/${encodeURIComponent(this.id)}/channels`, this.base);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('session_id', this.session);
    url.searchParams.set('token', token);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.href);
      this.ws = ws;
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.attempt = 0;
        if (this.status !== 'busy') this.setStatus('idle');
        resolve();
      };
      ws.onmessage = (event) => this.receive(event.data);
      ws.onclose = (event) => {
        if (this.ws !== ws || this.closed) return;
        this.ws = null;
        if (!opened && this.attempt === 0 && event.code === 1006 && !this.everOpened) {
          reject(new Error('cannot open the kernel\'s WebSocket'));
          return;
        }
        this.reconnect();
      };
      ws.addEventListener('open', () => { this.everOpened = true; });
    });
  }

  reconnect() {
    if (this.attempt >= MAX_ATTEMPTS) {
      this.setStatus('dead', `the connection was lost (${MAX_ATTEMPTS} attempts to reconnect failed)`);
      this.abortAll('the connection was lost');
      return;
    }
    this.setStatus('reconnecting');
    const delay = Math.max(RECONNECT_DELAYS[Math.min(this.attempt, RECONNECT_DELAYS.length - 1)],
      this.holdUntil - Date.now());
    this.attempt += 1;
    setTimeout(() => {
      if (this.closed) return;
      this.connect().catch(() => this.reconnect());
    }, delay);
  }

  // Closes the socket as a network failure would, and stays away `ms` (the tests' way to
  // cut a connection mid-cell; also how a page can check its own reconnect handling).
  drop(ms = 0) {
    this.holdUntil = Date.now() + ms;
    if (this.ws) this.ws.close();
  }

  receive(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    const type = msg.msg_type || msg.header?.msg_type;
    const parent = msg.parent_header?.msg_id;
    const run = parent && this.pending.get(parent);
    if (type === 'status' && msg.channel === 'iopub') {
      const state = msg.content?.execution_state;
      if (state === 'restarting' || state === 'dead') this.setStatus(state, this.reason);
      else if (state === 'busy' || state === 'idle') this.setStatus(this.pending.size && state === 'idle' ? 'busy' : state);
      if (run && state === 'idle') { run.idle = true; this.settle(parent); }
      return;
    }
    if (!run) return;
    if (msg.channel === 'shell' && type === 'execute_reply') {
      run.reply = msg.content;
      if (DEATHS.has(msg.content?.ename)) this.checkDead();
      this.settle(parent);
      // The idle status may have been lost with a dead kernel: do not wait for it forever.
      run.timer = setTimeout(() => { run.idle = true; this.settle(parent); }, 1500);
      return;
    }
    if (msg.channel === 'iopub') {
      if (type === 'execute_input') { run.onStart?.(msg.content.execution_count); return; }
      run.onOutput(msg);
    }
  }

  // The gateway answered for a kernel that died: it comes back (restarting) unless it is dead
  // for good, which only its model says (no status message announces it).
  async checkDead() {
    try {
      const model = await this.request('GET', `api/kernels/${encodeURIComponent(this.id)}`);
      if (model && model.execution_state === 'dead') this.setStatus('dead', model.reason || 'the kernel died');
    } catch {
      // Gone or unreachable: the next request says so.
    }
  }

  settle(msgId) {
    const run = this.pending.get(msgId);
    if (!run || !run.reply || !run.idle) return;
    clearTimeout(run.timer);
    this.pending.delete(msgId);
    if (!this.pending.size && this.status === 'busy') this.setStatus('idle');
    run.resolve(run.reply);
  }

  // Runs `code`; resolves with the execute_reply's content once its outputs are in.
  async execute(code, { onOutput, onStart, timeout } = {}) {
    await this.ready;
    const msgId = uuid();
    const metadata = timeout ? { cellbox: { timeout } } : {};
    const msg = {
      header: { msg_id: msgId, msg_type: 'execute_request', username: 'cellbox-embed', session: this.session, date: new Date().toISOString(), version: '5.3' },
      parent_header: {}, metadata, channel: 'shell',
      content: { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false },
    };
    const done = new Promise((resolve) => {
      this.pending.set(msgId, { resolve, onOutput: onOutput || (() => {}), onStart, reply: null, idle: false });
    });
    await this.send(msg);
    this.setStatus('busy');
    return done;
  }

  async send(msg) {
    while (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      if (this.closed || this.status === 'dead') throw new Error('the kernel is not connected');
      await new Promise((r) => setTimeout(r, 100));
    }
    this.ws.send(JSON.stringify(msg));
  }

  // Settles every running cell as aborted (after a restart nothing of them will come).
  abortAll(reason) {
    for (const [id, run] of this.pending) {
      clearTimeout(run.timer);
      run.resolve({ status: 'aborted', reason });
      this.pending.delete(id);
    }
  }

  async interrupt() {
    await this.ready;
    await this.request('POST', `api/kernels/${encodeURIComponent(this.id)}/interrupt`);
  }

  async restart() {
    await this.ready;
    this.setStatus('restarting');
    try {
      await this.request('POST', `api/kernels/${encodeURIComponent(this.id)}/restart`);
    } catch (e) {
      this.setStatus('dead', e.message);
      throw e;
    }
    this.abortAll('the kernel was restarted');
    this.setStatus('idle');
  }
}
