// The seed articles' Flask apps (examples/flask_seeds) on ferrosocket.flask, in headless
// Chromium: each app's own page, unchanged but for its client script's same-origin copy,
// served with its socket on ONE port by `socketio.run(app)`.
//
// Each app runs as `PYTHON tests/flask/serve.py ferrosocket <app.py> --port 0` (the venv
// with the binding: $FERROSOCKET_SEEDS_PYTHON), which prints `LISTENING 127.0.0.1:<port>`.
// Skipped when FERROSOCKET_SEEDS_PYTHON is unset (tests/pybinding/run.sh sets it).
// Article 000's app serves a string at `/`, not its page, so its page is not exercised here
// (tests/flask/test_seeds.py checks its socket with python-socketio clients).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const SEEDS = path.join(ROOT, 'examples', 'flask_seeds');
const SERVE = path.join(ROOT, 'tests', 'flask', 'serve.py');
const PYTHON = process.env.FERROSOCKET_SEEDS_PYTHON;
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const STARTUP_TIMEOUT_MS = 30_000;
const WAIT_MS = 10_000;
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function startSeed(folder) {
  const app = path.join(SEEDS, folder, 'app.py');
  const child = spawn(PYTHON, [SERVE, 'ferrosocket', app, '--port', '0'], {
    cwd: path.join(SEEDS, folder),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = { stdout: '', stderr: '' };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { logs.stderr = (logs.stderr + d).slice(-20_000); });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `${folder}: no LISTENING line in ${STARTUP_TIMEOUT_MS} ms\nstderr: ${logs.stderr}`)), STARTUP_TIMEOUT_MS);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${folder} exited (code ${code}, signal ${signal})\nstderr: ${logs.stderr}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      logs.stdout += d;
      const m = /^LISTENING (\S+):(\d+)\r?$/m.exec(logs.stdout);
      if (m) { clearTimeout(timer); resolve(`http://${m[1]}:${m[2]}`); }
    });
  });
  ready.catch(() => {});
  return { child, logs, ready, exited };
}

async function stopSeed(seed) {
  if (!seed || seed.child.exitCode !== null || seed.child.signalCode !== null) return;
  seed.child.kill('SIGTERM');
  let timer;
  const done = await Promise.race([seed.exited, new Promise((r) => { timer = setTimeout(() => r(null), 10_000); })]);
  clearTimeout(timer);
  if (done === null) { seed.child.kill('SIGKILL'); await seed.exited; }
}

// A page of one seed, with what its console printed and the requests it made.
async function openPage(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const consoleLines = [];
  const requests = [];
  const sent = []; // what the page's socket.io client wrote: polling POST bodies, WebSocket frames
  page.on('console', (msg) => consoleLines.push(msg.text()));
  page.on('request', (req) => {
    requests.push(req.url());
    if (req.method() === 'POST' && req.postData()) sent.push(req.postData());
  });
  page.on('websocket', (ws) => {
    requests.push(ws.url().replace(/^ws/, 'http'));
    ws.on('framesent', (frame) => sent.push(String(frame.payload)));
  });
  const response = await page.goto(url, { waitUntil: 'load', timeout: WAIT_MS });
  assert.equal(response.status(), 200, `GET ${url}`);
  return { context, page, consoleLines, requests, sent };
}

async function waitFor(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Every request the page made stayed on the app's own origin and port.
function sameOrigin(requests, base) {
  const origin = new URL(base).origin;
  const foreign = requests.filter((u) => new URL(u).origin !== origin);
  assert.deepEqual(foreign, [], 'requests to another origin');
  assert.ok(requests.some((u) => new URL(u).pathname.startsWith('/socket.io/')), 'the socket used the page\'s port');
}

describe('seed apps in Chromium, page and socket on one port', { skip: !PYTHON && 'FERROSOCKET_SEEDS_PYTHON unset' }, () => {
  let browser;
  before(async () => { browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }); });
  after(async () => { await browser?.close(); });

  it('001: the page sends a message, the server answers `response`', { timeout: 60_000 }, async () => {
    const seed = startSeed('001_realtime_web_technologies');
    try {
      const base = await seed.ready;
      const { context, page, consoleLines, requests } = await openPage(browser, base + '/');
      await waitFor('the page to connect', () => consoleLines.includes('Connected to server'));
      await page.fill('#message', 'hello from chromium');
      await page.click('button');
      await waitFor('the response', () => consoleLines.some((l) => l.includes('Message received!')));
      await waitFor('the server to print the message', () => seed.logs.stderr.includes('hello from chromium'));
      sameOrigin(requests, base);
      await context.close();
    } finally { await stopSeed(seed); }
  });

  it('002: a message sent by one page reaches both pages', { timeout: 60_000 }, async () => {
    const seed = startSeed('002_realtime_messaging');
    try {
      const base = await seed.ready;
      const alice = await openPage(browser, base + '/');
      const bob = await openPage(browser, base + '/');
      const texts = (p) => p.page.$$eval('#messages p', (ps) => ps.map((n) => n.textContent));
      // The connect handler's welcome reaches each page.
      await waitFor('both welcomes', async () => (await texts(alice)).length >= 1 && (await texts(bob)).length >= 1);
      await alice.page.fill('#message', 'broadcast me');
      await alice.page.click('button');
      await waitFor('the broadcast on both pages', async () =>
        (await texts(alice)).includes('broadcast me') && (await texts(bob)).includes('broadcast me'));
      sameOrigin(alice.requests, base);
      await alice.context.close();
      await bob.context.close();
    } finally { await stopSeed(seed); }
  });

  it('003: the page connects and emits `new message` on connect', { timeout: 60_000 }, async () => {
    // The article's handler only reads the data (no output); the page's emit is checked
    // on the wire, and a handler error would be in the server's log.
    const seed = startSeed('003_brief_introduction');
    try {
      const base = await seed.ready;
      const { context, requests, sent } = await openPage(browser, base + '/');
      await waitFor('the emit on connect', () =>
        sent.some((s) => s.includes('42["new message",{"user":"anonymous","message":"hello"}]')));
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(!/Traceback|failed/.test(seed.logs.stderr), seed.logs.stderr);
      sameOrigin(requests, base);
      await context.close();
    } finally { await stopSeed(seed); }
  });
});
