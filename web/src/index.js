// cellbox-embed.js: runnable Python cells on any page, against `cellbox serve`.
//   <script type="application/json" data-cellbox-config>{"url": "...", "token": "..."}</script>
//   <script src=".../static/embed/cellbox-embed.js"></script>
//   <pre data-cellbox>print("hello")</pre>
// or window.cellbox.configure({url, token | getToken, kernel}) and cellbox.mount(element).
// One kernel per page, or one per data-cellbox-group; see web/README.md.
import { Cell } from './cell.js';
import { Kernel } from './kernel.js';

const SCRIPT_PATH = 'static/embed/cellbox-embed.js';
const script = document.currentScript;
// By default the gateway the script came from.
const defaultUrl = script && script.src.endsWith(SCRIPT_PATH) ? script.src.slice(0, -SCRIPT_PATH.length) : location.origin + '/';

const config = { url: defaultUrl };
let configured = null;
let markConfigured;
const whenConfigured = new Promise((resolve) => { markConfigured = resolve; });
const kernels = new Map(); // group -> Kernel
const cells = [];

function configure(options = {}) {
  for (const key of ['url', 'token', 'getToken', 'kernel']) {
    if (options[key] !== undefined) config[key] = options[key];
  }
  if (!config.token && typeof config.getToken !== 'function') {
    throw new Error('cellbox.configure: a token or getToken is needed');
  }
  configured = true;
  markConfigured();
  // Cells mounted before the configuration connect now.
  for (const group of new Set(cells.map((c) => c.group))) kernel(group);
  return api;
}

async function kernel(group = 'default') {
  await whenConfigured;
  if (!kernels.has(group)) {
    const k = new Kernel(config, group);
    kernels.set(group, k);
    for (const cell of cells) if (cell.group === group) k.onStatus((s, r) => cell.onKernelStatus(s, r));
  }
  return kernels.get(group);
}

// Replaces `element` (a <pre> or any element whose text is the code) by a cell.
function mount(element, options = {}) {
  const host = document.createElement('div');
  host.className = 'cellbox-cell';
  for (const [key, value] of Object.entries(element.dataset)) {
    if (key.startsWith('cellbox') && key !== 'cellbox') host.dataset[key] = value;
  }
  if (element.id) host.id = element.id;
  const code = options.code ?? element.textContent.replace(/^\n/, '').replace(/\s+$/, '');
  element.replaceWith(host);
  const cell = new Cell(host, code, {
    group: options.group ?? element.dataset.cellboxGroup,
    timeout: options.timeout ?? element.dataset.cellboxTimeout,
  }, api);
  host.cellbox = cell;
  cells.push(cell);
  const k = kernels.get(cell.group);
  if (k) k.onStatus((s, r) => cell.onKernelStatus(s, r));
  else if (configured) kernel(cell.group);
  return cell;
}

// Runs the cells of `group` (all groups when none is named) one after the other, in page
// order; resolves with their replies. Errors do not stop the others.
async function runAll(group) {
  const results = [];
  for (const cell of cells.filter((c) => group === undefined || c.group === group)) {
    results.push(await cell.run());
  }
  return results;
}

function autoMount() {
  const tag = document.querySelector('script[type="application/json"][data-cellbox-config]');
  if (tag && !configured) {
    try {
      configure(JSON.parse(tag.textContent));
    } catch (e) {
      console.error('cellbox: bad data-cellbox-config:', e.message);
    }
  }
  for (const pre of document.querySelectorAll('pre[data-cellbox]')) mount(pre);
  document.dispatchEvent(new CustomEvent('cellbox:ready'));
}

const api = Object.freeze({
  version: __CELLBOX_VERSION__,
  configure,
  mount,
  runAll,
  kernel,
  get cells() { return cells.slice(); },
  // Cuts every kernel's WebSocket as a network failure would, and stays away `ms`.
  dropConnections(ms = 0) { for (const k of kernels.values()) k.drop(ms); },
});
window.cellbox = api;

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoMount);
else autoMount();
