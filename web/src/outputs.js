// An output area as JupyterLab shows it: streams (ANSI colours), rich display data by the
// richest safe MIME type, errors (with the gateway's explained ones set apart),
// update_display_data by display_id and clear_output(wait).
import { marked } from 'marked';
import { appendAnsi, stripAnsi } from './ansi.js';
import { javascriptFrame, scriptFrame } from './frame.js';
import { needsScripts, sanitizeHtml, sanitizeSvg } from './sanitize.js';

// The gateway's own errors: the kernel was killed, not a Python exception (README, "Limits").
const EXPLAINED = {
  CellTimeoutError: 'Time limit reached',
  MemoryLimitExceeded: 'Memory limit reached',
  KernelDied: 'The kernel died',
};

const ORDER = ['application/javascript', 'text/html', 'image/svg+xml', 'image/png', 'image/jpeg',
  'text/markdown', 'application/json', 'text/latex', 'text/plain'];

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function joined(value) {
  return Array.isArray(value) ? value.join('') : String(value ?? '');
}

function base64Image(mime, data) {
  const img = element('img', 'cellbox-image');
  const clean = joined(data).replace(/\s/g, '');
  if (/^[A-Za-z0-9+/=]*$/.test(clean)) img.src = `data:${mime};base64,${clean}`;
  img.alt = 'image output';
  return img;
}

// One display_data / execute_result bundle as a DOM node.
export function renderBundle(data) {
  const mime = ORDER.find((m) => data[m] !== undefined);
  const wrap = element('div', 'cellbox-display');
  wrap.dataset.mime = mime || 'none';
  const value = mime ? data[mime] : '';
  switch (mime) {
    case 'application/javascript':
      wrap.appendChild(javascriptFrame(joined(value)));
      break;
    case 'text/html':
      if (needsScripts(joined(value))) wrap.appendChild(scriptFrame(joined(value)));
      else wrap.appendChild(sanitizeHtml(joined(value)));
      wrap.classList.add('cellbox-html');
      break;
    case 'image/svg+xml': {
      const svg = sanitizeSvg(joined(value));
      const img = element('img', 'cellbox-image');
      img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg);
      img.alt = 'SVG output';
      wrap.appendChild(img);
      break;
    }
    case 'image/png':
    case 'image/jpeg':
      wrap.appendChild(base64Image(mime, value));
      break;
    case 'text/markdown':
      wrap.classList.add('cellbox-markdown');
      wrap.appendChild(sanitizeHtml(marked.parse(joined(value), { async: false })));
      break;
    case 'application/json':
      wrap.appendChild(element('pre', 'cellbox-json', JSON.stringify(value, null, 2)));
      break;
    default:
      wrap.appendChild(element('pre', 'cellbox-text', stripAnsi(joined(value))));
  }
  return wrap;
}

export class OutputArea {
  constructor(root) {
    this.root = root;
    this.displays = new Map(); // display_id -> [nodes]
    this.clearPending = false;
    this.lastStream = null;
  }

  clear() {
    this.root.replaceChildren();
    this.displays.clear();
    this.lastStream = null;
    this.clearPending = false;
  }

  add(node) {
    if (this.clearPending) this.clear();
    this.root.appendChild(node);
    return node;
  }

  // An iopub message of this cell's execution.
  handle(msg) {
    const c = msg.content || {};
    switch (msg.msg_type || msg.header?.msg_type) {
      case 'stream':
        this.stream(c.name, joined(c.text));
        break;
      case 'display_data':
      case 'execute_result':
        this.display(c, msg.msg_type === 'execute_result');
        break;
      case 'update_display_data':
        this.update(c);
        break;
      case 'error':
        this.error(c.ename, c.evalue, c.traceback);
        break;
      case 'clear_output':
        if (c.wait) this.clearPending = true;
        else this.clear();
        break;
      default:
    }
  }

  stream(name, text) {
    if (this.clearPending) this.clear();
    if (!this.lastStream || this.lastStream.dataset.stream !== name || this.lastStream !== this.root.lastChild) {
      this.lastStream = this.add(element('pre', `cellbox-stream cellbox-${name === 'stderr' ? 'stderr' : 'stdout'}`));
      this.lastStream.dataset.stream = name;
    }
    appendAnsi(this.lastStream, text);
  }

  display(content, result) {
    const node = renderBundle(content.data || {});
    if (result) node.classList.add('cellbox-result');
    this.add(node);
    const id = content.transient?.display_id;
    if (id) {
      if (!this.displays.has(id)) this.displays.set(id, []);
      this.displays.get(id).push(node);
    }
  }

  update(content) {
    const id = content.transient?.display_id;
    for (const old of this.displays.get(id) || []) {
      const fresh = renderBundle(content.data || {});
      old.replaceWith(fresh);
      const list = this.displays.get(id);
      list[list.indexOf(old)] = fresh;
    }
  }

  error(ename, evalue, traceback) {
    if (EXPLAINED[ename]) {
      const box = this.add(element('div', 'cellbox-explained'));
      box.dataset.ename = ename;
      box.appendChild(element('strong', '', `${EXPLAINED[ename]} (${ename})`));
      box.appendChild(element('div', '', evalue || ''));
      return;
    }
    const pre = this.add(element('pre', 'cellbox-error'));
    pre.dataset.ename = ename || '';
    appendAnsi(pre, (traceback && traceback.length ? traceback.join('\n') : `${ename}: ${evalue}`));
  }

  // A failure of the widget itself (connection, refused request), not of the code.
  notice(text) {
    this.add(element('div', 'cellbox-notice', text));
  }
}
