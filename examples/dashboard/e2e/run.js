#!/usr/bin/env node
// Browser test of examples/dashboard, in headless Chromium:
//
//   cd examples/dashboard/e2e && npm ci && node run.js
//
// (make e2e-dashboard runs it, with the Go tests, through run.sh.) It
//
//   1. builds the dashboard and loadclients (go build) and starts the
//      dashboard on a free port of 127.0.0.1;
//   2. connects 1,000 Go clients (loadclients; CLIENTS= changes the count);
//   3. opens the page as ann and as bob, and checks that each receives every
//      update the server sends (one a second: the page's update count grows
//      by one per step of the server's sequence number), shows all the
//      connections, and draws its charts;
//   4. posts a notification for ann to /notify and checks that it reaches
//      ann's page and not bob's;
//   5. saves screenshots in out/ (ann.png, bob.png, ann-shutdown.png);
//   6. stops the server with SIGTERM and checks that the pages and every
//      Go client were told 1001 (going away), and that no client missed an
//      update or saw ann's notification.
//
// It prints "PASS name" or "FAIL name: why" per check, then
// "N passed, M failed", and exits 1 if anything failed. Chromium is
// Debian's (/usr/bin/chromium, or CHROMIUM_PATH); nothing is downloaded.
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const REPO = path.resolve(__dirname, '../../..');
const OUT = path.join(__dirname, 'out');
const EXECUTABLE = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CLIENTS = Number(process.env.CLIENTS || 1000);
const TIMEOUT = 60000; // bound on each wait: a hang, not a measurement

const results = [];
const procs = []; // programs started, killed at the end whatever happens
function check(name, ok, why) {
  results.push(ok);
  console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
  return ok;
}

// waitFor polls cond (which may be async) until it returns a truthy value,
// and returns that value, or throws after timeout.
async function waitFor(what, cond, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeout / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// start runs a program, keeps its output lines, and resolves `exited` with
// its exit code (or signal name).
function start(name, file, args) {
  const proc = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  for (const stream of [proc.stdout, proc.stderr]) {
    readline.createInterface({ input: stream }).on('line', (l) => {
      lines.push(l);
      if (!l.startsWith('PROGRESS')) console.log(`# ${name}: ${l}`);
    });
  }
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));
  let code;
  exited.then((c) => { code = c; });
  const line = (re, timeout) => waitFor(`${name} to print ${re}`, () => {
    for (const l of lines) {
      const m = re.exec(l);
      if (m) return m;
    }
    if (code !== undefined) throw new Error(`${name} exited (${code})`);
    return null;
  }, timeout);
  return { proc, line, exited };
}

// pageState reads what the page wrote on <body>, and the figures it shows.
function pageState(page) {
  return page.evaluate(() => {
    const b = document.body.dataset;
    const card = (m) => document.querySelector(`.card[data-metric="${m}"]`);
    return {
      state: b.state,
      seq: Number(b.seq),
      updates: Number(b.updates),
      missed: Number(b.missed),
      closeCode: b.closeCode,
      conns: Number(card('conns').querySelector('.value').textContent.replace(/,/g, '')),
      chartPoints: card('conns').querySelector('.line').getAttribute('points')?.split(' ').length || 0,
      notes: [...document.querySelectorAll('#notes li')].map((li) => li.lastChild.textContent),
    };
  });
}

function killAll() {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dashboard-e2e-'));
  let browser = null;
  try {
    for (const [bin, pkg] of [['dashboard', './examples/dashboard'], ['loadclients', './examples/dashboard/e2e/loadclients']]) {
      execFileSync('go', ['build', '-o', path.join(tmp, bin), pkg], { cwd: REPO, stdio: 'inherit' });
    }
    const server = start('dashboard', path.join(tmp, 'dashboard'), ['-addr', '127.0.0.1:0']);
    procs.push(server);
    const url = (await server.line(/^READY (http:\/\/\S+)/))[1];

    const load = start('loadclients', path.join(tmp, 'loadclients'), ['-url', url, '-n', String(CLIENTS)]);
    procs.push(load);
    await load.line(/^READY \d+/, 180000);
    check(`${CLIENTS} Go clients connected`, true);

    browser = await chromium.launch({
      executablePath: EXECUTABLE,
      headless: true,
      timeout: 30000,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    console.log(`# chromium ${browser.version()}, dashboard at ${url}`);

    // ann and bob each in a browser context of their own, as two people
    // on two machines would be.
    const pages = {};
    const pageErrors = [];
    for (const user of ['ann', 'bob']) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
      const page = await context.newPage();
      page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`${user}: ${m.text()}`); });
      page.on('pageerror', (e) => pageErrors.push(`${user}: ${e.message}`));
      await page.goto(`${url}?user=${user}`, { waitUntil: 'load' });
      pages[user] = page;
    }

    // Updates: the server numbers them (seq), one per second. Over three
    // of its steps, each page must have received exactly three updates:
    // one per second, none missed, none repeated.
    for (const [user, page] of Object.entries(pages)) {
      const before = await waitFor(`${user}'s first update`, async () => {
        const s = await pageState(page);
        return s.state === 'open' && s.updates > 0 && s;
      });
      const t0 = Date.now();
      const after = await waitFor(`${user}'s update ${before.seq + 3}`, async () => {
        const s = await pageState(page);
        return s.seq >= before.seq + 3 && s;
      });
      console.log(`# ${user}: updates ${before.seq}..${after.seq} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      check(`${user}: one update per step of the server's sequence`,
        after.updates - before.updates === after.seq - before.seq && after.missed === 0,
        `seq ${before.seq} → ${after.seq} but ${after.updates - before.updates} updates received, ${after.missed} missed`);
    }

    // The figures: every connection is counted (the Go clients and the two
    // pages), and the chart has a point per update received.
    for (const [user, page] of Object.entries(pages)) {
      try {
        const s = await waitFor(`${user}'s page to show ${CLIENTS + 2} connections`, async () => {
          const s = await pageState(page);
          return s.conns === CLIENTS + 2 && s;
        }, 10000);
        check(`${user}: shows ${CLIENTS + 2} open connections`, true);
        check(`${user}: chart drawn`, s.chartPoints >= 3, `${s.chartPoints} points`);
      } catch (e) {
        check(`${user}: shows ${CLIENTS + 2} open connections`, false, `${e.message}; shows ${(await pageState(page)).conns}`);
      }
    }

    // A notification for ann, through the HTTP endpoint.
    const text = `hello ann, from the e2e test at ${new Date().toISOString()}`;
    const resp = await fetch(`${url}notify?user=ann`, { method: 'POST', body: text });
    const res = await resp.json();
    check('/notify reached 1 connection', resp.ok && res.user === 'ann' && res.connections === 1, `${resp.status} ${JSON.stringify(res)}`);
    const ann = await waitFor("ann's notification", async () => {
      const s = await pageState(pages.ann);
      return s.notes.length > 0 && s;
    });
    check("ann's page shows the notification", ann.notes.length === 1 && ann.notes[0] === text, JSON.stringify(ann.notes));
    // Every update after res.seq was queued behind the notification, so
    // once bob's page has one, it would have the notification too had the
    // server sent it there.
    const bob = await waitFor(`bob's update ${res.seq + 1}`, async () => {
      const s = await pageState(pages.bob);
      return s.seq > res.seq && s;
    });
    check("bob's page does not show ann's notification", bob.notes.length === 0, JSON.stringify(bob.notes));
    check('no errors in the pages\' consoles', pageErrors.length === 0, pageErrors.slice(0, 5).join(' | '));

    fs.mkdirSync(OUT, { recursive: true });
    for (const [user, page] of Object.entries(pages)) {
      await page.screenshot({ path: path.join(OUT, `${user}.png`), fullPage: true });
    }
    console.log(`# screenshots in ${OUT}`);

    // Graceful shutdown: SIGTERM, as a service manager would send.
    server.proc.kill('SIGTERM');
    check('server exits 0 on SIGTERM', (await server.exited) === 0, 'exit status ' + (await server.exited));
    for (const [user, page] of Object.entries(pages)) {
      const s = await waitFor(`${user}'s page to see the close`, async () => {
        const s = await pageState(page);
        return s.closeCode && s;
      });
      check(`${user}: told 1001 (going away)`, s.closeCode === '1001', `close code ${s.closeCode}`);
      if (user === 'ann') await page.screenshot({ path: path.join(OUT, 'ann-shutdown.png'), fullPage: true });
    }

    const loadExit = await load.exited;
    const done = (await load.line(/^DONE (.*)/))[1];
    check(`Go clients: each received every update, none saw ann's notification`, loadExit === 0, `exit ${loadExit}: ${done}`);
    check(`Go clients: all ${CLIENTS} told 1001 (going away)`, done.includes(`closes=1001:${CLIENTS}`) && !/closes=.*,/.test(done), done);
  } catch (e) {
    check('run', false, e.message.split('\n')[0]);
  } finally {
    if (browser) await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]);
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

// A last bound on the whole run, should something hang that no wait covers.
setTimeout(() => {
  console.log('FAIL run: hard time limit (5 min) reached');
  killAll();
  console.log(`${results.filter(Boolean).length} passed, ${results.filter((r) => !r).length + 1} failed`);
  process.exit(1);
}, 300000).unref();

main();
