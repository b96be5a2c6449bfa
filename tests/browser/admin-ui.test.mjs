// The Socket.IO Admin UI (the bundle @socket.io/admin-ui 0.5.1 ships in ui/dist, pinned in
// package-lock.json) in headless Chromium, against each server of SERVERS side by side:
//
// - reference: python-socketio's own `Server.instrument()` (admin_server.py, run with
//   $FERROSOCKET_ADMIN_PYTHON; run.sh makes target/browser-venv from requirements.txt when
//   it is unset);
// - ferrosocket: target/debug/test-server (or $FERROSOCKET_TEST_SERVER) with `--static
//   UI_DIR --admin admin:<password>`. Skipped, saying so, when the binary does not know
//   `--admin` (FERROSOCKET_ADMIN_RUST=1, as `make test-browser` sets it: fail instead of
//   skipping; =0: always skip).
//
// Each server is started as `SERVER --host 127.0.0.1 --port 0 --static UI_DIR --admin
// admin:<pw>`, prints `LISTENING 127.0.0.1:<port>` and serves the UI itself, so the UI is
// same-origin (no CORS). Before the UI logs in, three socket.io-client (node) clients connect
// to `/` (alice and bob over WebSocket, carol over HTTP long-polling) and alice joins `lobby`
// through the server's own `join` event (tests/test-server/SPEC.md). Then, per server:
// a wrong password is refused with that server's message; the right one logs in; the Sockets
// page lists exactly the three sids with their transports; the Rooms page lists `lobby` with
// one socket; bob's details page joins him to a new room (the server really has him there:
// his `rooms` ack and a broadcast to that room say so, and the page's Rooms card shows it);
// the Events page logs that join and the events around it; the Servers page and the
// Dashboard show one healthy server with the server process's pid and the namespace counts
// from `server_stats`; carol's row's disconnect button disconnects carol.
// Two shorter scenarios per server follow: `--admin none --admin-mode production` (the UI
// connects on load from a seeded localStorage server_url, shows only Dashboard and Servers,
// fed by server_stats) and `--admin-read-only` (no disconnect or leave buttons; a join from
// the UI's ungated form changes nothing on the server).
// Every wait is bounded (10 s); screenshots go to artifacts/ (admin-<tag>-*.png, and
// admin-<tag>-on-failure.png when a step failed). Everything started is stopped by pid.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { io } from 'socket.io-client';
import { WAIT_MS, describeProc, pageWaiter, running, stop } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const UI_DIR = path.join(HERE, 'node_modules', '@socket.io', 'admin-ui', 'ui', 'dist');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PYTHON = process.env.FERROSOCKET_ADMIN_PYTHON || path.join(ROOT, 'target', 'browser-venv', 'bin', 'python');
const TEST_SERVER = process.env.FERROSOCKET_TEST_SERVER || path.join(ROOT, 'target', 'debug', 'test-server');
const RUST = process.env.FERROSOCKET_ADMIN_RUST; // '1': required, '0': skipped, unset: when supported

const STARTUP_TIMEOUT_MS = 30_000;
const STEP_TIMEOUT_MS = 30_000; // every it()
const USER = 'admin';
const PASSWORD = 'admin-ui-test-pw';
const LOBBY = 'lobby';
const UI_ROOM = 'ui-room';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
// index.html's two CDN stylesheets (Roboto, Material Design Icons): aborted, never fetched.
// The icons then render blank, but their <i class="mdi mdi-…"> elements are still there.
const CDN = /^https?:\/\/(fonts\.googleapis\.com|cdn\.jsdelivr\.net)\//;

// ---- which servers ----------------------------------------------------------------------
function referenceSkip() {
  if (!existsSync(PYTHON)) {
    return `no python with python-socketio at ${PYTHON} (set FERROSOCKET_ADMIN_PYTHON, or let run.sh make target/browser-venv)`;
  }
  return false;
}

// Whether test-server knows --admin: `test-server --admin none --port x` fails on the
// bad port (after --admin was taken) if it does, on "unknown option --admin" if not. Nothing
// is started either way.
function rustSkip() {
  if (RUST === '0') return 'FERROSOCKET_ADMIN_RUST=0';
  const required = RUST === '1';
  if (!existsSync(TEST_SERVER)) {
    if (required) return false; // fails in before(), saying why
    return `no test-server binary at ${TEST_SERVER} (cargo build -p ferrosocket-test-server)`;
  }
  const probe = spawnSync(TEST_SERVER, ['--admin', 'none', '--static', UI_DIR, '--port', 'not-a-port'],
    { encoding: 'utf8', timeout: 5_000 });
  const out = `${probe.stdout}${probe.stderr}`;
  if (/unknown option --(admin|static)\b/.test(out) && !required) {
    return `test-server has no --admin/--static yet (${out.trim().split('\n')[0]}); FERROSOCKET_ADMIN_RUST=1 makes this a failure`;
  }
  return false;
}

const BASE_FLAGS = ['--host', '127.0.0.1', '--port', '0', '--static', UI_DIR];
const SERVERS = [
  {
    id: 'python',
    name: 'python-socketio Server.instrument() (reference)',
    command: PYTHON,
    args: [path.join(HERE, 'admin_server.py')],
    // python-socketio refuses a bad login with ConnectionRefusedError('authentication
    // failed'); the UI shows any message but "invalid credentials" as "Error: <message>".
    badLogin: 'Error: authentication failed',
    skip: referenceSkip(),
  },
  {
    id: 'rust',
    name: 'ferrosocket test-server --admin',
    command: TEST_SERVER,
    args: [],
    // ferrosocket refuses with "invalid credentials", as node's @socket.io/admin-ui does:
    // the one message the UI special-cases into its own "Invalid credentials" text.
    badLogin: 'Invalid credentials',
    skip: rustSkip(),
  },
];

// ---- processes --------------------------------------------------------------------------
function startServer(spec, flags) {
  if (!existsSync(spec.command)) throw new Error(`${spec.name}: no such program ${spec.command}`);
  if (!existsSync(path.join(UI_DIR, 'index.html'))) {
    throw new Error(`the Admin UI bundle is missing: ${UI_DIR} (npm ci in tests/browser)`);
  }
  const child = spawn(spec.command, [...spec.args, ...BASE_FLAGS, ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_BACKTRACE: '1', PYTHONUNBUFFERED: '1' },
  });
  const proc = { name: spec.name, child, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { proc.stderr = (proc.stderr + d).slice(-20_000); });
  proc.exited = new Promise((resolve) => {
    child.once('error', (err) => { proc.error = err; resolve({ code: null, signal: null, error: err }); });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  proc.ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.name} printed no LISTENING line within ${STARTUP_TIMEOUT_MS} ms\n${describeProc(proc)}`)), STARTUP_TIMEOUT_MS);
    proc.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${spec.name} exited before it was ready (code ${code}, signal ${signal})\n${describeProc(proc)}`));
    });
    child.stdout.on('data', (d) => {
      proc.stdout = (proc.stdout + d).slice(-20_000);
      const m = /^LISTENING (\S+):(\d+)\r?$/m.exec(proc.stdout);
      if (m) { clearTimeout(timer); resolve(`http://${m[1]}:${m[2]}`); }
    });
  });
  proc.ready.catch(() => {}); // reported by whoever awaits it
  return proc;
}

// Polls fn (truthy when done) every 50 ms for at most WAIT_MS.
async function until(what, fn, detail = () => '') {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${WAIT_MS} ms waiting for ${what}\n${await detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---- the test's own Socket.IO clients ---------------------------------------------------
// A socket.io-client on `/`, with everything it received kept.
async function connectClient(name, url, transports) {
  const socket = io(url, { transports, reconnection: false, forceNew: true, timeout: WAIT_MS });
  const client = { name, socket, events: [], disconnects: [] };
  socket.onAny((event, ...args) => client.events.push([event, ...args]));
  socket.on('disconnect', (reason) => client.disconnects.push(reason));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name}: no connect within ${WAIT_MS} ms`)), WAIT_MS);
    socket.once('connect', () => { clearTimeout(timer); resolve(); });
    socket.once('connect_error', (err) => { clearTimeout(timer); reject(new Error(`${name}: connect_error ${err.message}`)); });
  });
  client.sid = socket.id;
  return client;
}

const ask = (client, event, ...args) => client.socket.timeout(WAIT_MS).emitWithAck(event, ...args);
const got = (client, event) => client.events.filter(([e]) => e === event);

// ---- the page ---------------------------------------------------------------------------
// What the UI shows, for failure messages.
async function snapshot(page) {
  try {
    return await page.evaluate(() => ({
      hash: location.hash,
      appBar: document.querySelector('header')?.innerText ?? null,
      dialog: [...document.querySelectorAll('.v-dialog--active')].map((d) => d.innerText),
      breadcrumbs: document.querySelector('.v-breadcrumbs')?.innerText ?? null,
      tables: [...document.querySelectorAll('main table')].map((t) => [...t.querySelectorAll('tr')].map((tr) => tr.innerText)),
    }));
  } catch (err) {
    return `unavailable: ${err.message}`;
  }
}

const waitIn = pageWaiter(snapshot);

// The rows of the data tables shown (of the page, or of the card titled `card`), each as the
// text of its cells (textContent: as written, not as CSS capitalises it); Vuetify's "No data
// available" row left out. Only what is displayed: a page leaving in a transition is not.
function tableRows(page, card = null) {
  return page.evaluate((title) => {
    const shown = (e) => e.getClientRects().length > 0;
    const text = (e) => e.textContent.replace(/\s+/g, ' ').trim();
    let scope = document.querySelector('main');
    if (title) {
      scope = [...scope.querySelectorAll('.v-card')].find((c) => shown(c) && text(c.querySelector('.v-card__title') ?? c) === title);
      if (!scope) return null;
    }
    return [...scope.querySelectorAll('.v-data-table tbody tr')]
      .filter((tr) => shown(tr) && !tr.querySelector('.v-data-table__empty-wrapper') && !tr.classList.contains('v-data-table__empty-wrapper'))
      .map((tr) => [...tr.querySelectorAll('td')].map(text));
  }, card);
}

// Waits for the page whose last breadcrumb is `crumb`.
async function onPage(page, crumb) {
  await waitIn(page, `the ${JSON.stringify(crumb)} page`, (c) => {
    const items = [...document.querySelectorAll('main .v-breadcrumbs li:not(.v-breadcrumbs__divider)')];
    return items.at(-1)?.innerText.trim() === c;
  }, crumb);
}

// Waits until the table rows (of the page, or of the card titled `card`) satisfy check.
async function rowsUntil(page, what, check, card = null) {
  let rows;
  await until(what, async () => { rows = await tableRows(page, card); return rows && check(rows); },
    async () => `rows: ${JSON.stringify(rows)}\npage shows: ${JSON.stringify(await snapshot(page), null, 2)}`);
  return rows;
}

async function navigate(page, title, crumb = title) {
  await page.locator('nav .v-list-item', { hasText: title }).click();
  await onPage(page, crumb);
}

// ---- the scenario, per server -----------------------------------------------------------
// Registers (in the describe() it is called in) a before() that starts the server with
// `flags`, connects the named clients to `/` (before any UI logs in, so all_sockets has
// `/` and the UI selects it) and opens a page, and an after() that stops all of it by pid.
// Returns h: h.page, h.base, h.server, h.clients (filled in by before()), h.problems (the
// page's errors), h.webSockets (the page's WebSocket URLs, in order), h.shot(name) and
// h.step(name, fn), an it() that on the first failure takes
// artifacts/admin-<tag>-on-failure.png of the page as the failure left it.
function harness(spec, { tag, flags, clients: wanted, init = null }) {
  const h = {
    clients: {},
    problems: { pageErrors: [], consoleErrors: [], failedRequests: [] },
    webSockets: [],
  };
  let browser;
  let steps = 0;
  let passed = 0;
  let failureShot = false;
  h.shot = (name) => {
    mkdirSync(ARTIFACTS, { recursive: true });
    return h.page.screenshot({ path: path.join(ARTIFACTS, `admin-${tag}-${name}.png`), timeout: WAIT_MS });
  };
  h.step = (name, fn) => {
    steps += 1;
    it(name, { timeout: STEP_TIMEOUT_MS }, async () => {
      try {
        await fn();
        passed += 1;
      } catch (err) {
        if (h.page && !failureShot && !h.page.isClosed()) {
          failureShot = true;
          await h.shot('on-failure').catch(() => {});
        }
        throw err;
      }
    });
  };
  h.closeBrowser = () => browser.close();

  before(async () => {
    h.server = startServer(spec, flags);
    h.base = await h.server.ready;
    for (const [name, transports] of Object.entries(wanted)) {
      h.clients[name] = await connectClient(name, h.base, transports);
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    // Wide enough for the navigation drawer to start open (Vuetify's lgAndUp).
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.route(CDN, (route) => route.abort());
    if (init) await context.addInitScript(init.fn, init.arg(h));
    const page = await context.newPage();
    h.page = page;
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    const { problems } = h;
    page.on('pageerror', (err) => problems.pageErrors.push(String(err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/net::ERR_FAILED/.test(msg.text())) problems.consoleErrors.push(msg.text());
    });
    page.on('websocket', (ws) => h.webSockets.push(ws.url()));
    page.on('requestfailed', (req) => { if (!CDN.test(req.url())) problems.failedRequests.push(`${req.failure()?.errorText} ${req.url()}`); });
    page.on('response', (res) => { if (res.status() >= 400) problems.failedRequests.push(`${res.status()} ${res.url()}`); });
  }, { timeout: 90_000 });

  after(async () => {
    // before() failed, say: a picture of whatever is on screen.
    if (h.page && passed < steps && !failureShot && !h.page.isClosed()) await h.shot('on-failure').catch(() => {});
    await browser?.close().catch(() => {});
    for (const c of Object.values(h.clients)) c.socket.close();
    await stop(h.server).catch(() => {});
  }, { timeout: 60_000 });
  return h;
}

for (const spec of SERVERS) {
  describe(`Admin UI 0.5.1 against ${spec.name}`, { skip: spec.skip, timeout: 120_000 }, () => {
    const h = harness(spec, {
      tag: spec.id,
      flags: ['--admin', `${USER}:${PASSWORD}`],
      clients: { alice: ['websocket'], bob: ['websocket'], carol: ['polling'] },
    });
    const { step, shot, clients, problems, webSockets } = h;
    const refusedWebSockets = []; // the page's WebSockets up to the refused login

    step('alice joins lobby through the server\'s own join event', async () => {
      const rooms = await ask(clients.alice, 'join', LOBBY);
      assert.deepEqual(rooms, [clients.alice.sid, LOBBY].sort(), 'alice is in lobby (the join ack)');
    });

    step('serves the UI and opens the login form', async () => {
      const { page, base } = h;
      const res = await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      assert.equal(res.status(), 200, `GET ${base}/`);
      assert.equal(await page.title(), 'Socket.IO Admin UI');
      await page.getByLabel('Server URL').waitFor({ state: 'visible' });
      await waitIn(page, 'the Connection dialog', () => /Connection/.test(document.querySelector('.v-dialog--active')?.innerText ?? ''));
    });

    step(`refuses a wrong password (${JSON.stringify(spec.badLogin)})`, async () => {
      const { page, base } = h;
      await page.getByLabel('Server URL').fill(base);
      await page.getByLabel('Username').fill(USER);
      await page.getByLabel('Password').fill(`${PASSWORD}-wrong`);
      await page.getByRole('button', { name: 'Connect' }).click();
      const error = page.locator('.v-dialog--active .red--text');
      await error.waitFor({ state: 'visible' });
      await waitIn(page, `the dialog's error to read ${JSON.stringify(spec.badLogin)}`,
        (text) => document.querySelector('.v-dialog--active .red--text')?.innerText.trim() === text, spec.badLogin);
      await waitIn(page, 'Status: disconnected', () => /Status: disconnected/.test(document.querySelector('header')?.textContent.replace(/\s+/g, ' ') ?? ''));
      refusedWebSockets.push(...webSockets);
      await shot('bad-login');
    });

    step('logs in with the right password', async () => {
      const { page, base } = h;
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Connect' }).click();
      await waitIn(page, 'the dialog to close', () => !document.querySelector('.v-dialog--active'));
      await waitIn(page, 'Status: connected', () => /Status: connected/.test(document.querySelector('header')?.textContent.replace(/\s+/g, ' ') ?? ''));
      const bar = (await page.locator('header').textContent()).replace(/\s+/g, ' ');
      assert.ok(bar.includes(`Server URL: ${base}`), `the app bar names the server: ${bar}`);
      // Development mode: the full menu (it needs config's ALL_EVENTS).
      const menu = (await page.locator('nav .v-list-item').allInnerTexts()).map((t) => t.trim());
      assert.deepEqual(menu, ['Dashboard', 'Sockets', 'Rooms', 'Clients', 'Events', 'Servers']);
    });

    step('lists the three clients on the Sockets page, with their transports', async () => {
      const { page } = h;
      await navigate(page, 'Sockets');
      const { alice, bob, carol } = clients;
      const want = [alice.sid, bob.sid, carol.sid].sort();
      const rows = await rowsUntil(page, `the sids ${want.join(', ')}`,
        (r) => JSON.stringify(r.map((c) => c[0]).sort()) === JSON.stringify(want));
      const byId = Object.fromEntries(rows.map(([id, address, transport]) => [id, { address, transport }]));
      assert.equal(byId[alice.sid].transport, 'WebSocket');
      assert.equal(byId[bob.sid].transport, 'WebSocket');
      assert.equal(byId[carol.sid].transport, 'HTTP long-polling');
      for (const { address } of Object.values(byId)) assert.equal(address, '127.0.0.1');
      // all_sockets had `/` sockets, so the UI selected `/`.
      assert.equal((await page.locator('main .v-select__selection').first().innerText()).trim(), '/');
      await shot('sockets');
    });

    step('lists lobby with one socket on the Rooms page', async () => {
      const { page } = h;
      await navigate(page, 'Rooms');
      // Columns: ID, Type, # of sockets, actions. Private (sid) rooms are hidden by default.
      const rows = await rowsUntil(page, 'lobby listed', (r) => r.some((c) => c[0] === LOBBY));
      assert.deepEqual(rows.map((c) => c.slice(0, 3)), [[LOBBY, 'Public', '1']]);
    });

    step('joins bob to a room from his details page; the server has him there', async () => {
      const { page } = h;
      const { alice, bob, carol } = clients;
      await navigate(page, 'Sockets');
      await rowsUntil(page, 'bob listed', (r) => r.some((c) => c[0] === bob.sid));
      await page.locator('main tbody tr', { hasText: bob.sid }).locator('td').first().click();
      await onPage(page, 'Socket details');
      // The Rooms card: his own sid room only, so far.
      await rowsUntil(page, 'bob\'s sid room in the Rooms card', (r) => r.length === 1 && r[0][0] === bob.sid, 'Rooms');

      await page.getByLabel('Join a room').fill(UI_ROOM);
      await page.locator('main form button:has(i.mdi-tag-plus-outline)').click();
      // The server's room_joined adds the row.
      const rows = await rowsUntil(page, `${UI_ROOM} in the Rooms card`, (r) => r.some((c) => c[0] === UI_ROOM), 'Rooms');
      assert.deepEqual(rows.map((c) => c[0]), [bob.sid, UI_ROOM].sort());
      await shot('socket');

      // The server really put bob there: his rooms, and a broadcast to the room.
      assert.deepEqual(await ask(bob, 'rooms'), [bob.sid, UI_ROOM].sort(), 'bob\'s rooms, asked of the server');
      assert.equal(await ask(alice, 'emit', { to: [UI_ROOM], event: 'to-ui-room', args: ['hello'] }), true);
      // Then one to everyone: once alice and carol have that, they would have had the first.
      assert.equal(await ask(alice, 'emit', { event: 'to-all', args: [] }), true);
      await until('bob to get to-ui-room, and everyone to-all', () => got(bob, 'to-ui-room').length === 1 &&
        [alice, bob, carol].every((c) => got(c, 'to-all').length === 1),
      () => JSON.stringify(Object.values(clients).map((c) => [c.name, c.events])));
      assert.deepEqual(got(bob, 'to-ui-room'), [['to-ui-room', 'hello']]);
      assert.deepEqual(got(alice, 'to-ui-room'), [], 'alice is not in the room');
      assert.deepEqual(got(carol, 'to-ui-room'), [], 'carol is not in the room');

      await navigate(page, 'Rooms');
      const rooms = await rowsUntil(page, `${UI_ROOM} on the Rooms page`, (r) => r.some((c) => c[0] === UI_ROOM));
      assert.deepEqual(rooms.map((c) => c.slice(0, 3)), [[LOBBY, 'Public', '1'], [UI_ROOM, 'Public', '1']]);
    });

    step('logs the join and the events around it on the Events page (ALL_EVENTS)', async () => {
      const { page } = h;
      const { alice, bob } = clients;
      await navigate(page, 'Events');
      // Newest first, 10 a page: the last step's are on the first. room_joined's args are
      // the room; event_received / event_sent show the event name.
      const has = (rows, sid, type, args) => rows.some((c) => c.includes(sid) && c.includes(type) && c.includes(args));
      const want = [
        [bob.sid, 'Room joined', `Room: ${UI_ROOM}`],
        [alice.sid, 'Event received', 'Event name: emit'],
        [bob.sid, 'Event sent', 'Event name: to-ui-room'],
      ];
      await rowsUntil(page, `the events ${JSON.stringify(want)}`, (rows) => want.every((w) => has(rows, ...w)));
      await shot('events');
    });

    step('shows one healthy server (server_stats) on the Servers page and the Dashboard', async () => {
      const { page, server } = h;
      await navigate(page, 'Servers');
      // Columns: ID, Hostname, PID, Uptime, # of clients, Last ping, Status.
      const rows = await rowsUntil(page, 'one server row', (r) => r.length === 1 && r[0].length >= 7);
      const [id, hostname, pid, , clientsCount, , status] = rows[0];
      assert.ok(id && hostname, `server id and hostname shown: ${JSON.stringify(rows[0])}`);
      assert.equal(pid, String(server.child.pid), 'the pid is the server process\'s');
      assert.equal(status.toLowerCase(), 'healthy');
      // The three clients and the UI's own connection (the refused login's is closed by the
      // UI's client on CONNECT_ERROR; at least: the stats may be up to 2 s old).
      assert.ok(Number(clientsCount) >= 4, `# of clients ${clientsCount}`);
      await shot('servers');

      await navigate(page, 'Dashboard');
      // Namespaces card (from server_stats' namespaces): `/` with the three clients.
      const namespaces = await rowsUntil(page, 'the Namespaces card', (r) => r.some((c) => c[0] === '/'), 'Namespaces');
      const counts = Object.fromEntries(namespaces.map(([name, n]) => [name, n]));
      assert.equal(counts['/'], '3', `namespace counts ${JSON.stringify(counts)}`);
      assert.equal(counts['/admin'], '1', `namespace counts ${JSON.stringify(counts)}`);
      const healthy = await page.evaluate(() => {
        const card = [...document.querySelectorAll('main .v-card')].find((c) => c.querySelector('.v-card__title')?.innerText.trim() === 'Servers');
        return card ? [...card.querySelectorAll('h2')].map((h) => h.innerText.trim()) : null;
      });
      assert.deepEqual(healthy, ['1', '0'], 'Servers card: one healthy, none unhealthy');
      await shot('dashboard');
    });

    step('disconnects carol from the Sockets page', async () => {
      const { page } = h;
      const { alice, bob, carol } = clients;
      await navigate(page, 'Sockets');
      await rowsUntil(page, 'carol listed', (r) => r.some((c) => c[0] === carol.sid));
      await page.locator('main tbody tr', { hasText: carol.sid }).locator('button:has(i.mdi-logout)').click();
      await until('carol to be disconnected', () => carol.disconnects.length > 0);
      assert.deepEqual(carol.disconnects, ['io server disconnect']);
      // The click reaches the row too, which opens carol's details: her socket shows as
      // disconnected there (socket_disconnected).
      await onPage(page, 'Socket details');
      await waitIn(page, 'carol shown as disconnected', (sid) => {
        const rows = [...document.querySelectorAll('main tr')].filter((tr) => tr.getClientRects().length > 0)
          .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim()));
        const i = rows.findIndex((r) => r[0] === 'ID' && r[1] === sid);
        return i >= 0 && rows.slice(i).find((r) => r[0] === 'Status')?.[1] === 'disconnected';
      }, carol.sid);
      await navigate(page, 'Sockets');
      const rows = await rowsUntil(page, 'carol gone from the list', (r) => !r.some((c) => c[0] === carol.sid));
      assert.deepEqual(rows.map((c) => c[0]).sort(), [alice.sid, bob.sid].sort());
      assert.ok(alice.socket.connected && bob.socket.connected, 'alice and bob stay connected');
    });

    step('had no page errors, console errors or failed requests', async () => {
      const { server } = h;
      if (spec.id === 'python') {
        // The reference (python-engineio 4.13 over simple-websocket under Werkzeug) sometimes
        // breaks the refused login's WebSocket, mid-upgrade, right after its CONNECT_ERROR:
        // Chromium then logs "Invalid frame header" for it. Only that socket is let off.
        problems.consoleErrors = problems.consoleErrors.filter((text) => !refusedWebSockets.some((url) =>
          text === `WebSocket connection to '${url}' failed: Invalid frame header`));
      }
      assert.deepEqual(problems, { pageErrors: [], consoleErrors: [], failedRequests: [] });
      assert.ok(running(server), `the server still runs\n${describeProc(server)}`);
    });

    step('the server exits 0 within 10 s of SIGTERM', async () => {
      const { server } = h;
      await h.closeBrowser();
      for (const c of Object.values(clients)) c.socket.close();
      const ended = await stop(server);
      assert.ok(ended !== null, `did not stop within ${WAIT_MS} ms of SIGTERM\n${describeProc(server)}`);
      assert.deepEqual([ended.code, ended.signal], [0, null], describeProc(server));
    });
  });

  // No login, production mode: the UI connects on load with what localStorage holds (a
  // server_url seeded before the page's scripts run; its auth is {sessionId: null}) and
  // shows only Dashboard and Servers, fed by server_stats alone.
  describe(`Admin UI 0.5.1, --admin none --admin-mode production, against ${spec.name}`, { skip: spec.skip, timeout: 60_000 }, () => {
    const h = harness(spec, {
      tag: `${spec.id}-production`,
      flags: ['--admin', 'none', '--admin-mode', 'production'],
      clients: { dave: ['websocket'] },
      init: { fn: (url) => localStorage.setItem('server_url', url), arg: (hh) => hh.base },
    });

    h.step('connects on load without a login form', async () => {
      const { page, base } = h;
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      await waitIn(page, 'Status: connected', () => /Status: connected/.test(document.querySelector('header')?.textContent.replace(/\s+/g, ' ') ?? ''));
      assert.equal(await page.locator('.v-dialog--active').count(), 0, 'no Connection dialog');
      // Production: config has AGGREGATED_EVENTS and no ALL_EVENTS.
      await waitIn(page, 'the production menu', () => [...document.querySelectorAll('nav .v-list-item')]
        .map((e) => e.textContent.trim()).join(',') === 'Dashboard,Servers');
    });

    h.step('the Dashboard and the Servers page show server_stats', async () => {
      const { page, server } = h;
      const namespaces = await rowsUntil(page, 'the Namespaces card', (r) => r.some((c) => c[0] === '/'), 'Namespaces');
      const counts = Object.fromEntries(namespaces.map(([name, n]) => [name, n]));
      assert.equal(counts['/'], '1', `namespace counts ${JSON.stringify(counts)}`);
      assert.equal(counts['/admin'], '1', `namespace counts ${JSON.stringify(counts)}`);
      await navigate(page, 'Servers');
      const rows = await rowsUntil(page, 'one server row', (r) => r.length === 1 && r[0].length >= 7);
      assert.equal(rows[0][2], String(server.child.pid), 'the pid is the server process\'s');
      assert.equal(rows[0][6].toLowerCase(), 'healthy');
      await h.shot('servers');
      assert.deepEqual(h.problems, { pageErrors: [], consoleErrors: [], failedRequests: [] });
    });
  });

  // Read-only: config has no action features, so the UI offers no disconnect or leave
  // buttons; its "Join a room" form is not gated, and the server must ignore the join.
  describe(`Admin UI 0.5.1, --admin-read-only, against ${spec.name}`, { skip: spec.skip, timeout: 60_000 }, () => {
    const h = harness(spec, {
      tag: `${spec.id}-read-only`,
      flags: ['--admin', `${USER}:${PASSWORD}`, '--admin-read-only'],
      clients: { erin: ['websocket'] },
    });

    h.step('logs in; the Sockets page has no disconnect buttons', async () => {
      const { page, base } = h;
      const { erin } = h.clients;
      await page.goto(`${base}/`, { waitUntil: 'domcontentloaded' });
      await page.getByLabel('Server URL').fill(base);
      await page.getByLabel('Username').fill(USER);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Connect' }).click();
      await waitIn(page, 'Status: connected', () => /Status: connected/.test(document.querySelector('header')?.textContent.replace(/\s+/g, ' ') ?? ''));
      await navigate(page, 'Sockets');
      await rowsUntil(page, 'erin listed', (r) => r.length === 1 && r[0][0] === erin.sid);
      assert.equal(await page.locator('main tbody tr button:has(i.mdi-logout)').count(), 0, 'no disconnect button (no DISCONNECT)');
    });

    h.step('a join from the UI is ignored by the server', async () => {
      const { page } = h;
      const { erin } = h.clients;
      await page.locator('main tbody tr', { hasText: erin.sid }).locator('td').first().click();
      await onPage(page, 'Socket details');
      await rowsUntil(page, 'erin\'s sid room in the Rooms card', (r) => r.length === 1 && r[0][0] === erin.sid, 'Rooms');
      assert.equal(await page.locator('main button:has(i.mdi-tag-off-outline)').count(), 0, 'no leave button (no LEAVE)');
      await page.getByLabel('Join a room').fill(UI_ROOM);
      await page.locator('main form button:has(i.mdi-tag-plus-outline)').click();
      // Nothing to wait for when nothing happens: give the server half a second, then ask.
      await page.waitForTimeout(500);
      assert.deepEqual(await ask(erin, 'rooms'), [erin.sid], 'erin\'s rooms, asked of the server');
      const rows = await tableRows(page, 'Rooms');
      assert.deepEqual(rows.map((c) => c[0]), [erin.sid], 'the Rooms card is unchanged');
      await h.shot('socket');
      assert.deepEqual(h.problems, { pageErrors: [], consoleErrors: [], failedRequests: [] });
      assert.ok(running(h.server), `the server still runs\n${describeProc(h.server)}`);
    });
  });
}
