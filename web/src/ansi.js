// ANSI SGR escapes (colours, bold) of streams and tracebacks, as DOM nodes: text only goes
// through textContent, so nothing in a stream is ever parsed as HTML.
const SGR = /\x1b\[([0-9;]*)m/g;
const OTHER_ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07/g;
const NAMES = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

function apply(state, codes) {
  const list = codes === '' ? [0] : codes.split(';').map(Number);
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c === 0) { state.fg = state.bg = null; state.bold = false; }
    else if (c === 1) state.bold = true;
    else if (c === 22) state.bold = false;
    else if (c >= 30 && c <= 37) state.fg = NAMES[c - 30];
    else if (c >= 90 && c <= 97) state.fg = 'bright-' + NAMES[c - 90];
    else if (c === 39) state.fg = null;
    else if (c >= 40 && c <= 47) state.bg = NAMES[c - 40];
    else if (c >= 100 && c <= 107) state.bg = 'bright-' + NAMES[c - 100];
    else if (c === 49) state.bg = null;
    else if ((c === 38 || c === 48) && list[i + 1] === 5) i += 2; // 256 colours: ignored
    else if ((c === 38 || c === 48) && list[i + 1] === 2) i += 4; // true colour: ignored
  }
}

// Appends `text` to `parent` as spans with ansi-* classes.
export function appendAnsi(parent, text) {
  const state = { fg: null, bg: null, bold: false };
  const clean = text.replace(OTHER_ESCAPES, (m) => (m.endsWith('m') && m.startsWith('\x1b[') ? m : ''));
  let last = 0;
  const emit = (chunk) => {
    if (!chunk) return;
    if (!state.fg && !state.bg && !state.bold) {
      parent.appendChild(document.createTextNode(chunk));
      return;
    }
    const span = document.createElement('span');
    if (state.fg) span.classList.add('ansi-' + state.fg);
    if (state.bg) span.classList.add('ansi-bg-' + state.bg);
    if (state.bold) span.classList.add('ansi-bold');
    span.textContent = chunk;
    parent.appendChild(span);
  };
  for (const match of clean.matchAll(SGR)) {
    emit(clean.slice(last, match.index));
    apply(state, match[1]);
    last = match.index + match[0].length;
  }
  emit(clean.slice(last));
}

export function stripAnsi(text) {
  return text.replace(SGR, '').replace(OTHER_ESCAPES, '');
}
