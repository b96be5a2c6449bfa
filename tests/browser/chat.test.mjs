// End-to-end test of the chat example in headless Chromium.
//
// Starts the chat server itself (target/debug/chat, or $FERROSOCKET_CHAT_SERVER), opens the
// page in two isolated browser contexts (alice and bob) and drives the real UI.
// The server is started as `SERVER --host 127.0.0.1 --port 0 --static DIR` and prints
// `LISTENING 127.0.0.1:<port>` (where the page is). A server whose socket is on another
// port (the Flask example: Flask renders the page, ferrosocket runs next to it) prints
// `SOCKETIO 127.0.0.1:<port>` before LISTENING; bob then names that address in `?server=`.
// Uses Debian's Chromium through playwright-core (no browser download).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WAIT_MS, pageWaiter } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const STATIC_DIR = path.join(ROOT, 'examples', 'chat', 'static');
const ARTIFACTS = path.join(HERE, 'artifacts');
const SERVER_BIN = process.env.FERROSOCKET_CHAT_SERVER || path.join(ROOT, 'target', 'debug', 'chat');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const STARTUP_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 60_000; // every it()
const ROOM = 'lobby';
const XSS = '<img src=x onerror=alert(1)>';

// The flags keep Chromium from reaching out to the network (this machine has none, and
// refused connections otherwise stall it).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---- chat server ----------------------------------------------------------------
function startServer() {
  if (!existsSync(SERVER_BIN)) {
    throw new Error(`chat server binary not found: ${SERVER_BIN} (run \`make build-test-bins\`, or set FERROSOCKET_CHAT_SERVER)`);
  }
  if (!existsSync(path.join(STATIC_DIR, 'vendor', 'socket.io.min.js'))) {
    throw new Error('examples/chat/static/vendor/socket.io.min.js is missing (run `make chat-assets`)');
  }
  const child = spawn(SERVER_BIN, ['--host', '127.0.0.1', '--port', '0', '--static', STATIC_DIR], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_BACKTRACE: '1' },
  });
  const logs = { stdout: '', stderr: '' };
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { logs.stderr = (logs.stderr + d).slice(-20_000); });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`chat server printed no LISTENING line within ${STARTUP_TIMEOUT_MS} ms\nstdout: ${logs.stdout}\nstderr: ${logs.stderr}`));
    }, STARTUP_TIMEOUT_MS);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`chat server exited before it was ready (code ${code}, signal ${signal})\nstderr: ${logs.stderr}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => {
      logs.stdout += d;
      const m = /^LISTENING (\S+):(\d+)\r?$/m.exec(logs.stdout);
      if (!m) return;
      // A SOCKETIO line, when the server prints one, comes before LISTENING.
      const io = /^SOCKETIO (\S+):(\d+)\r?$/m.exec(logs.stdout);
      clearTimeout(timer);
      resolve({ host: m[1], port: Number(m[2]), socket: io ? `http://${io[1]}:${io[2]}` : null });
    });
  });
  ready.catch(() => {}); // reported by whoever awaits it
  return { child, logs, ready, exited };
}

async function stopServer(server, timeoutMs = 10_000) {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return null;
  server.child.kill('SIGTERM');
  let timer;
  const result = await Promise.race([
    server.exited,
    new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); }),
  ]);
  clearTimeout(timer);
  if (result === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  return result; // null: did not stop on SIGTERM in time
}

// ---- page helpers --------------------------------------------------------------------
// A snapshot of what a page shows, for failure messages.
async function snapshot(page) {
  try {
    return await page.evaluate(() => {
      const txt = (sel) => document.querySelector(sel)?.textContent?.trim() ?? null;
      return {
        conn: document.querySelector('#conn')?.dataset.state ?? null,
        error: txt('#error'),
        joinVisible: !document.querySelector('#join-view')?.hidden,
        chatVisible: !document.querySelector('#chat-view')?.hidden,
        members: [...document.querySelectorAll('#members .member-name')].map((n) => n.textContent),
        messages: [...document.querySelectorAll('#messages li')].map((li) => li.textContent.trim()),
      };
    });
  } catch (err) {
    return `unavailable: ${err.message}`;
  }
}

const waitIn = pageWaiter(snapshot);

const memberNames = (page) => page.$$eval('#members .member-name', (ns) => ns.map((n) => n.textContent));
const messageItems = (page) => page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({
  username: li.querySelector('.user')?.textContent ?? null,
  text: li.querySelector('.text')?.textContent ?? null,
  own: li.classList.contains('own'),
  datetime: li.querySelector('time')?.getAttribute('datetime') ?? null,
})));
const statusLines = (page) => page.$$eval('#messages li.status', (lis) => lis.map((li) => li.textContent.trim()));

const hasMember = (name) => [`member list to contain ${JSON.stringify(name)}`,
  (n) => [...document.querySelectorAll('#members .member-name')].some((e) => e.textContent === n), name];
const lacksMember = (name) => [`member list to drop ${JSON.stringify(name)}`,
  (n) => ![...document.querySelectorAll('#members .member-name')].some((e) => e.textContent === n), name];
const hasStatus = (text) => [`status line ${JSON.stringify(text)}`,
  (t) => [...document.querySelectorAll('#messages li.status')].some((li) => li.textContent.trim() === t), text];
const hasMessage = (username, text) => [`message ${JSON.stringify(text)} from ${JSON.stringify(username)}`,
  ([u, t]) => [...document.querySelectorAll('#messages li.msg')].some((li) =>
    li.querySelector('.user')?.textContent === u && li.querySelector('.text')?.textContent === t), [username, text]];
const errorShown = ['a non-empty, visible #error', () => {
  const e = document.querySelector('#error');
  return e && e.textContent.trim() !== '' && e.offsetParent !== null;
}];
const errorCleared = ['#error to be cleared', () => (document.querySelector('#error')?.textContent.trim() ?? '') === ''];

async function joinAs(page, username, room) {
  await page.fill('#username', username);
  await page.fill('#room', room);
  await page.click('#join');
}

// ---- the test ----------------------------------------------------------------------
describe('chat page in headless Chromium', { timeout: 240_000 }, () => {
  let server;
  let baseUrl;
  let socketUrl; // where the Socket.IO server is (the page's own origin unless told)
  let browser;
  let alice;
  let bob;
  const pages = [];
  const screenshotsTaken = new Set();

  async function screenshot(page, name) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), timeout: WAIT_MS });
    screenshotsTaken.add(name);
  }

  async function openPage(who, query = '') {
    const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    page.__who = who;
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    const record = { who, page, pageErrors: [], consoleErrors: [], dialogs: [], failedRequests: [] };
    page.on('pageerror', (err) => record.pageErrors.push(String(err)));
    page.on('console', (msg) => { if (msg.type() === 'error') record.consoleErrors.push(msg.text()); });
    page.on('dialog', (dialog) => { record.dialogs.push(dialog.message()); dialog.dismiss().catch(() => {}); });
    page.on('response', (res) => { if (res.status() >= 400) record.failedRequests.push(`${res.status()} ${res.url()}`); });
    pages.push(record);
    await page.goto(`${baseUrl}/${query}`, { waitUntil: 'load' });
    return page;
  }

  before(async () => {
    server = startServer();
    const addr = await server.ready;
    baseUrl = `http://${addr.host}:${addr.port}`;
    socketUrl = addr.socket ?? baseUrl;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
    // chromium.launch() gives the browser a fresh temporary profile (user-data dir) and
    // removes it on close; every context below is isolated like a separate browser.
    alice = await openPage('alice');
    // bob names the server explicitly, as a page served from elsewhere would.
    bob = await openPage('bob', `?server=${encodeURIComponent(socketUrl)}`);
  }, { timeout: 90_000 });

  after(async () => {
    // Keep a picture of whatever a failed run left on screen.
    for (const { who, page } of pages) {
      if (!screenshotsTaken.has(who)) {
        await screenshot(page, `${who}-on-failure`).catch(() => {});
      }
    }
    await browser?.close().catch(() => {});
    await stopServer(server).catch(() => {});
  }, { timeout: 60_000 });

  it('serves the page and connects', { timeout: STEP_TIMEOUT_MS }, async () => {
    const client = await alice.$eval('script[src*="socket.io.min.js"]', (s) => s.src);
    assert.ok(client.startsWith(`${baseUrl}/`), `the page loads the socket.io client from its own server (${client})`);
    const res = await alice.request.get(client, { timeout: WAIT_MS });
    assert.equal(res.status(), 200, `the socket.io client is served (${client})`);
    for (const page of [alice, bob]) {
      assert.match(await page.title(), /^ferrosocket chat\b/);
      await waitIn(page, '#conn to say connected', () => {
        const c = document.querySelector('#conn');
        return c?.dataset.state === 'connected' && /connected/i.test(c.textContent);
      });
      assert.ok(await page.isVisible('#username'));
      assert.ok(await page.isVisible('#room'));
      assert.ok(await page.isHidden('#text'), 'the chat view is hidden before joining');
    }
    await screenshot(alice, 'join-form');
  });

  it('rejects an invalid username and shows the error', { timeout: STEP_TIMEOUT_MS }, async () => {
    await joinAs(bob, 'b'.repeat(33), ROOM);
    await waitIn(bob, ...errorShown);
    assert.ok(await bob.isVisible('#join-view'), 'still on the join form');
    assert.ok(await bob.isHidden('#chat-view'));
  });

  it('alice and bob join the same room and see each other', { timeout: STEP_TIMEOUT_MS }, async () => {
    // alice joins with the keyboard (Enter in the form), bob with the button.
    await alice.fill('#username', 'alice');
    await alice.fill('#room', ROOM);
    await alice.press('#room', 'Enter');
    await waitIn(alice, 'the chat view', () => !document.querySelector('#chat-view').hidden);
    await waitIn(alice, ...hasMember('alice'));
    assert.ok(await alice.isHidden('#join-view'));
    assert.match(await alice.textContent('#room-name'), new RegExp(ROOM));

    await joinAs(bob, 'bob', ROOM);
    await waitIn(bob, 'the chat view', () => !document.querySelector('#chat-view').hidden);
    await waitIn(bob, ...errorCleared);
    await waitIn(bob, ...hasMember('alice'));
    await waitIn(bob, ...hasMember('bob'));
    await waitIn(alice, ...hasStatus('bob joined'));
    await waitIn(alice, ...hasMember('bob'));

    assert.deepEqual((await memberNames(alice)).sort(), ['alice', 'bob']);
    assert.deepEqual((await memberNames(bob)).sort(), ['alice', 'bob']);
    // Status lines are shown in italics.
    const style = await alice.$eval('#messages li.status', (li) => getComputedStyle(li).fontStyle);
    assert.equal(style, 'italic');
  });

  it('alice sends (Enter), bob sees it; bob replies (button), alice sees it', { timeout: STEP_TIMEOUT_MS }, async () => {
    await alice.fill('#text', 'hello bob');
    await alice.press('#text', 'Enter');
    await waitIn(bob, ...hasMessage('alice', 'hello bob'));
    await waitIn(alice, ...hasMessage('alice', 'hello bob'));
    await waitIn(alice, 'the text box to be cleared', () => document.querySelector('#text').value === '');

    await bob.fill('#text', 'hi alice!');
    await bob.click('#send');
    await waitIn(alice, ...hasMessage('bob', 'hi alice!'));
    await waitIn(bob, ...hasMessage('bob', 'hi alice!'));

    const aliceView = await messageItems(alice);
    const bobView = await messageItems(bob);
    assert.deepEqual(aliceView.map((m) => [m.username, m.text, m.own]),
      [['alice', 'hello bob', true], ['bob', 'hi alice!', false]]);
    assert.deepEqual(bobView.map((m) => [m.username, m.text, m.own]),
      [['alice', 'hello bob', false], ['bob', 'hi alice!', true]]);
    // ts is milliseconds since the epoch: the rendered time is "now".
    for (const m of [...aliceView, ...bobView]) {
      const t = Date.parse(m.datetime);
      assert.ok(Math.abs(t - Date.now()) < 5 * 60_000, `message time ${m.datetime} is close to now`);
    }
    // Own messages look different from others'.
    const [ownBg, otherBg] = await alice.$$eval('#messages li.msg .bubble',
      (bs) => bs.map((b) => getComputedStyle(b).backgroundColor));
    assert.notEqual(ownBg, otherBg, 'own messages are styled differently');
  });

  it('shows markup in a message as text (no XSS)', { timeout: STEP_TIMEOUT_MS }, async () => {
    await alice.fill('#text', XSS);
    await alice.press('#text', 'Enter');
    await waitIn(bob, ...hasMessage('alice', XSS));
    await waitIn(alice, ...hasMessage('alice', XSS));
    await bob.waitForTimeout(300); // give a would-be onerror handler the chance to fire
    for (const page of [alice, bob]) {
      assert.equal(await page.$$eval('#messages img', (imgs) => imgs.length), 0, 'no <img> element was created');
      const last = (await messageItems(page)).at(-1);
      assert.equal(last.text, XSS);
    }
    for (const rec of pages) assert.deepEqual(rec.dialogs, [], `${rec.who}: no dialog opened`);
  });

  it('an empty message shows the validation error, and it clears on the next send', { timeout: STEP_TIMEOUT_MS }, async () => {
    const before = (await messageItems(bob)).length;
    await bob.fill('#text', '');
    await bob.click('#send');
    await waitIn(bob, ...errorShown);
    await screenshot(bob, 'bob-error');
    const err = (await bob.textContent('#error')).trim();
    assert.ok(err.length > 0);
    await bob.waitForTimeout(300);
    assert.equal((await messageItems(bob)).length, before, 'no message was added');

    await bob.fill('#text', 'sorry, slipped');
    await bob.press('#text', 'Enter');
    await waitIn(alice, ...hasMessage('bob', 'sorry, slipped'));
    await waitIn(bob, ...errorCleared);
    await screenshot(bob, 'bob-chat');
  });

  it('bob leaves: alice sees "bob left" and the member list updates', { timeout: STEP_TIMEOUT_MS }, async () => {
    await bob.click('#leave');
    await waitIn(bob, 'the join form again', () => !document.querySelector('#join-view').hidden &&
      document.querySelector('#chat-view').hidden);
    await waitIn(alice, ...hasStatus('bob left'));
    await waitIn(alice, ...lacksMember('bob'));
    assert.deepEqual(await memberNames(alice), ['alice']);
    const statuses = await statusLines(alice);
    assert.ok(statuses.indexOf('bob joined') < statuses.indexOf('bob left'));

    await screenshot(alice, 'alice');
    await screenshot(bob, 'bob');
    for (const rec of pages) {
      assert.deepEqual(rec.pageErrors, [], `${rec.who}: no uncaught errors in the page`);
      assert.deepEqual(rec.consoleErrors, [], `${rec.who}: no console errors`);
      assert.deepEqual(rec.failedRequests, [], `${rec.who}: no failed requests`);
    }
  });

  it('the indicator shows the connection is lost when the server stops (SIGTERM)', { timeout: STEP_TIMEOUT_MS }, async () => {
    const result = await stopServer(server);
    assert.notEqual(result, null, `the chat server exits within 10 s of SIGTERM\nstderr: ${server.logs.stderr.slice(-2000)}`);
    await waitIn(alice, '#conn to leave the connected state', () => {
      const c = document.querySelector('#conn');
      return ['reconnecting', 'disconnected'].includes(c?.dataset.state) && !/^connected$/i.test(c.textContent.trim());
    });
    await screenshot(alice, 'alice-server-stopped');
  });
});
