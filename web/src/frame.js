// Outputs that need scripts (application/javascript, HTML with <script>) run only here: an
// iframe with sandbox="allow-scripts" and without allow-same-origin has an opaque origin, so
// its scripts cannot reach the host page's DOM, cookies, storage or the widget's token; its
// CSP lets it load nothing from the network. It tells the host its height, nothing else.
const CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:";
const MAX_HEIGHT = 2000;
const frames = new Set();

const SIZE_SCRIPT = `<script>(function(){function send(){parent.postMessage({cellboxFrameHeight:document.documentElement.scrollHeight},'*')}
addEventListener('load',send);new ResizeObserver(send).observe(document.documentElement);})();<\/script>`;

window.addEventListener('message', (event) => {
  for (const frame of frames) {
    if (!frame.isConnected) { frames.delete(frame); continue; }
    if (event.source === frame.contentWindow) {
      const h = Number(event.data && event.data.cellboxFrameHeight);
      if (Number.isFinite(h) && h > 0) frame.style.height = Math.min(h + 4, MAX_HEIGHT) + 'px';
    }
  }
});

function escapeScript(text) {
  return String(text).replace(/<\/script/gi, '<\\/script');
}

// `body`: HTML for the frame's body.
export function scriptFrame(body) {
  const frame = document.createElement('iframe');
  frame.setAttribute('sandbox', 'allow-scripts');
  frame.setAttribute('referrerpolicy', 'no-referrer');
  frame.setAttribute('title', 'output');
  frame.className = 'cellbox-frame';
  frame.srcdoc = `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${CSP}">` +
    `<style>body{margin:0;font:13px sans-serif}</style></head><body>${body}${SIZE_SCRIPT}</body></html>`;
  frames.add(frame);
  return frame;
}

export function javascriptFrame(code) {
  return scriptFrame(`<div id="output"></div><script>${escapeScript(code)}<\/script>`);
}
