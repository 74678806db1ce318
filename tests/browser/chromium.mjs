// What every browser check shares: Debian's Chromium launched headless as CI can run it, and a
// page that collects console errors, page errors and CSP violations (any of them fails a check).
import { chromium } from 'playwright-core';

/** Chromium, headless. */
export function launch(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    // As root in a container Chromium has no sandbox; the machine's network is closed, so no
    // background connections (updates, sync, QUIC).
    args: [
      '--no-sandbox',
      '--disable-dev-shm-usage',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Pushes onto `problems` every console error, page error and CSP violation of `page`. */
export async function watch(page, problems) {
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // A violation the console reports only as text is also caught as an event, with its directive.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      console.error(
        `CSP violation: ${event.violatedDirective} blocked ${event.blockedURI || '(inline)'} ` +
          `(${event.sourceFile || ''}:${event.lineNumber || ''})`,
      );
    });
  });
}
