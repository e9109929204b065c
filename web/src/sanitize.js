// Everything rich that enters the host page goes through DOMPurify first, and loads nothing:
// no script, no event handler, and no URL but data: in anything the browser would fetch
// (img/src, srcset, xlink:href, CSS url()), so that an output can neither run code in the
// page nor tell a third party it was shown. Links stay links, opened in a new tab.
import DOMPurify from 'dompurify';

const FETCHING = new Set(['src', 'srcset', 'poster', 'background', 'xlink:href', 'data', 'action', 'formaction', 'ping']);
const purifier = DOMPurify(window);

purifier.addHook('uponSanitizeAttribute', (node, data) => {
  const name = data.attrName;
  const value = String(data.attrValue || '').trim();
  if (FETCHING.has(name) || (name === 'href' && node.nodeName.toLowerCase() !== 'a')) {
    if (!/^data:image\/(png|jpeg|gif|webp);/i.test(value) && !value.startsWith('#')) data.keepAttr = false;
  }
  if (name === 'style' && /url\s*\(|expression\s*\(|@import/i.test(value)) data.keepAttr = false;
});
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
});

const HTML_OPTIONS = {
  RETURN_DOM_FRAGMENT: true,
  FORBID_TAGS: ['style', 'link', 'meta', 'base', 'iframe', 'frame', 'object', 'embed', 'form', 'input', 'button', 'textarea', 'select'],
  FORBID_ATTR: ['srcdoc', 'formaction'],
};

// A DocumentFragment safe to append to the page.
export function sanitizeHtml(html) {
  return purifier.sanitize(String(html), HTML_OPTIONS);
}

// SVG as text, scripts and handlers removed; shown through <img> anyway (no script runs in
// an image, nothing it references is fetched).
export function sanitizeSvg(svg) {
  return purifier.sanitize(String(svg), { USE_PROFILES: { svg: true, svgFilters: true } });
}

// Whether HTML needs scripts to mean anything (plotly, widgets' fallbacks): shown in a
// sandboxed frame instead of sanitised into the page.
export function needsScripts(html) {
  return /<script[\s>]/i.test(String(html));
}
