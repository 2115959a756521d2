// tests/browser/screenshot.mjs — the README's console screenshots (docs/console-*.png), taken with
// the system Chromium headless.  Usage (tools/console-screenshot.sh runs it against a demo server):
//   node tests/browser/screenshot.mjs BASE_URL TOKEN OUT_DIR
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const [base, token, outDir] = process.argv.slice(2);
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'edgefhir-shot-'));
const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, userDataDir: profile,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1180, height: 760 });
  await page.goto(base + '/console/#token=' + encodeURIComponent(token), { waitUntil: 'load' });
  await page.waitForFunction(() => (document.querySelector('#verdict-word') || {}).textContent === 'accepted');
  await page.screenshot({ path: path.join(outDir, 'console-token.png') });
  await page.goto(base + '/console/#/r/Observation/demo-obs-bp-1', { waitUntil: 'load' });
  await page.waitForSelector('#resource-json');
  await page.screenshot({ path: path.join(outDir, 'console-resource.png') });
  await page.goto(base + '/console/#/status', { waitUntil: 'load' });
  await page.waitForSelector('#keys');
  await page.screenshot({ path: path.join(outDir, 'console-status.png') });
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
}
