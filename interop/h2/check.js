#!/usr/bin/env node
// Headless Chromium against the interop/h2 server:
//
//   NODE_PATH=../shared/interop/node_modules node interop/h2/check.js https://127.0.0.1:PORT/ EXPECT
//
// EXPECT is "HTTP/2 CONNECT" or "HTTP/1.1 Upgrade": how the page's WebSocket
// must have arrived at the server. Opens the page (same origin as the
// WebSocket, so Chromium reuses its HTTP/2 connection when the server
// advertises SETTINGS_ENABLE_CONNECT_PROTOCOL), waits for its checks, and
// prints "PASS name" / "FAIL name: why" lines, then "N passed, M failed".
// Chromium is started as the shared kit's chromium-client-check.js starts
// it, plus --ignore-certificate-errors for the self-signed certificate.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const [pageUrl, expect] = process.argv.slice(2);
const EXECUTABLE = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const hard = setTimeout(() => { console.log('# hard time limit reached'); finish([['page', false, 'hard time limit']]); }, 58000);

let context = null;
let userDataDir = null;
let finished = false;
function finish(results) {
  if (finished) return;
  finished = true;
  clearTimeout(hard);
  let passed = 0, failed = 0;
  for (const [name, ok, why] of results) {
    console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
    if (ok) passed++; else failed++;
  }
  const done = () => {
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    process.stdout.write(`${passed} passed, ${failed} failed\n`, () => process.exit(failed ? 1 : 0));
  };
  if (context) Promise.race([context.close(), new Promise((r) => setTimeout(r, 5000))]).then(done, done);
  else done();
}

(async () => {
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ws-h2-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: EXECUTABLE,
    headless: true,
    timeout: 20000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--ignore-certificate-errors',
    ],
  });
  const browser = context.browser();
  console.log(`# chromium ${browser ? browser.version() : '(unknown)'}, page ${pageUrl}`);
  const page = context.pages()[0] || (await context.newPage());
  const consoleLines = [];
  page.on('console', (m) => consoleLines.push(`console.${m.type()}: ${m.text()}`));
  const results = [];
  try {
    await page.goto(pageUrl, { timeout: 10000, waitUntil: 'load' });
    await page.waitForSelector('body[data-done="true"]', { timeout: 45000 });
    for (const r of await page.$$eval('#results tr', (trs) => trs.map((tr) => [tr.dataset.check, tr.dataset.status === 'PASS', tr.dataset.why]))) results.push(r);
    const protos = await page.$eval('body', (b) => b.dataset.protos);
    const pageProto = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    console.log(`# page loaded over ${pageProto}; the server saw the WebSocket as ${JSON.stringify(protos)}`);
    results.push(['arrived-as ' + expect, protos === expect, `server saw ${JSON.stringify(protos)}`]);
  } catch (e) {
    results.push(['page', false, e.message.split('\n')[0]]);
  }
  if (results.some((r) => !r[1])) for (const l of consoleLines.slice(0, 20)) console.log(`# ${l}`);
  finish(results);
})().catch((e) => finish([['runner', false, e.message.split('\n')[0]]]));
