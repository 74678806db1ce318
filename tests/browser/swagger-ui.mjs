// Swagger UI in a real browser: authorise with a bearer token, create a situation with
// "Try it out" on POST /api/v1/situations, read the 201 in the response panel, save a screenshot.
//
// Run by .ci/browser, which starts the server and passes:
//   RELAIS_URL       base URL of a running `relais serve` (http://127.0.0.1:PORT)
//   RELAIS_TOKEN     a social_worker token for RELAIS_POST_ID
//   RELAIS_POST_ID   the post the situation is opened in
//   SCREENSHOT       where to write the PNG
//   CHROMIUM         the browser executable (default /usr/bin/chromium)
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { launch, watch } from './chromium.mjs';

const need = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = need('RELAIS_URL');
const token = need('RELAIS_TOKEN');
const postId = need('RELAIS_POST_ID');
const screenshot = need('SCREENSHOT');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30_000;

// The body of api/tests/api/support.rs `situation_body`, in the real post.
const body = {
  post_id: postId,
  opened_on: '2026-03-14',
  origin: 'police',
  standing: 'victim',
  penal: true,
  problems: ['conjugal_violence', 'housing'],
  principal_problem: 'conjugal_violence',
  beneficiary: {
    first_name: 'Camille',
    last_name: 'Martin',
    birth_year: 1987,
    sex: 'female',
    commune_code: '07010',
    known_to_social_services: 'no',
  },
};

const problems = []; // console errors, CSP violations and page errors: any of them fails the test
const browser = await launch(executablePath);
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await watch(page, problems);

  const step = (what) => console.log(`browser: ${what}`);

  step(`open ${base}/swagger-ui/`);
  const answer = await page.goto(`${base}/swagger-ui/`, { waitUntil: 'load' });
  if (!answer || answer.status() !== 200) throw new Error(`/swagger-ui/ answered ${answer?.status()}`);
  // The spec is loaded and rendered once the operations appear.
  await page.locator('.opblock').first().waitFor();

  step('authorise with the bearer token');
  await page.locator('.scheme-container button.authorize').click();
  const modal = page.locator('.dialog-ux .modal-ux');
  await modal.waitFor();
  const scheme = modal.locator('.auth-container').filter({ hasText: 'bearer' });
  await scheme.locator('input').fill(token);
  await scheme.locator('button.authorize').click();
  // Once authorised, the scheme says so and the dialog offers "Logout" instead of "Authorize".
  await scheme.getByText('Authorized', { exact: true }).waitFor();
  await modal.locator('button', { hasText: 'Logout' }).waitFor();
  await modal.locator('button.btn-done').click();
  await modal.waitFor({ state: 'detached' });

  step('POST /api/v1/situations: Try it out');
  const operation = page.locator('.opblock.opblock-post').filter({
    has: page.locator('.opblock-summary-path[data-path="/api/v1/situations"]'),
  });
  await operation.locator('.opblock-summary').first().click();
  await operation.locator('button.try-out__btn').click();
  // The spec's example names a placeholder post; put a valid body in the editor instead.
  const editor = operation.locator('textarea.body-param__text');
  await editor.fill(JSON.stringify(body, null, 2));

  step('execute');
  const created = page.waitForResponse(
    (r) => r.url() === `${base}/api/v1/situations` && r.request().method() === 'POST',
  );
  await operation.locator('button.execute').click();
  const network = await created;
  const sent = network.request().headers().authorization || '';
  if (sent !== `Bearer ${token}`) throw new Error('the request did not carry the bearer token');

  // The live response panel ("Server response"): its code and body.
  const live = operation.locator('.live-responses-table');
  const status = live.locator('tbody .response-col_status').first();
  await status.waitFor();
  const code = (await status.innerText()).trim();
  const shown = await live.locator('tbody .response-col_description').first().innerText();
  await live.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy(0, -150));
  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot });
  step(`screenshot ${screenshot}`);

  if (code !== '201') throw new Error(`the response panel shows ${code}, not 201:\n${shown}`);
  if (!shown.includes(postId)) {
    throw new Error(`the response panel does not show the new situation:\n${shown}`);
  }
  step(`the response panel shows ${code} (network: ${network.status()})`);
} catch (error) {
  if (page) {
    const failed = screenshot.replace(/\.png$/, '-failed.png');
    mkdirSync(dirname(failed), { recursive: true });
    await page.screenshot({ path: failed, fullPage: false }).catch(() => {});
    console.error(`browser: failure screenshot ${failed}`);
  }
  for (const problem of problems) console.error(`browser: ${problem}`);
  throw error;
} finally {
  await browser.close();
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`browser: ${problem}`);
  throw new Error(`${problems.length} console error(s) or CSP violation(s) on Swagger UI`);
}
