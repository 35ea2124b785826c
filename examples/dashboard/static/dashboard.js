// The dashboard page: one WebSocket to /ws?user=ID, which brings two kinds
// of JSON message:
//
//   {"type":"update","seq":7,"conns":3,"msgsPerSec":3,"heapInUse":1234,"goroutines":9,"dropped":0,"time":"…"}
//   {"type":"notify","text":"hello","time":"…"}
//
// What the page has received is also written on <body> as data-* attributes
// (data-state, data-seq, data-updates, data-missed, data-close-code), for
// tests and for anyone curious in the developer tools.
'use strict';

const WINDOW = 60; // seconds of history in each chart, one point per update
const METRICS = {
  conns: { format: (v) => v.toLocaleString('en') },
  msgsPerSec: { format: (v) => v.toLocaleString('en', { maximumFractionDigits: 1 }) },
  heapInUse: { format: formatBytes },
  goroutines: { format: (v) => v.toLocaleString('en') },
};

const body = document.body;
const user = new URLSearchParams(location.search).get('user');
const history = []; // the last WINDOW updates, oldest first
let updates = 0; // updates received since the page was opened
let missed = 0; // updates that never arrived (gaps in seq on one connection)

function formatBytes(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + ' GiB';
  if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + ' MiB';
  if (n >= 1 << 10) return (n / (1 << 10)).toFixed(1) + ' KiB';
  return n + ' B';
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

function setState(state, text) {
  body.dataset.state = state;
  setText('status', text);
}

// draw redraws one card's chart. x is the update's place in the window, so
// the newest point is at the right edge and one update is one step; y is
// scaled from 0 to a little above the window's largest value, so that a
// flat line sits below the top instead of on it.
function draw(card, key) {
  const values = history.map((u) => u[key]);
  const max = Math.max(...values) * 1.15 || 1;
  const newest = history[history.length - 1].seq;
  const points = history.map((u) => {
    const x = (300 * (WINDOW - 1 - (newest - u.seq))) / (WINDOW - 1);
    const y = 80 - (80 * u[key]) / max;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  card.querySelector('.line').setAttribute('points', points.join(' '));
  const firstX = points[0].split(',')[0];
  card.querySelector('.area').setAttribute('d', `M${firstX},80 L${points.join(' L')} L300,80 Z`);
  card.querySelector('.max').textContent = 'max ' + METRICS[key].format(Math.max(...values));
}

function onUpdate(u, conn) {
  // seq counts the server's updates. A jump on the same connection means
  // the server dropped updates for this page (it fell behind); across a
  // reconnection, the updates sent while the page was away are not
  // counted as missed.
  if (conn.lastSeq && u.seq > conn.lastSeq + 1) missed += u.seq - conn.lastSeq - 1;
  conn.lastSeq = u.seq;
  updates++;

  history.push(u);
  while (history.length && history[0].seq <= u.seq - WINDOW) history.shift();
  for (const card of document.querySelectorAll('.card')) {
    const key = card.dataset.metric;
    card.querySelector('.value').textContent = METRICS[key].format(u[key]);
    draw(card, key);
  }

  Object.assign(body.dataset, { seq: u.seq, updates, missed });
  setText('seq', u.seq);
  setText('updates', updates);
  setText('missed', missed);
  setText('dropped', u.dropped);
  setText('last-time', new Date(u.time).toLocaleTimeString());
}

function onNotify(n) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  time.dateTime = n.time;
  time.textContent = new Date(n.time).toLocaleTimeString();
  li.append(time, n.text); // as text: a notification cannot inject markup
  document.getElementById('notes').prepend(li);
  document.getElementById('no-notes').hidden = true;
}

// connect opens the WebSocket, and opens it again whenever it closes.
// The wait before each new attempt doubles while attempts fail (1 s, 2 s,
// … up to 30 s), and is drawn at random around that: when the server
// restarts, its thousand pages then come back spread out instead of all in
// the same instant.
let failures = 0; // attempts in a row that did not connect
let lastEnd = ''; // how the last live connection ended, for the status line
function connect() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/ws?user=${encodeURIComponent(user)}`);
  const conn = { lastSeq: 0, opened: false };
  setState('connecting', 'connecting…');
  ws.onopen = () => {
    conn.opened = true;
    failures = 0;
    setState('open', 'live');
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'update') onUpdate(m, conn);
    else if (m.type === 'notify') onNotify(m);
  };
  ws.onclose = (ev) => {
    if (conn.opened) {
      // How the live connection ended. An attempt that never connected
      // (1006) does not replace it: "server going away (1001)" stays in
      // view while the server restarts.
      body.dataset.closeCode = ev.code;
      lastEnd = ev.code === 1001 ? 'server going away (1001)' : `closed (${ev.code}${ev.reason ? ': ' + ev.reason : ''})`;
    } else {
      failures++;
    }
    const delay = Math.min(1000 * 2 ** failures, 30000) * (0.5 + Math.random());
    const why = conn.opened ? lastEnd : [lastEnd, 'server unreachable'].filter(Boolean).join(' · ');
    setState('closed', `${why}; reconnecting in ${Math.ceil(delay / 1000)} s`);
    setTimeout(connect, delay);
  };
}

function start() {
  if (!user) {
    // No user in the URL: ask for one, and reload the page with it.
    document.getElementById('pick-user').hidden = false;
    setState('closed', 'no user');
    return;
  }
  setText('user', user);
  for (const el of document.querySelectorAll('.user-name')) el.textContent = user;
  setText('curl', `curl -X POST '${location.origin}/notify?user=${encodeURIComponent(user)}' -d 'hello'`);
  document.title = `Server dashboard · ${user}`;
  connect();
}

start();
