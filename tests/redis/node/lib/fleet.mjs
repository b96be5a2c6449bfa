// Members of a Redis fleet for the mixed-fleet tests: node socket.io servers (server.mjs) and
// ferrosocket test servers (target/debug/test-server --redis URL --redis-format socket.io),
// each on a free port and stopped by pid; clients recording what they receive; fences.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io } from 'socket.io-client';
import { startServer, TestServer } from '../../../js/lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WAIT_MS = 5_000;
const STARTUP_TIMEOUT_MS = 10_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

export async function waitUntil(fn, what, ms = WAIT_MS, every = 20) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Every binary value (Buffer, ArrayBuffer, typed array) as a Buffer, recursively. */
export function normalize(v) {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}

/** A node server.mjs process; resolves once it printed its LISTENING line. */
async function startNodeServer(args) {
  const proc = spawn(process.execPath, [path.join(here, '..', 'server.mjs'), '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => { stderr = (stderr + d).slice(-50_000); });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`node server did not print LISTENING within ${STARTUP_TIMEOUT_MS} ms: ${stderr}`));
    }, STARTUP_TIMEOUT_MS);
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /^LISTENING 127\.0\.0\.1:(\d+)\s*$/m.exec(out);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`node server exited early (code ${code}, signal ${signal}): ${stderr}`));
    });
  });
  const server = new TestServer(proc, port);
  Object.defineProperty(server, 'stderr', { get: () => stderr, set: () => {} });
  return server;
}

/**
 * Start one member: kind 'node' (socket.io 4.8 + @socket.io/redis-adapter) or 'ferro'
 * (ferrosocket's test server in the socket.io wire format). Both take the same key.
 */
export async function startMember(kind, redisUrl, { key } = {}) {
  const channel = key ? ['--redis-channel', key] : [];
  const server = kind === 'node'
    ? await startNodeServer(['--redis', redisUrl, ...channel])
    : await startServer(['--redis', redisUrl, '--redis-format', 'socket.io', ...channel]);
  server.kind = kind;
  return server;
}

/**
 * A socket.io-client socket named `name` (never reconnecting), connected. It records every
 * event but `welcome` and `fence` in c.got, its fences in c.fences, its disconnect reasons
 * in c.disconnects, and answers any ack request with its own name (for an event whose name
 * starts with `ask-array`: with one argument, the array [name, 1]).
 */
export async function client(server, name, { nsp = '/', transports } = {}) {
  const c = io(server.url + (nsp === '/' ? '' : nsp), {
    forceNew: true, reconnection: false, timeout: WAIT_MS, ...(transports ? { transports } : {}),
  });
  c.name = name;
  c.got = [];
  c.fences = [];
  c.disconnects = [];
  c.onAny((event, ...args) => {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    if (event === 'fence') c.fences.push(args[0]);
    else if (event !== 'welcome') c.got.push([event, ...normalize(args)]);
    if (cb) cb(event.startsWith('ask-array') ? [name, 1] : name);
  });
  c.on('disconnect', (reason) => c.disconnects.push(reason));
  await withTimeout(new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('connect_error', reject);
  }), WAIT_MS, `connect of ${name} to ${server.kind} ${server.url}`);
  return c;
}

/** emit with an ack; resolves with the ack's arguments (binary normalized). */
export async function call(socket, event, ...args) {
  const res = await withTimeout(new Promise((resolve) => {
    socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs));
  }), WAIT_MS, `ack of "${event}" from ${socket.name}`);
  return normalize(res);
}

/** The events named `event` that c received, as their argument lists. */
export function received(c, event) {
  return c.got.filter((g) => g[0] === event).map((g) => g.slice(1));
}

export async function waitReceived(c, event, count = 1) {
  await waitUntil(() => received(c, event).length >= count, `${c.name} to receive "${event}"`);
  return received(c, event);
}

let fenceSeq = 0;
/**
 * `sender` emits a `fence` to the whole namespace; resolves once every client in `all` has
 * it. What the sender's server published earlier reached the others first (one publishing
 * connection; Redis keeps its order), so a test can then check what did NOT arrive.
 */
export async function fence(sender, all) {
  const tag = `f${++fenceSeq}`;
  const [ok] = await call(sender, 'emit', { event: 'fence', args: [tag] });
  if (ok !== true) throw new Error(`fence emit refused: ${JSON.stringify(ok)}`);
  await Promise.all(all.map((c) => waitUntil(() => c.fences.includes(tag), `fence ${tag} at ${c.name}`)));
}

export function closeAll(sockets) {
  for (const s of sockets) {
    try { s.disconnect(); } catch { /* already gone */ }
  }
}
