// Shared helpers: bounded waits, socket.io-client wrappers and a raw Engine.IO WebSocket client.
import { io, Manager } from 'socket.io-client';
import WebSocket from 'ws';

export const DEFAULT_WAIT_MS = 5_000;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reject if `promise` does not settle within ms. */
export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

/** Resolve with the args of the next `event` on an EventEmitter-like object (bounded). */
export function once(emitter, event, ms = DEFAULT_WAIT_MS) {
  return withTimeout(new Promise((resolve) => {
    emitter.once(event, (...args) => resolve(args));
  }), ms, `event "${event}"`);
}

/** Poll `fn` until it returns a truthy value (which is returned), bounded. */
export async function waitUntil(fn, ms = DEFAULT_WAIT_MS, what = 'condition', every = 25) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Recursively turn every binary value (Buffer, ArrayBuffer, typed array) into a Buffer. */
export function normalize(v) {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v)) o[k] = normalize(x);
    return o;
  }
  return v;
}

/**
 * Create a socket.io-client socket (never reconnecting, never sharing a Manager) and wait for
 * `connect`. Records every `welcome` in socket.welcomes and the order of connect / welcome in
 * socket.order. Rejects with the connect_error on refusal.
 */
export async function connect(url, opts = {}, ms = DEFAULT_WAIT_MS) {
  const { nsp = '/', ...rest } = opts;
  const socket = io(url + (nsp === '/' ? '' : nsp), {
    forceNew: true,
    reconnection: false,
    autoConnect: false,
    timeout: ms,
    ...rest,
  });
  track(socket);
  socket.connect();
  await waitConnected(socket, ms);
  return socket;
}

/** Attach bookkeeping listeners to a socket created with autoConnect: false. */
export function track(socket) {
  socket.order = [];
  socket.welcomes = [];
  socket.disconnects = [];
  socket.on('connect', () => socket.order.push('connect'));
  socket.on('welcome', (w) => {
    socket.order.push('welcome');
    socket.welcomes.push(w);
  });
  socket.on('disconnect', (reason) => socket.disconnects.push(reason));
  return socket;
}

export function waitConnected(socket, ms = DEFAULT_WAIT_MS) {
  if (socket.connected) return Promise.resolve();
  return withTimeout(new Promise((resolve, reject) => {
    const onConnect = () => { socket.off('connect_error', onError); resolve(); };
    const onError = (err) => { socket.off('connect', onConnect); reject(err); };
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  }), ms, `connect of ${socket.nsp}`);
}

/** Expect a refused connect; resolves with the connect_error Error. */
export async function connectError(url, opts = {}, ms = DEFAULT_WAIT_MS) {
  const { nsp = '/', ...rest } = opts;
  const socket = io(url + (nsp === '/' ? '' : nsp), {
    forceNew: true, reconnection: false, autoConnect: false, timeout: ms, ...rest,
  });
  const p = withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', () => reject(new Error(`namespace ${nsp} unexpectedly accepted the connection`)));
    socket.once('connect_error', (err) => resolve(err));
  }), ms, `connect_error on ${nsp}`);
  socket.connect();
  try {
    return await p;
  } finally {
    socket.disconnect();
    socket.io.engine?.close();
  }
}

/** The next welcome (or the one already received). */
export async function welcome(socket, ms = DEFAULT_WAIT_MS) {
  await waitUntil(() => socket.welcomes.length > 0, ms, 'welcome');
  return socket.welcomes[0];
}

/** emit with an ack, bounded; resolves with the ack's arguments as an array (binaries normalized). */
export async function call(socket, event, ...args) {
  return callT(socket, DEFAULT_WAIT_MS, event, ...args);
}

export async function callT(socket, ms, event, ...args) {
  const res = await withTimeout(new Promise((resolve) => {
    socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs));
  }), ms, `ack of "${event}" on ${socket.nsp}`);
  return normalize(res);
}

/** emit and wait for the server's `echo` event. */
export async function echo(socket, ...args) {
  const p = once(socket, 'echo');
  socket.emit('echo', ...args);
  return normalize(await p);
}

export function closeAll(sockets) {
  for (const s of sockets) {
    try { s.disconnect(); } catch { /* ignore */ }
    try { s.io?.engine?.close(); } catch { /* ignore */ }
  }
}

export function manager(url, opts = {}) {
  return new Manager(url, { forceNew: true, reconnection: false, autoConnect: false, timeout: DEFAULT_WAIT_MS, ...opts });
}

/** The server's disconnect_log, queried through `socket`. */
export async function disconnectLog(socket) {
  const [log] = await call(socket, 'disconnect_log');
  return log;
}

/** Poll disconnect_log until an entry for sid shows up; returns it. */
export async function waitDisconnectEntry(observer, sid, ms = DEFAULT_WAIT_MS) {
  return waitUntil(async () => {
    const log = await disconnectLog(observer);
    return log.find((e) => e.sid === sid);
  }, ms, `disconnect_log entry for ${sid}`, 50);
}

/**
 * A raw Engine.IO v4 client over WebSocket. Text frames are strings, binary frames Buffers.
 * Pings are answered only when autoPong is true.
 */
export class RawEio {
  static async open(server, { query = 'EIO=4&transport=websocket', autoPong = false, headers, path = '/socket.io/' } = {}) {
    const raw = new RawEio(`${server.wsUrl}${path}?${query}`, { autoPong, headers });
    await raw.ready;
    return raw;
  }

  constructor(url, { autoPong = false, headers } = {}) {
    this.autoPong = autoPong;
    this.queue = [];
    this.waiters = [];
    this.pings = [];
    this.openedAt = null;
    this.ws = new WebSocket(url, { headers });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closedAt = Date.now();
        resolve({ code, reason: reason.toString(), at: this.closedAt });
        for (const w of this.waiters.splice(0)) w.reject(new Error('websocket closed'));
      });
    });
    this.ws.on('error', () => { /* reported through close */ });
    this.ready = new Promise((resolve, reject) => {
      this.ws.once('unexpected-response', (req, res) => {
        reject(Object.assign(new Error(`websocket upgrade refused: HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      });
      this.ws.once('error', reject);
      this.ws.once('close', () => reject(new Error('websocket closed before the open packet')));
      this.ws.on('message', (data, isBinary) => {
        const msg = isBinary ? Buffer.from(data) : data.toString('utf8');
        if (this.openedAt === null) {
          this.openedAt = Date.now();
          if (typeof msg !== 'string' || msg[0] !== '0') {
            reject(new Error(`first frame is not an open packet: ${String(msg)}`));
            return;
          }
          this.handshake = JSON.parse(msg.slice(1));
          this.sid = this.handshake.sid;
          resolve();
          return;
        }
        if (msg === '2') {
          this.pings.push(Date.now());
          if (this.autoPong) { this.send('3'); return; }
        }
        const w = this.waiters.shift();
        if (w) w.resolve(msg); else this.queue.push(msg);
      });
    });
  }

  send(data) {
    this.ws.send(data);
  }

  /** Next frame (ping frames included unless autoPong), bounded. */
  next(ms = DEFAULT_WAIT_MS) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.ws.readyState >= WebSocket.CLOSING) return Promise.reject(new Error('websocket closed'));
    let waiter;
    return withTimeout(new Promise((resolve, reject) => {
      waiter = { resolve, reject };
      this.waiters.push(waiter);
    }), ms, 'a websocket frame').catch((e) => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      throw e;
    });
  }

  /** Next frame that is not a ping. */
  async nextNonPing(ms = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = await this.next(Math.max(1, deadline - Date.now()));
      if (m !== '2') return m;
    }
  }

  /** Socket.IO CONNECT to nsp; resolves with the namespace socket id. */
  async connectNsp(nsp = '/', auth) {
    const prefix = nsp === '/' ? '' : `${nsp},`;
    this.send(`40${prefix}${auth === undefined ? '' : JSON.stringify(auth)}`);
    const m = await this.nextNonPing();
    if (!m.startsWith(`40${prefix}`)) throw new Error(`expected CONNECT ack, got ${m}`);
    return JSON.parse(m.slice(2 + prefix.length)).sid;
  }

  isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close info, or rejects if the server keeps it open longer than ms. */
  waitClosed(ms = DEFAULT_WAIT_MS) {
    return withTimeout(this.closed, ms, 'the server to close the websocket');
  }

  close() {
    try { this.ws.terminate(); } catch { /* ignore */ }
  }
}
