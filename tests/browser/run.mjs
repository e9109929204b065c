// Drives Debian's chromium through Notebook 6's UI (the classic notebook started by
// test_browser.py with --gateway-url pointing at cellbox serve) and prints what it saw as
// one JSON line on stdout. The assertions live in test_browser.py; this script only fails
// (exit 1, JSON with "error") when the page does not get where it has to.
//
//   node run.mjs NOTEBOOK_URL SCREENSHOT_PNG
//
// NOTEBOOK_URL is http://127.0.0.1:P/notebooks/test.ipynb?token=T. The screenshot of the
// last state of the page is always written; the wrapper keeps it only when the test fails.
import { chromium } from 'playwright-core';
import { launchChromium, newPage } from './chromium.mjs';

const [url, screenshot] = process.argv.slice(2);
if (!url || !screenshot) {
  console.error('usage: node run.mjs NOTEBOOK_URL SCREENSHOT_PNG');
  process.exit(2);
}

const STEP_TIMEOUT = 20_000;
const result = { steps: [] };
const t0 = Date.now();
const step = (name) => result.steps.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${name}`);

// Everything a code cell shows, read from the DOM as a person sees it.
function readCells() {
  return Array.from(document.querySelectorAll('#notebook-container .cell.code_cell')).map((cell) => ({
    source: cell.querySelector('.input .CodeMirror')?.CodeMirror?.getValue() ?? '',
    prompt: cell.querySelector('.input_prompt')?.textContent.trim() ?? '',
    result: Array.from(cell.querySelectorAll('.output_result')).map((e) => e.textContent.trim()),
    stream: Array.from(cell.querySelectorAll('.output_stream')).map((e) => e.textContent),
    error: Array.from(cell.querySelectorAll('.output_error')).map((e) => e.textContent),
    images: Array.from(cell.querySelectorAll('.output_area img')).map((e) => e.getAttribute('src') ?? ''),
    html: Array.from(cell.querySelectorAll('.output_html')).map((e) => e.innerHTML),
    rich: Array.from(cell.querySelectorAll('.output_html #rich')).map((e) => e.textContent),
  }));
}

// True once every code cell has a finished prompt ("In [n]:", not "In [*]:" or "In [ ]:").
function allExecuted() {
  const cells = Array.from(document.querySelectorAll('#notebook-container .cell.code_cell'));
  return cells.length > 0 && cells.every((cell) => /^In\s*\[\d+\]:$/.test(
    cell.querySelector('.input_prompt')?.textContent.trim() ?? ''));
}

// Types `code` into a new cell below the last one, with the keyboard, and runs it in place.
async function typeAndRun(page, code) {
  await page.locator('#notebook-container .cell.code_cell .input_prompt').last().click();
  await page.keyboard.press('Escape');               // command mode on the last cell
  await page.keyboard.press('b');                    // insert a cell below and select it
  await page.keyboard.press('Enter');                // edit mode
  await page.keyboard.type(code);
  await page.keyboard.press('Control+Enter');        // run, stay on the cell (no new cell)
}

async function waitIdle(page) {
  await page.waitForSelector('#kernel_indicator_icon.kernel_idle_icon', { timeout: STEP_TIMEOUT });
}

async function menu(page, top, item) {
  await page.click(top);
  await page.click(item);
}

const browser = await launchChromium(chromium);
let page;
let failed = false;
try {
  result.console = [];
  page = await newPage(browser, { width: 1280, height: 1600, timeout: STEP_TIMEOUT, errors: result.console });

  await page.goto(url);
  step('page loaded');
  await waitIdle(page);
  step('kernel idle');
  result.kernel = await page.evaluate(() => ({
    id: Jupyter.notebook.kernel.id,
    name: Jupyter.notebook.kernel.name,
  }));

  // Cell > Run All, then wait for every prompt to show its execution count.
  await menu(page, '#celllink', '#run_all_cells > a');
  step('run all');
  await page.waitForFunction(allExecuted, null, { timeout: STEP_TIMEOUT });
  await waitIdle(page);
  step('all cells executed');
  result.cells = await page.evaluate(readCells);

  // Kernel > Restart, confirm the dialog, wait for the new kernel to come up idle.
  // Notebook 6 reconnects its WebSocket after a restart and fires kernel_ready once the new
  // kernel answered kernel_info; until then the indicator may still show the old "idle".
  await page.evaluate(() => Jupyter.notebook.events.one('kernel_ready.Kernel', () => {
    window.cellboxRestarted = true;
  }));
  await menu(page, '#kernellink', '#restart_kernel > a');
  const confirm = page.locator('.modal-dialog .modal-footer button.btn-danger', { hasText: 'Restart' });
  await confirm.click();
  step('restart confirmed');
  await page.waitForFunction(() => window.cellboxRestarted === true);
  await waitIdle(page);
  step('kernel idle after restart');
  result.kernelAfterRestart = await page.evaluate(() => ({
    id: Jupyter.notebook.kernel.id,
    name: Jupyter.notebook.kernel.name,
  }));

  // A new cell typed after the restart: the old state (and execution count) is gone.
  await typeAndRun(page, 'x');
  step('typed x');
  await page.waitForFunction(allExecuted);
  await waitIdle(page);
  step('x executed');

  // Kernel > Interrupt while a cell sleeps: KeyboardInterrupt well before the sleep ends.
  await typeAndRun(page, 'import time; time.sleep(30)');
  await page.waitForSelector('#kernel_indicator_icon.kernel_busy_icon');
  await page.waitForTimeout(500);                    // let the cell reach time.sleep
  step('sleeping');
  await menu(page, '#kernellink', '#int_kernel > a');
  step('interrupt clicked');
  await page.waitForFunction(allExecuted);
  await waitIdle(page);
  step('interrupted');
  result.cellsAfterRestart = await page.evaluate(readCells);
} catch (e) {
  failed = true;
  result.error = String(e?.stack ?? e);
} finally {
  if (page) {
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  }
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(failed ? 1 : 0);
