// The Flask chat as a fleet, in headless Chromium: one redis-server and two
// examples/flask_chat/app.py processes on two ports, both with `--message-queue
// redis://127.0.0.1:<port>/0` (SocketIO(app, message_queue=...)). alice's page is on one
// server, bob's on the other; they join the same room, and each one's message shows on
// both pages: the other server's clients get it through Redis only. A write-only emitter
// (`SocketIO(message_queue=url).emit(...)`, in a python process of its own) then sends a
// message to the room, which shows on both pages too.
//
// Runs with the binding's python: $FERROSOCKET_FLEET_PYTHON (tests/pybinding/run.sh sets
// it); skipped when unset. Needs redis-server on PATH (tests/browser/run.sh installs it
// with tests/lib/env.sh ensure_redis when BROWSER_TEST=fleet.test.mjs). Everything it starts it stops, by pid.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { WAIT_MS, describeProc, pageWaiter, running, stop } from './support.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const APP = path.join(ROOT, 'examples', 'flask_chat', 'app.py');
const ARTIFACTS = path.join(HERE, 'artifacts');
const PYTHON = process.env.FERROSOCKET_FLEET_PYTHON;
const REDIS_SERVER = process.env.REDIS_SERVER || 'redis-server';
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const STARTUP_TIMEOUT_MS = 30_000;
const ROOM = 'fleet-room';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// ---- processes ------------------------------------------------------------------------
// A child with its output kept (the last 20 kB), and a promise of its exit.
function startChild(name, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const proc = { name, child, stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { proc.stdout = (proc.stdout + d).slice(-20_000); });
  child.stderr.on('data', (d) => { proc.stderr = (proc.stderr + d).slice(-20_000); });
  proc.exited = new Promise((resolve) => {
    child.once('error', (err) => { proc.error = err; resolve({ code: null, signal: null, error: err }); });
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return proc;
}

// Polls fn (async, truthy when done) every 50 ms for at most ms; fails early when proc died.
async function until(what, fn, { ms = WAIT_MS, proc = null } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (proc && !running(proc)) throw new Error(`${what}: ${proc.name} exited\n${describeProc(proc)}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}` + (proc ? `\n${describeProc(proc)}` : ''));
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => { const { port } = probe.address(); probe.close(() => resolve(port)); });
  });
}

// One PING on a fresh connection: true when Redis answers +PONG.
function redisPing(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(1_000, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => { got += d; if (got.includes('\r\n')) done(got.startsWith('+PONG')); });
  });
}

// redis-server on a free loopback port, nothing saved; tried again on another port if the
// one picked was taken in between.
async function startRedis(dir) {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const redis = startChild(`redis-server :${port}`, REDIS_SERVER,
      ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir]);
    try {
      await until(`redis-server on 127.0.0.1:${port} to answer PING`, () => redisPing(port), { ms: STARTUP_TIMEOUT_MS, proc: redis });
      return { redis, url: `redis://127.0.0.1:${port}/0` };
    } catch (err) {
      await stop(redis);
      if (attempt >= 3) throw err;
    }
  }
}

// examples/flask_chat/app.py on a free port, in the fleet of `queue`; resolves with its URL
// once it prints LISTENING.
async function startChat(name, queue) {
  const chat = startChild(name, PYTHON, [APP, '--host', '127.0.0.1', '--port', '0', '--message-queue', queue],
    { env: { ...process.env, MESSAGE_QUEUE: '' } });
  const m = await until(`${name} to print LISTENING`,
    () => /^LISTENING (\S+):(\d+)\r?$/m.exec(chat.stdout), { ms: STARTUP_TIMEOUT_MS, proc: chat });
  chat.url = `http://${m[1]}:${m[2]}`;
  return chat;
}

// The write-only emitter of the fleet, as a separate process: what a worker would do.
const EMITTER = [
  'import sys, time',
  'from ferrosocket.flask import SocketIO',
  'url, room, text = sys.argv[1:4]',
  "SocketIO(message_queue=url).emit('message', {'room': room, 'username': 'worker', 'text': text, 'ts': int(time.time() * 1000)}, to=room)",
].join('\n');

// ---- pages ----------------------------------------------------------------------------
async function snapshot(page) {
  try {
    return await page.evaluate(() => ({
      conn: document.querySelector('#conn')?.dataset.state ?? null,
      error: document.querySelector('#error')?.textContent?.trim() ?? null,
      members: [...document.querySelectorAll('#members .member-name')].map((n) => n.textContent),
      messages: [...document.querySelectorAll('#messages li')].map((li) => li.textContent.trim()),
    }));
  } catch (err) {
    return `unavailable: ${err.message}`;
  }
}

const waitIn = pageWaiter(snapshot);

const hasMember = (name) => [`member ${JSON.stringify(name)} in the list`,
  (n) => [...document.querySelectorAll('#members .member-name')].some((e) => e.textContent === n), name];
const hasStatus = (text) => [`status line ${JSON.stringify(text)}`,
  (t) => [...document.querySelectorAll('#messages li.status')].some((li) => li.textContent.trim() === t), text];
const hasMessage = (username, text) => [`message ${JSON.stringify(text)} from ${JSON.stringify(username)}`,
  ([u, t]) => [...document.querySelectorAll('#messages li.msg')].some((li) =>
    li.querySelector('.user')?.textContent === u && li.querySelector('.text')?.textContent === t), [username, text]];
const messageItems = (page) => page.$$eval('#messages li.msg', (lis) => lis.map((li) => ({
  username: li.querySelector('.user')?.textContent ?? null,
  text: li.querySelector('.text')?.textContent ?? null,
})));

// ---- the test -------------------------------------------------------------------------
describe('the Flask chat as two servers on one Redis, in Chromium',
  { skip: !PYTHON && 'FERROSOCKET_FLEET_PYTHON unset', timeout: 180_000 }, () => {
    let dir;
    let redis;
    let queue;
    const chats = [];
    let browser;
    const pages = [];
    const screenshotsTaken = new Set();

    async function screenshot({ who, page }, name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), timeout: WAIT_MS });
      screenshotsTaken.add(who);
    }

    async function openPage(who, base) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 720 } });
      const page = await context.newPage();
      page.__who = who;
      page.setDefaultTimeout(WAIT_MS);
      const record = { who, page, requests: [], pageErrors: [] };
      page.on('pageerror', (err) => record.pageErrors.push(String(err)));
      page.on('request', (req) => record.requests.push(req.url()));
      page.on('websocket', (ws) => record.requests.push(ws.url().replace(/^ws/, 'http')));
      pages.push(record);
      const response = await page.goto(`${base}/`, { waitUntil: 'load', timeout: WAIT_MS });
      assert.equal(response.status(), 200, `GET ${base}/`);
      await waitIn(page, '#conn to say connected', () => document.querySelector('#conn')?.dataset.state === 'connected');
      return record;
    }

    async function join(record, username) {
      const { page } = record;
      await page.fill('#username', username);
      await page.fill('#room', ROOM);
      await page.click('#join');
      await waitIn(page, 'the chat view', () => !document.querySelector('#chat-view').hidden);
      await waitIn(page, ...hasMember(username));
    }

    async function send(record, text) {
      await record.page.fill('#text', text);
      await record.page.click('#send');
      await waitIn(record.page, 'the composer to be emptied (the server acked)',
        () => document.querySelector('#text').value === '');
    }

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'ferrosocket-fleet-'));
      ({ redis, url: queue } = await startRedis(dir));
      chats.push(await startChat('flask_chat A', queue));
      chats.push(await startChat('flask_chat B', queue));
      assert.notEqual(chats[0].url, chats[1].url);
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    }, { timeout: 120_000 });

    after(async () => {
      // A picture of whatever a failed run left on screen.
      for (const record of pages) {
        if (!screenshotsTaken.has(record.who)) await screenshot(record, `fleet-${record.who}-on-failure`).catch(() => {});
      }
      await browser?.close().catch(() => {});
      for (const chat of chats) await stop(chat).catch(() => {});
      await stop(redis).catch(() => {});
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, { timeout: 60_000 });

    it('alice on one server and bob on the other chat in one room; an emitter reaches both', { timeout: 120_000 }, async () => {
      const [a, b] = chats;
      const alice = await openPage('alice', a.url);
      const bob = await openPage('bob', b.url);

      await join(alice, 'alice');
      await join(bob, 'bob');
      // bob's "joined" is emitted by server B to the room: alice (on A) gets it through Redis.
      await waitIn(alice.page, ...hasStatus('bob joined'));
      await waitIn(alice.page, ...hasMember('bob'));

      // Each waits for the other's message before the next is sent, so the order is known.
      await send(alice, 'hello from A');
      for (const { page } of [alice, bob]) await waitIn(page, ...hasMessage('alice', 'hello from A'));
      await send(bob, 'hello from B');
      for (const { page } of [alice, bob]) await waitIn(page, ...hasMessage('bob', 'hello from B'));

      // The worker: a python process with no server, only SocketIO(message_queue=url). It
      // exits right after emit() returns, as a script does: by then the message must be
      // handed to Redis (Flask-SocketIO's write-only manager publishes before emit returns).
      const emitter = startChild('emitter', PYTHON, ['-c', EMITTER, queue, ROOM, 'hello from a worker']);
      const ended = await until('the emitter to exit', async () => (running(emitter) ? null : emitter.exited), { ms: 30_000 });
      assert.deepEqual([ended.code, ended.signal], [0, null], `the emitter failed\n${describeProc(emitter)}`);
      for (const { page } of [alice, bob]) await waitIn(page, ...hasMessage('worker', 'hello from a worker'));

      // Each message exactly once on each page, in the order sent.
      const expected = [
        { username: 'alice', text: 'hello from A' },
        { username: 'bob', text: 'hello from B' },
        { username: 'worker', text: 'hello from a worker' },
      ];
      for (const { who, page } of [alice, bob]) assert.deepEqual(await messageItems(page), expected, `${who}'s messages`);

      // Each page talked to its own server only: what crossed over went through Redis.
      for (const [record, chat] of [[alice, a], [bob, b]]) {
        const origin = new URL(chat.url).origin;
        const foreign = record.requests.filter((u) => new URL(u).origin !== origin);
        assert.deepEqual(foreign, [], `${record.who}: requests to another origin`);
        assert.ok(record.requests.some((u) => new URL(u).pathname.startsWith('/socket.io/')), `${record.who}'s socket is on ${origin}`);
        assert.deepEqual(record.pageErrors, [], `${record.who}: page errors`);
      }
      for (const chat of chats) assert.ok(running(chat), `${chat.name} still runs\n${describeProc(chat)}`);
      for (const record of [alice, bob]) await screenshot(record, `fleet-${record.who}`);
    });

    it('each chat and redis-server stop on SIGTERM', { timeout: 60_000 }, async () => {
      for (const proc of [...chats, redis]) {
        const ended = await stop(proc);
        assert.ok(ended !== null, `${proc.name} did not stop within 10 s of SIGTERM\n${describeProc(proc)}`);
      }
    });
  });
