// Debian's chromium as the browser suites open it (tests/browser, tests/embed). playwright-core
// is passed in: each suite installs its own copy in its node_modules.
export function launchChromium(chromium) {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

// A page whose console errors and uncaught exceptions are pushed to `errors`, with `timeout`
// for every step.
export async function newPage(browser, { width, height, timeout, errors }) {
  const page = await browser.newPage({ viewport: { width, height } });
  page.setDefaultTimeout(timeout);
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  return page;
}
