// One runnable cell: a CodeMirror 6 editor (Python), its buttons and status, and its output
// area, all in an open shadow root. The DOM contract for page authors and tests:
// buttons [data-cellbox-action=run|run-all|interrupt|restart], the output [data-cellbox-output],
// and on the host element data-cellbox-state (connecting, idle, queued, busy, error,
// reconnecting, restarting, dead) and data-cellbox-count (the last execution count).
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { python } from '@codemirror/lang-python';
import { defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap } from '@codemirror/view';
import { OutputArea } from './outputs.js';
import { CSS } from './styles.js';

const ACTIONS = [['run', 'Run'], ['run-all', 'Run all'], ['interrupt', 'Interrupt'], ['restart', 'Restart']];
const KERNEL_STATES = new Set(['connecting', 'reconnecting', 'restarting', 'dead']);

export class Cell {
  // `registry`: the page's cellbox (kernels by group, runAll of a group).
  constructor(host, code, options, registry) {
    this.host = host;
    this.registry = registry;
    this.group = options.group || 'default';
    this.timeout = Number(options.timeout) || undefined;
    this.runState = null;
    this.kernelState = 'connecting';
    this.running = null;
    const root = host.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = CSS;
    const cell = document.createElement('div');
    cell.className = 'cell';
    cell.setAttribute('part', 'cell');
    const bar = document.createElement('div');
    bar.className = 'bar';
    for (const [action, label] of ACTIONS) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      button.dataset.cellboxAction = action;
      button.addEventListener('click', () => this.action(action));
      bar.appendChild(button);
    }
    this.prompt = document.createElement('span');
    this.prompt.className = 'prompt';
    this.status = document.createElement('span');
    this.status.className = 'status';
    this.status.dataset.cellboxStatus = '';
    bar.append(this.prompt, this.status);
    const editor = document.createElement('div');
    editor.className = 'editor';
    const output = document.createElement('div');
    output.dataset.cellboxOutput = '';
    cell.append(bar, editor, output);
    root.append(style, cell);
    this.output = new OutputArea(output);
    this.editor = new EditorView({
      root,
      parent: editor,
      state: EditorState.create({
        doc: code,
        extensions: [
          history(), python(), syntaxHighlighting(defaultHighlightStyle),
          keymap.of([{ key: 'Shift-Enter', run: () => { this.run(); return true; } }, ...defaultKeymap, ...historyKeymap]),
        ],
      }),
    });
    this.render();
  }

  get code() { return this.editor.state.doc.toString(); }
  set code(text) { this.editor.dispatch({ changes: { from: 0, to: this.editor.state.doc.length, insert: String(text) } }); }

  action(name) {
    const quiet = (p) => p.catch((e) => this.output.notice(e.message));
    if (name === 'run') quiet(this.run());
    else if (name === 'run-all') quiet(this.registry.runAll(this.group));
    else if (name === 'interrupt') quiet(this.registry.kernel(this.group).then((k) => k.interrupt()));
    else if (name === 'restart') quiet(this.registry.kernel(this.group).then((k) => k.restart()));
  }

  onKernelStatus(status, reason) {
    this.kernelState = status;
    if (status === 'restarting' && !this.running) this.runState = null; // a fresh kernel
    this.status.dataset.kernel = status;
    this.status.textContent = status === 'dead' && reason ? `dead: ${reason}` : status;
    this.render();
  }

  render() {
    let state = this.runState === 'queued' || this.runState === 'busy' ? this.runState : null;
    if (!state && KERNEL_STATES.has(this.kernelState)) state = this.kernelState;
    if (!state) state = this.runState === 'error' ? 'error' : 'idle';
    this.host.dataset.cellboxState = state;
  }

  // Runs the cell; resolves with the execute_reply's content ({status: ok|error|aborted})
  // once its outputs are shown. Running a cell that runs returns the same promise.
  run() {
    if (this.running) return this.running;
    this.running = this.execute().finally(() => { this.running = null; this.render(); });
    return this.running;
  }

  async execute() {
    this.output.clear();
    this.runState = 'queued';
    this.prompt.textContent = '[*]';
    this.render();
    try {
      const kernel = await this.registry.kernel(this.group);
      const reply = await kernel.execute(this.code, {
        timeout: this.timeout,
        onStart: () => { this.runState = 'busy'; this.render(); },
        onOutput: (msg) => this.output.handle(msg),
      });
      this.runState = reply.status === 'error' ? 'error' : 'done';
      this.host.dataset.cellboxCount = reply.execution_count ?? '';
      this.prompt.textContent = reply.execution_count ? `[${reply.execution_count}]` : '[ ]';
      return reply;
    } catch (e) {
      this.runState = 'error';
      this.prompt.textContent = '[!]';
      this.output.notice(e.message);
      return { status: 'error', ename: 'CellboxError', evalue: e.message };
    }
  }
}
