// End-to-end test of examples/chat in headless Chromium:
//
//   node chat.e2e.js            (make e2e-chat runs it after the Go tests)
//
// It builds the chat server, starts it on a free port of 127.0.0.1, and
// opens three pages, each in a browser context of its own: ann and bob in
// room "lobby", cat in room "garden".
//
//  1. ann and bob see each other in the room's presence list, each sees the
//     other's typing indicator, and they chat: ann's message shows as
//     pending until its ack, then as sent. cat, in the other room, sees
//     none of it.
//  2. The server is killed (SIGKILL, as a crash). ann types a message while
//     it is down: it stays pending, and the pages retry with growing,
//     jittered delays. The server is started again on the same port; the
//     pages reconnect by themselves, ann's message is resent, and bob sees
//     it exactly once.
//  3. With redis-server installed: Redis on a free port and two chat
//     instances linked through it (-redis), ann on one and bob on the
//     other. Presence, typing and messages cross instances. Redis is then
//     killed and started again: what is said meanwhile stays on its
//     instance (delivery across instances is at most once), and once the
//     link is back the rooms work across instances again, with presence
//     brought up to date. SKIP_REDIS=1 leaves this part out.
//
// Each check prints PASS or FAIL, the run ends with "N passed, M failed"
// and exits 1 if anything failed. Screenshots go to out/ (git-ignored).
// Every wait is bounded. Chromium is Debian's (/usr/bin/chromium, or
// CHROMIUM_PATH); nothing is downloaded.
'use strict';

const { chromium } = require('playwright-core');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const CHAT_DIR = path.resolve(__dirname, '..');
const OUT = path.join(__dirname, 'out');
const BIN = path.join(OUT, 'chat');
const EXECUTABLE = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const REDIS = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const TOKENS = { ann: 'e2e-ann', bob: 'e2e-bob', cat: 'e2e-cat' };
const TOKEN_FLAG = Object.entries(TOKENS).map(([u, t]) => `${u}:${t}`).join(',');
// The page's reconnection delays (index.html): attempt n waits between
// half and all of min(MAX, BASE * 2^n).
const BASE_DELAY = 500, MAX_DELAY = 15000;
const WAIT = 30000; // bounds each wait for the page to show something

const results = [];
const processes = new Set(); // everything we started, to stop on exit

function record(name, ok, why) {
  results.push({ name, ok, why });
  console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
}

// check runs one named step; a failure is recorded and the run goes on,
// so one broken step does not hide the state of the others.
async function check(name, fn) {
  try {
    await fn();
    record(name, true);
  } catch (e) {
    record(name, false, String(e && e.message || e).split('\n')[0]);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// start runs a program and resolves once a line of its output matches
// ready. Its output is kept (proc.log) and echoed with a prefix.
function start(name, cmd, args, ready) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    processes.add(proc);
    proc.log = '';
    proc.exited = new Promise((r) => proc.once('exit', () => { processes.delete(proc); r(); }));
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${WAIT} ms`)), WAIT);
    const onData = (chunk) => {
      const text = chunk.toString();
      proc.log += text;
      for (const line of text.split('\n')) if (line.trim()) console.log(`# ${name}: ${line}`);
      if (ready.test(proc.log)) { clearTimeout(timer); resolve(proc); }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}`)); });
  });
}

async function kill(proc) {
  proc.kill('SIGKILL');
  await proc.exited;
}

// waitLog waits until proc has written a line matching re since it was
// `from` characters long.
async function waitLog(proc, re, from) {
  const until = Date.now() + WAIT;
  while (!re.test(proc.log.slice(from))) {
    if (Date.now() > until) throw new Error(`no ${re} in the log within ${WAIT} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startChat(port, extra = []) {
  return start(`chat:${port}`, BIN, ['-addr', `127.0.0.1:${port}`, '-tokens', TOKEN_FLAG, '-v', ...extra], /READY http/);
}

async function openPage(browser, port, user, room) {
  const context = await browser.newContext({ viewport: { width: 760, height: 420 } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`# ${user} console: ${m.text()}`); });
  await page.goto(`http://127.0.0.1:${port}/?token=${TOKENS[user]}&room=${room}`, { timeout: WAIT });
  page.user = user;
  return page;
}

// What a page shows, read from its DOM.
const users = (page) => page.$$eval('#users li', (lis) => lis.map((li) => li.textContent));
const lines = (page, text) => page.$$eval('#log li', (lis, text) =>
  lis.filter((li) => li.lastChild && li.textContent.includes(text)).length, text);

// waitFor polls fn in the page until it returns true, within WAIT.
function waitFor(page, what, fn, arg) {
  return page.waitForFunction(fn, arg, { timeout: WAIT, polling: 50 })
    .catch(() => { throw new Error(`${page.user}: ${what} not seen within ${WAIT} ms`); });
}
const waitUsers = (page, want) => waitFor(page, `users ${want.join(', ')}`,
  (want) => JSON.stringify([...document.querySelectorAll('#users li')].map((li) => li.textContent)) === JSON.stringify(want), want);
const waitLine = (page, from, text) => waitFor(page, `${from}: ${text}`,
  ([from, text]) => [...document.querySelectorAll('#log li')].some((li) => li.dataset.from === from && li.textContent.includes(text)), [from, text]);
const waitState = (page, text, state) => waitFor(page, `"${text}" ${state}`,
  ([text, state]) => [...document.querySelectorAll('#log li')].some((li) => li.textContent.includes(text) && li.querySelector(`.state[data-state="${state}"]`)), [text, state]);
const waitConn = (page, state) => waitFor(page, `connection ${state}`,
  (state) => document.getElementById('conn').dataset.state === state, state);
const waitTyping = (page, text) => waitFor(page, `typing "${text}"`,
  (text) => document.getElementById('typing').textContent === text, text);

async function say(page, text) {
  await page.fill('#text', '');
  await page.type('#text', text, { delay: 5 }); // key by key, as a person: typing events go out
  await page.press('#text', 'Enter');
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(OUT, name) });
}

function assert(cond, why) {
  if (!cond) throw new Error(why);
}

async function singleServer(browser) {
  const port = await freePort();
  let server = await startChat(port);
  const ann = await openPage(browser, port, 'ann', 'lobby');
  const bob = await openPage(browser, port, 'bob', 'lobby');
  const cat = await openPage(browser, port, 'cat', 'garden');

  await check('presence: ann and bob see each other in lobby', async () => {
    await waitUsers(ann, ['ann (you)', 'bob']);
    await waitUsers(bob, ['ann', 'bob (you)']);
  });
  await check('presence: cat is alone in garden', async () => {
    await waitUsers(cat, ['cat (you)']);
  });

  await check('typing: bob sees "ann is typing…"', async () => {
    await ann.type('#text', 'hello b', { delay: 20 });
    await waitTyping(bob, 'ann is typing…');
    await shot(bob, '1-bob-sees-ann-typing.png');
  });
  await check('message: ann\'s message is acknowledged (sent) and bob gets it', async () => {
    await ann.type('#text', 'ob!', { delay: 5 });
    await ann.press('#text', 'Enter');
    await waitState(ann, 'hello bob!', 'sent');
    await waitLine(bob, 'ann', 'hello bob!');
    // A message from ann ends her typing indicator at once.
    assert(await bob.$eval('#typing', (e) => e.textContent) === '', 'typing indicator still shown after ann\'s message');
  });
  await check('typing and message: ann sees bob typing, then his reply', async () => {
    await bob.type('#text', 'hi ann', { delay: 20 });
    await waitTyping(ann, 'bob is typing…');
    await bob.press('#text', 'Enter');
    await waitLine(ann, 'bob', 'hi ann');
    await waitState(bob, 'hi ann', 'sent');
    await shot(ann, '2-ann-chatting-with-bob.png');
  });
  await check('other room: cat saw no message, typing or presence of lobby', async () => {
    // cat says something in garden and waits for its ack: whatever the
    // server had queued for cat before then has arrived by now.
    await say(cat, 'anyone in the garden?');
    await waitState(cat, 'anyone in the garden?', 'sent');
    const log = await cat.$$eval('#log li', (lis) => lis.map((li) => li.dataset.from + ': ' + li.textContent));
    assert(log.length === 1, `cat's log: ${JSON.stringify(log)}`);
    assert(await cat.$eval('#typing', (e) => e.textContent) === '', 'cat saw a typing indicator');
    assert(JSON.stringify(await users(cat)) === '["cat (you)"]', `cat's users: ${await users(cat)}`);
    await shot(cat, '3-cat-alone-in-garden.png');
  });

  // The server goes down hard.
  const delaysBefore = await ann.evaluate(() => window.chatStats.delays.length);
  await kill(server);
  await check('server killed: every page notices and retries', async () => {
    for (const p of [ann, bob, cat]) await waitConn(p, 'down');
  });
  const downText = 'typed while the server was down';
  await check('while down: ann\'s message stays pending', async () => {
    await say(ann, downText);
    await waitState(ann, downText, 'pending');
  });
  await check('while down: reconnection delays grow, with jitter, within their bounds', async () => {
    // Two failed attempts while the server is away show the doubling.
    await waitFor(ann, 'two reconnection attempts', (n) => window.chatStats.delays.length >= n + 2, delaysBefore);
    const delays = (await ann.evaluate(() => window.chatStats.delays)).slice(delaysBefore);
    delays.forEach((d, n) => {
      const cap = Math.min(MAX_DELAY, BASE_DELAY * 2 ** n);
      assert(d >= cap / 2 && d <= cap, `attempt ${n + 1} waited ${d} ms, outside [${cap / 2}, ${cap}]`);
    });
    console.log(`# ann's reconnection delays while down (ms): ${delays.join(', ')}`);
    await shot(ann, '4-ann-server-down-message-pending.png');
  });

  server = await startChat(port);
  await check('server back on the same port: every page reconnects by itself', async () => {
    for (const p of [ann, bob, cat]) await waitConn(p, 'open');
    assert(await ann.evaluate(() => window.chatStats.opens) === 2, 'ann opened the connection other than twice');
  });
  await check('after reconnecting: the message typed while down is sent and reaches bob exactly once', async () => {
    await waitState(ann, downText, 'sent');
    await waitLine(bob, 'ann', downText);
    // A later message from ann comes after any copy of the first.
    await say(ann, 'and this one after');
    await waitLine(bob, 'ann', 'and this one after');
    const n = await lines(bob, downText);
    assert(n === 1, `bob shows it ${n} times`);
    assert(await lines(ann, downText) === 1, 'ann shows it more than once');
  });
  await check('after reconnecting: presence is back, and cat still saw nothing of lobby', async () => {
    await waitUsers(ann, ['ann (you)', 'bob']);
    await waitUsers(bob, ['ann', 'bob (you)']);
    const log = await cat.$$eval('#log li', (lis) => lis.map((li) => li.dataset.from));
    assert(log.every((f) => f === 'cat'), `cat's log has ${JSON.stringify(log)}`);
    await shot(bob, '5-bob-after-reconnect.png');
  });

  for (const p of [ann, bob, cat]) await p.context().close();
  await kill(server);
}

async function redisInstances(browser) {
  if (process.env.SKIP_REDIS === '1') return console.log('# SKIP_REDIS=1: the Redis scenario is skipped');
  if (!fs.existsSync(REDIS)) {
    record('redis scenario', false, `${REDIS} not found (apt-get install -y redis-server, or SKIP_REDIS=1)`);
    return;
  }
  const redisPort = await freePort();
  // In memory only: nothing survives a restart, which is the hard case
  // (every instance's presence has to be written again).
  const redisArgs = ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const startRedis = () => start('redis', REDIS, redisArgs, /Ready to accept connections/);
  let redis = await startRedis();
  const [portA, portB] = [await freePort(), await freePort()];
  const redisFlag = ['-redis', `127.0.0.1:${redisPort}`];
  const a = await startChat(portA, redisFlag);
  const b = await startChat(portB, redisFlag);
  const ann = await openPage(browser, portA, 'ann', 'lobby');
  const bob = await openPage(browser, portB, 'bob', 'lobby');

  await check('redis: presence crosses instances', async () => {
    await waitUsers(ann, ['ann (you)', 'bob']);
    await waitUsers(bob, ['ann', 'bob (you)']);
  });
  await check('redis: typing and messages cross instances both ways', async () => {
    await ann.type('#text', 'over redis', { delay: 20 });
    await waitTyping(bob, 'ann is typing…');
    await ann.press('#text', 'Enter');
    await waitLine(bob, 'ann', 'over redis');
    await waitState(ann, 'over redis', 'sent');
    await say(bob, 'got it');
    await waitLine(ann, 'bob', 'got it');
  });

  const [logA, logB] = [a.log.length, b.log.length];
  await kill(redis);
  await check('redis down: both instances notice', async () => {
    await waitLog(a, /fan-out link lost/, logA);
    await waitLog(b, /fan-out link lost/, logB);
  });
  // While Redis is down: ann speaks, and cat joins lobby on bob's instance.
  const lost = 'said while redis was down';
  await say(ann, lost);
  const cat = await openPage(browser, portB, 'cat', 'lobby');
  await check('redis down: ann\'s message is still acknowledged by her instance', async () => {
    await waitState(ann, lost, 'sent');
  });
  await check('redis down: bob, on cat\'s instance, sees cat join, in a list marked partial', async () => {
    // Without Redis, bob's instance knows its own users only, and says so.
    await waitUsers(bob, ['bob (you)', 'cat']);
    assert(await bob.$eval('#partial', (e) => !e.hidden), 'the list is not marked partial');
    await shot(bob, '6-redis-down-bob.png');
  });

  redis = await startRedis();
  await check('redis back: both instances restore the link', async () => {
    await waitLog(a, /fan-out link restored/, logA);
    await waitLog(b, /fan-out link restored/, logB);
  });
  await check('redis back: presence is brought up to date on both instances', async () => {
    await waitUsers(ann, ['ann (you)', 'bob', 'cat']);
    await waitUsers(bob, ['ann', 'bob (you)', 'cat']);
    await waitUsers(cat, ['ann', 'bob', 'cat (you)']);
    for (const p of [ann, bob, cat]) assert(await p.$eval('#partial', (e) => e.hidden), `${p.user}'s list still marked partial`);
  });
  await check('redis back: messages cross instances again', async () => {
    await say(ann, 'redis is back');
    await waitLine(bob, 'ann', 'redis is back');
    await waitLine(cat, 'ann', 'redis is back');
    await say(cat, 'hello from cat');
    await waitLine(ann, 'cat', 'hello from cat');
    await shot(ann, '7-redis-back-ann.png');
    await shot(bob, '8-redis-back-bob.png');
  });
  await check('redis: what ann said while Redis was down never reached the other instance', async () => {
    // Delivery across instances is at most once: nothing is resent when
    // the link is back. This records the loss rather than hiding it.
    assert(await lines(bob, lost) === 0, 'bob got it');
    assert(await lines(cat, lost) === 0, 'cat got it');
    console.log(`# lost while Redis was down: ann's "${lost}" (acknowledged to ann, shown on her instance only)`);
  });

  for (const p of [ann, bob, cat]) await p.context().close();
  for (const p of [a, b, redis]) await kill(p);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  console.log('# building the chat server');
  execFileSync('go', ['build', '-o', BIN, '.'], { cwd: CHAT_DIR, stdio: 'inherit' });
  const browser = await chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    // Starting Chromium takes seconds on a busy machine: a minute before
    // calling it a failure.
    timeout: 60000,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  console.log(`# chromium ${browser.version()}`);
  try {
    await singleServer(browser);
    await redisInstances(browser);
  } finally {
    await browser.close();
  }
}

function finish() {
  for (const p of processes) p.kill('SIGKILL');
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  process.stdout.write(`${passed} passed, ${failed} failed\n`, () => process.exit(failed ? 1 : 0));
}

// A hard limit, should something hang in a way no single wait catches.
setTimeout(() => { record('run', false, 'did not finish within 5 minutes'); finish(); }, 5 * 60 * 1000).unref();
main().catch((e) => record('run', false, String(e && e.message || e).split('\n')[0])).finally(finish);
