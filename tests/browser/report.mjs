// The activity report in a real browser, as a coordinator opens it from its URL: it must render
// with its stylesheet (the CSP allows it by hash; a blocked <style> leaves the page in Times with
// no layout), raise no CSP violation, and print on A4 with each part starting a page.
//
// Run by .ci/browser after the Swagger UI check (which left one situation in the post):
//   RELAIS_URL       base URL of a running `relais serve`
//   RELAIS_TOKEN     a coordinator token for RELAIS_POST_ID
//   RELAIS_POST_ID   the post the report is about
//   REPORT_YEAR      the year of the report
//   PDF              where to write the printed report
//   CHROMIUM         the browser executable (default /usr/bin/chromium)
import { mkdirSync, writeFileSync } from 'node:fs';
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
const year = need('REPORT_YEAR');
const pdfPath = need('PDF');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

const problems = [];
const browser = await launch(executablePath);
const step = (what) => console.log(`report: ${what}`);
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 1000 },
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await watch(page, problems);

  const url = `${base}/api/v1/reports/activity?year=${year}&post_id=${postId}`;
  step(`open ${url}`);
  const answer = await page.goto(url, { waitUntil: 'load' });
  if (!answer || answer.status() !== 200) throw new Error(`the report answered ${answer?.status()}`);
  const csp = answer.headers()['content-security-policy'] || '';
  if (!csp.includes("default-src 'none'")) throw new Error(`the report's CSP is not strict: ${csp}`);

  // A <style> the CSP blocks never becomes a stylesheet: the page would have none.
  const styled = await page.evaluate(() => ({
    sheets: document.styleSheets.length,
    rules: [...document.styleSheets].reduce((n, sheet) => n + sheet.cssRules.length, 0),
    bodyFont: getComputedStyle(document.body).fontFamily,
    figuresDisplay: (() => {
      const figures = document.querySelector('.figures');
      return figures ? getComputedStyle(figures).display : null;
    })(),
    parts: document.querySelectorAll('section.part').length,
    tables: document.querySelectorAll('table').length,
  }));
  step(`styles: ${JSON.stringify(styled)}`);
  if (styled.sheets !== 1 || styled.rules === 0) throw new Error('the report has no stylesheet applied');
  if (/^"?times/i.test(styled.bodyFont)) throw new Error(`the report fell back to ${styled.bodyFont}`);
  if (styled.figuresDisplay !== 'grid') {
    throw new Error(`the key figures are not laid out as a grid (${styled.figuresDisplay})`);
  }
  if (styled.parts < 2 || styled.tables === 0) throw new Error('the report has no parts or tables');

  // Print it as a coordinator would (A4), then count the pages: each part starts one.
  await page.emulateMedia({ media: 'print' });
  const printRules = await page.evaluate(() => {
    const part = getComputedStyle(document.querySelectorAll('section.part')[1]);
    const table = getComputedStyle(document.querySelector('table'));
    return { partBreak: part.breakBefore, tableBreak: table.breakInside };
  });
  step(`print rules: ${JSON.stringify(printRules)}`);
  if (printRules.partBreak !== 'page') throw new Error('a part does not start a printed page');
  if (printRules.tableBreak !== 'avoid') throw new Error('a table may be cut across printed pages');
  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  mkdirSync(dirname(pdfPath), { recursive: true });
  writeFileSync(pdfPath, pdf);
  const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page(?!s)/g) || []).length;
  step(`printed ${pages} A4 page(s) to ${pdfPath}`);
  if (pages < styled.parts) {
    throw new Error(`${styled.parts} parts printed on ${pages} page(s): the parts do not break pages`);
  }
} catch (error) {
  for (const problem of problems) console.error(`report: ${problem}`);
  throw error;
} finally {
  await browser.close();
}

if (problems.length > 0) {
  for (const problem of problems) console.error(`report: ${problem}`);
  throw new Error(`${problems.length} console error(s) or CSP violation(s) on the report`);
}
