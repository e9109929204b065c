// The cell's styles, inside its shadow root: the host page's CSS does not reach in, and the
// page themes cells through these custom properties (they inherit through the shadow DOM).
export const CSS = `
:host { all: initial; display: block; margin: 0.8em 0; color: var(--cellbox-fg, #1f2328);
  font: var(--cellbox-font-size, 14px)/1.45 var(--cellbox-font, system-ui, sans-serif); }
.cell { border: 1px solid var(--cellbox-border, #d0d7de); border-radius: var(--cellbox-radius, 6px);
  background: var(--cellbox-bg, #fff); overflow: hidden; }
.bar { display: flex; gap: 4px; align-items: center; padding: 4px 6px;
  background: var(--cellbox-bar-bg, #f6f8fa); border-bottom: 1px solid var(--cellbox-border, #d0d7de); }
button { all: unset; cursor: pointer; padding: 2px 8px; border-radius: 4px; font-size: 12px;
  color: var(--cellbox-fg, #1f2328); border: 1px solid transparent; }
button:hover, button:focus-visible { border-color: var(--cellbox-border, #d0d7de); background: var(--cellbox-bg, #fff); }
button[data-cellbox-action="run"] { color: #fff; background: var(--cellbox-accent, #0969da); }
.status { margin-left: auto; font-size: 12px; color: var(--cellbox-muted, #57606a); }
.status[data-kernel="busy"]::before, .status[data-kernel="connecting"]::before,
.status[data-kernel="reconnecting"]::before { content: "● "; color: var(--cellbox-busy, #bf8700); }
.status[data-kernel="dead"] { color: var(--cellbox-error, #cf222e); }
.prompt { font: 12px var(--cellbox-mono, ui-monospace, monospace); color: var(--cellbox-muted, #57606a); }
.editor .cm-editor { font: 13px/1.5 var(--cellbox-mono, ui-monospace, SFMono-Regular, Menlo, monospace); }
.editor .cm-editor.cm-focused { outline: none; }
.editor .cm-content { padding: 6px 0; }
[data-cellbox-output]:empty { display: none; }
[data-cellbox-output] { border-top: 1px solid var(--cellbox-border, #d0d7de); padding: 6px 10px; overflow-x: auto; }
pre { margin: 2px 0; white-space: pre-wrap; word-break: break-word; font: 12.5px/1.4 var(--cellbox-mono, ui-monospace, monospace); }
.cellbox-stderr { background: var(--cellbox-stderr-bg, #fff5f5); }
.cellbox-error { background: var(--cellbox-stderr-bg, #fff5f5); padding: 4px; }
.cellbox-explained { border-left: 4px solid var(--cellbox-error, #cf222e); padding: 4px 8px; background: var(--cellbox-stderr-bg, #fff5f5); }
.cellbox-notice { color: var(--cellbox-error, #cf222e); font-size: 12px; }
.cellbox-image { max-width: 100%; }
.cellbox-frame { width: 100%; height: 60px; border: 0; }
.cellbox-html table { border-collapse: collapse; font-size: 12px; }
.cellbox-html th, .cellbox-html td { border: 1px solid var(--cellbox-border, #d0d7de); padding: 2px 6px; text-align: right; }
.ansi-black { color: #3e4451 } .ansi-red { color: #c0392b } .ansi-green { color: #1a7f37 } .ansi-yellow { color: #9a6700 }
.ansi-blue { color: #0550ae } .ansi-magenta { color: #8250df } .ansi-cyan { color: #1b7c83 } .ansi-white { color: #6e7781 }
.ansi-bright-red { color: #e5534b } .ansi-bright-green { color: #2da44e } .ansi-bright-yellow { color: #bf8700 }
.ansi-bright-blue { color: #218bff } .ansi-bright-magenta { color: #a475f9 } .ansi-bright-cyan { color: #3192aa }
.ansi-bg-red { background: #ffebe9 } .ansi-bg-green { background: #dafbe1 } .ansi-bg-yellow { background: #fff8c5 }
.ansi-bold { font-weight: bold }
`;
