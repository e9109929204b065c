// Drives Debian's chromium through pages that embed cellbox-embed.js and prints what it saw
// as one JSON line on stdout; test_embed.py asserts on it (and bench/embed_bench.py times
// it). Exit 1 with {"error"} only when a page does not get where it has to.
//
//   node run.mjs SCENARIO URL [JSON]
//
// SCENARIO: landing (the landing page at URL, ?token=...), embed (the example page at URL,
// another origin than the gateway; JSON.extra: more cells {code, group} run after its own), xss (the example page, then JSON.payloads as new cells),
// dead (the landing page at URL: a cell ends the kernel of a gateway that does not restart it),
// firstresult (load URL, run its first cell: milliseconds from navigation to its output).
// JSON.screenshot: a PNG of the page is written there at the end.
import { chromium } from 'playwright-core';
import { launchChromium, newPage } from '../browser/chromium.mjs';

const [scenario, url, extra] = process.argv.slice(2);
const options = extra ? JSON.parse(extra) : {};
const STEP = 30_000;
const result = { steps: [], console: [] };
const t0 = Date.now();
const step = (name) => result.steps.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${name}`);

// What a cell shows, read through the widget's DOM contract (open shadow roots).
function readCell(host) {
  const out = host.shadowRoot.querySelector('[data-cellbox-output]');
  const all = (sel) => Array.from(out.querySelectorAll(sel));
  return {
    id: host.id,
    state: host.dataset.cellboxState,
    count: host.dataset.cellboxCount ?? null,
    status: host.shadowRoot.querySelector('[data-cellbox-status]').textContent,
    text: out.innerText,
    streams: all('.cellbox-stream').map((e) => e.textContent),
    errors: all('.cellbox-error').map((e) => ({ ename: e.dataset.ename, text: e.textContent })),
    explained: all('.cellbox-explained').map((e) => ({ ename: e.dataset.ename, text: e.textContent })),
    images: all('img').map((e) => (e.getAttribute('src') || '').slice(0, 40)),
    tables: all('table').map((t) => t.querySelectorAll('tr').length),
    frames: all('iframe').length,
    results: all('.cellbox-result').map((e) => e.textContent.trim()),
    ansi: all('[class*="ansi-"]').map((e) => `${e.className}:${e.textContent}`),
    markdown: all('.cellbox-markdown h1').map((e) => e.textContent),
    json: all('.cellbox-json').map((e) => JSON.parse(e.textContent)),
  };
}

async function cells(page) {
  return page.evaluate((read) => Array.from(document.querySelectorAll('.cellbox-cell'))
    .map((h) => (0, eval)(`(${read})`)(h)), readCell.toString());
}

async function waitCellsIdle(page, ids) {
  await page.waitForFunction((ids) => {
    const hosts = Array.from(document.querySelectorAll('.cellbox-cell')).filter((h) => !ids || ids.includes(h.id));
    return hosts.length > 0 && hosts.every((h) => !['queued', 'busy', 'connecting', 'reconnecting', 'restarting'].includes(h.dataset.cellboxState));
  }, ids, { timeout: STEP });
}

async function cellState(page, id, states) {
  await page.waitForFunction(([id, states]) => states.includes(document.getElementById(id)?.dataset.cellboxState), [id, states], { timeout: STEP });
}

async function click(page, id, action) {
  await page.locator(`#${id} [data-cellbox-action="${action}"]`).click();
}

async function setCode(page, id, code) {
  await page.evaluate(([id, code]) => { document.getElementById(id).cellbox.code = code; }, [id, code]);
}

async function landing(page) {
  await page.goto(url);
  step('page loaded');
  await waitCellsIdle(page);
  step('kernel idle');
  result.addressBar = page.url();
  result.stored = await page.evaluate(() => sessionStorage.getItem('cellbox-token') !== null);
  await click(page, 'cell-state', 'run-all');
  await page.waitForFunction(() => document.getElementById('cell-timeout').dataset.cellboxCount !== undefined ||
    document.getElementById('cell-timeout').shadowRoot.querySelector('.cellbox-explained'), null, { timeout: 60_000 });
  await waitCellsIdle(page);
  step('all cells ran');
  result.limits = await page.locator('#limits').textContent();
  result.health = await page.locator('#health-kernels').textContent();
  result.pool = await page.locator('#health-pool').textContent();
  result.cells = await cells(page);
}

async function embed(page) {
  await page.goto(url);
  step('page loaded');
  await page.waitForFunction(() => window.cellbox && window.cellbox.cells.length === 3, null, { timeout: STEP });
  await waitCellsIdle(page);
  step('kernel idle');
  await click(page, 'orders', 'run-all');
  await page.waitForFunction(() => document.getElementById('chart').dataset.cellboxCount, null, { timeout: STEP });
  await waitCellsIdle(page);
  step('ran all');
  result.ran = await cells(page);

  // More cells, mounted through the JS API, some in a group (a kernel) of their own.
  result.extra = await page.evaluate(async (extra) => {
    const replies = [];
    for (const [i, { code, group }] of extra.entries()) {
      const pre = document.createElement('pre');
      pre.id = `extra-${i}`;
      pre.textContent = code;
      document.body.appendChild(pre);
      replies.push((await window.cellbox.mount(pre, { group }).run()).status);
    }
    return replies;
  }, options.extra || []);
  result.extraCells = (await cells(page)).filter((c) => c.id.startsWith('extra-'));
  step('extra cells ran');

  // Interrupt: a sleeping cell stops with KeyboardInterrupt long before its 30 s.
  await setCode(page, 'best', 'import time\ntime.sleep(30)');
  await click(page, 'best', 'run');
  await cellState(page, 'best', ['busy']);
  await page.waitForTimeout(500);
  const interruptAt = Date.now();
  await click(page, 'best', 'interrupt');
  await waitCellsIdle(page, ['best']);
  result.interruptSeconds = (Date.now() - interruptAt) / 1000;
  result.interrupted = (await cells(page)).find((c) => c.id === 'best');
  step('interrupted');

  // Restart: the variables are gone.
  await click(page, 'best', 'restart');
  await page.waitForFunction(() => document.getElementById('best').dataset.cellboxState === 'idle', null, { timeout: STEP });
  await setCode(page, 'best', 'orders');
  await click(page, 'best', 'run');
  await page.waitForFunction(() => document.getElementById('best').dataset.cellboxCount === '1', null, { timeout: STEP });
  await waitCellsIdle(page, ['best']);
  result.afterRestart = (await cells(page)).find((c) => c.id === 'best');
  step('restarted');

  // A connection cut mid-cell, kept down past the cell's end, then reopened.
  await setCode(page, 'best', 'import time\ntime.sleep(2)\nprint("finished while away")\n"done"');
  await click(page, 'best', 'run');
  await cellState(page, 'best', ['busy']);
  const states = [];
  await page.exposeFunction('noteState', (s) => states.push(s));
  await page.evaluate(() => {
    const host = document.getElementById('best');
    const status = host.shadowRoot.querySelector('[data-cellbox-status]');
    new MutationObserver(() => window.noteState(status.dataset.kernel)).observe(status, { attributes: true });
    window.cellbox.dropConnections(4000);
  });
  await page.waitForFunction(() => document.getElementById('best').dataset.cellboxCount === '2', null, { timeout: STEP });
  await waitCellsIdle(page, ['best']);
  result.kernelStatesDuringDrop = states;
  result.afterDrop = (await cells(page)).find((c) => c.id === 'best');
  step('reconnected');
}

async function xss(page) {
  await page.goto(url);
  await page.waitForFunction(() => window.cellbox && window.cellbox.cells.length === 3, null, { timeout: STEP });
  await waitCellsIdle(page);
  step('kernel idle');
  const ids = await page.evaluate((payloads) => payloads.map((code, i) => {
    const pre = document.createElement('pre');
    pre.id = `xss-${i}`;
    pre.textContent = code;
    document.body.appendChild(pre);
    window.cellbox.mount(pre);
    return pre.id;
  }), options.payloads);
  await page.evaluate(async (ids) => {
    for (const id of ids) await document.getElementById(id).cellbox.run();
  }, ids);
  await page.waitForTimeout(1500); // whatever a payload would do, it had time to
  step('payloads ran');
  result.payloadCells = (await cells(page)).filter((c) => c.id.startsWith('xss-'));
  result.pwned = await page.evaluate(() => [typeof window.pwned, document.body.dataset.pwned ?? null]);
  // Every output frame has an opaque origin: the page cannot read into it, it cannot read out.
  result.frames = await page.evaluate(() => Array.from(document.querySelectorAll('.cellbox-cell'))
    .flatMap((h) => Array.from(h.shadowRoot.querySelectorAll('iframe')))
    .map((f) => ({ sandbox: f.getAttribute('sandbox'), readable: (() => { try { return f.contentDocument !== null; } catch { return false; } })() })));
}

// The landing page of a gateway that leaves dead kernels dead (--no-restart-on-death): a cell
// that ends its kernel turns its status to "dead: <the gateway's reason>".
async function dead(page) {
  await page.goto(url);
  await waitCellsIdle(page);
  step('kernel idle');
  await page.evaluate(async () => {
    const pre = document.createElement('pre');
    pre.id = 'fatal';
    pre.textContent = 'import os\nos._exit(3)';
    document.body.appendChild(pre);
    await window.cellbox.mount(pre).run().catch(() => {});
  });
  await page.waitForFunction(() => document.getElementById('fatal').shadowRoot
    .querySelector('[data-cellbox-status]').textContent.startsWith('dead'), null, { timeout: STEP });
  step('dead');
  result.fatal = (await cells(page)).find((c) => c.id === 'fatal');
}

async function firstresult(page) {
  const start = Date.now();
  await page.goto(url);
  await page.waitForFunction(() => window.cellbox && window.cellbox.cells.length > 0, null, { timeout: STEP });
  await page.evaluate(() => window.cellbox.cells[0].run());
  await page.waitForFunction(() => document.querySelector('.cellbox-cell').shadowRoot.querySelector('[data-cellbox-output]').textContent.length > 0, null, { timeout: STEP });
  result.firstResultMs = Date.now() - start;
}

const browser = await launchChromium(chromium);
let page;
let failed = false;
try {
  page = await newPage(browser, { width: 1100, height: 1400, timeout: STEP, errors: result.console });
  await ({ landing, embed, xss, dead, firstresult })[scenario](page);
} catch (e) {
  failed = true;
  result.error = String(e && e.stack || e);
  try { result.cellsAtFailure = await cells(page); } catch { /* no page */ }
} finally {
  if (page && options.screenshot) {
    await page.screenshot({ path: options.screenshot, fullPage: true }).catch(() => {});
  }
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(failed ? 1 : 0);
