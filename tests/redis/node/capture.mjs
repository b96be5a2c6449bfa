// Records the exact bytes node socket.io 4.8 + @socket.io/redis-adapter 8.x and
// @socket.io/redis-emitter 5.x publish on Redis, as fixtures for ferrosocket's codec tests.
//
//   node tests/redis/node/capture.mjs [OUT_DIR]     (default: tests/redis/fixtures/socket.io)
//
// It starts a redis-server on a free port, two socket.io servers (A and B) in this process,
// each with its own pub/sub clients and the adapter, and clients on both. A raw subscriber
// (PSUBSCRIBE * for PUBLISH; MONITOR for the sharded adapter's SPUBLISH) records every
// message. Each step acts, waits for what the clients observe, then
// publishes a fence on its own channel: Redis has handled every earlier publish once the
// fence comes back, so each step's messages are exactly those before its fence.
//
// Out: OUT_DIR/{adapter,emitter,sharded}/<step>.<n>.bin (the payload bytes) and a
// channels.json per folder: for every file its channel, the subscription that receives it,
// the encoding (msgpack or json) and the decoded value (binary as {"$bin": "<hex>"}).
// OUT_DIR/subscriptions.json lists what the adapters subscribe to.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import { io as ioc } from 'socket.io-client';
import { createClient } from 'redis';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Emitter } from '@socket.io/redis-emitter';
import { decode } from 'notepack.io';
import { startRedis } from './lib/redis.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const OUT = path.resolve(process.argv[2] ?? path.join(here, '..', 'fixtures', 'socket.io'));
const WAIT_MS = 5_000;
const FENCE_CHANNEL = 'capture-fence';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(fn, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** JSON-safe view of a decoded message: Buffers as {"$bin": hex}, undefined as {"$undefined": true}. */
function view(v) {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { $bin: Buffer.from(v).toString('hex') };
  if (v === undefined) return { $undefined: true };
  if (Array.isArray(v)) return v.map(view);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, view(x)]));
  }
  return v;
}

function decodePayload(buf) {
  if (buf[0] === 0x7b) return { encoding: 'json', decoded: JSON.parse(buf.toString('utf8')) };
  return { encoding: 'msgpack', decoded: view(decode(buf)) };
}

/**
 * Unquotes one argument of a MONITOR line (Redis writes each as a C-like quoted string:
 * \\ \" \n \r \t \a \b and \xHH for every other byte outside the printable range).
 */
function monitorArgs(line) {
  const args = [];
  let i = line.indexOf('] ') + 2;
  while (i < line.length) {
    if (line[i] === ' ') { i++; continue; }
    if (line[i] !== '"') throw new Error(`MONITOR line not understood: ${line}`);
    const bytes = [];
    for (i++; line[i] !== '"'; i++) {
      if (line[i] !== '\\') { bytes.push(line.charCodeAt(i)); continue; }
      const e = line[++i];
      if (e === 'x') { bytes.push(parseInt(line.slice(i + 1, i + 3), 16)); i += 2; }
      else bytes.push({ n: 10, r: 13, t: 9, a: 7, b: 8 }[e] ?? e.charCodeAt(0));
    }
    i++;
    args.push(Buffer.from(bytes));
  }
  return args;
}

/**
 * Records what Redis carries, with fences: PUBLISH as a PSUBSCRIBE * subscriber receives it
 * (exact bytes; a pattern is not counted by PUBSUB NUMSUB, so node's serverCount is not
 * changed), SPUBLISH from a MONITOR connection (sharded pub/sub does not reach patterns, and
 * an SSUBSCRIBE on the namespace channel would be counted by SHARDNUMSUB as one more server).
 */
class Recorder {
  constructor(redis) {
    this.redis = redis;
    this.messages = [];
    this.fences = new Set();
    this.monitorFences = new Set();
    this.fenceSeq = 0;
  }

  async start() {
    this.sub = createClient({ url: this.redis.url });
    this.pub = createClient({ url: this.redis.url });
    await Promise.all([this.sub.connect(), this.pub.connect()]);
    await this.sub.pSubscribe('*', (message, channel) => {
      const ch = channel.toString();
      if (ch === FENCE_CHANNEL) { this.fences.add(message.toString()); return; }
      this.messages.push({ channel: ch, via: 'PUBLISH', payload: Buffer.from(message) });
    }, true);
    this.monitor = net.connect({ host: '127.0.0.1', port: this.redis.port });
    let pending = '';
    this.monitor.setEncoding('latin1');
    await new Promise((resolve, reject) => {
      this.monitor.once('error', reject);
      this.monitor.on('data', (d) => {
        pending += d;
        let nl;
        while ((nl = pending.indexOf('\r\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 2);
          if (line === '+OK') { resolve(); continue; }
          const [cmd, channel, payload] = monitorArgs(line);
          const name = cmd.toString().toUpperCase();
          if (name === 'PUBLISH' && channel.toString() === FENCE_CHANNEL) this.monitorFences.add(payload.toString());
          else if (name === 'SPUBLISH') this.messages.push({ channel: channel.toString(), via: 'SPUBLISH', payload });
        }
      });
      this.monitor.write('MONITOR\r\n');
    });
  }

  /** Every message Redis handled before now, taken out of the buffer. */
  async drain() {
    const tag = `fence-${++this.fenceSeq}`;
    await this.pub.publish(FENCE_CHANNEL, tag);
    await waitUntil(() => this.fences.has(tag) && this.monitorFences.has(tag), `fence ${tag}`);
    return this.messages.splice(0);
  }

  async stop() {
    this.monitor.destroy();
    await Promise.allSettled([this.sub.quit(), this.pub.quit()]);
  }
}

/** One socket.io server with the (sharded or classic) Redis adapter on a free port. */
async function startNode(url, { sharded = false } = {}) {
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const http = createServer();
  const io = new Server(http, {
    adapter: sharded ? createShardedAdapter(pub, sub) : createAdapter(pub, sub),
  });
  io.of('/admin');
  await new Promise((r) => http.listen(0, '127.0.0.1', r));
  const port = http.address().port;
  return {
    io, pub, sub, port, url: `http://127.0.0.1:${port}`,
    async stop() {
      io.close();
      await Promise.allSettled([pub.quit(), sub.quit()]);
    },
  };
}

/** A client recording every event; acks every ack request with {from: name, got: args}. */
async function client(server, name, nsp = '') {
  const c = ioc(server.url + nsp, { forceNew: true, reconnection: false, transports: ['websocket'] });
  c.name = name;
  c.got = [];
  c.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    c.got.push([event, ...args]);
    if (ack) ack({ from: name, got: args });
  });
  await new Promise((resolve, reject) => { c.once('connect', resolve); c.once('connect_error', reject); });
  return c;
}

const gotEvent = (c, event) => c.got.some((g) => g[0] === event);

class FixtureDir {
  constructor(name) {
    this.dir = path.join(OUT, name);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    this.map = {};
  }

  /** Save one step's messages as <step>.<n>.bin, in the order Redis delivered them. */
  save(step, messages, note, { expect } = {}) {
    if (expect !== undefined && messages.length !== expect) {
      throw new Error(`step ${step}: expected ${expect} messages, got ${messages.length}: ${messages.map((m) => m.channel).join(', ')}`);
    }
    if (messages.length === 0) throw new Error(`step ${step}: nothing was published`);
    messages.forEach((m, i) => {
      const file = `${step}.${i + 1}.bin`;
      writeFileSync(path.join(this.dir, file), m.payload);
      this.map[file] = { step, note, channel: m.channel, published_with: m.via, ...decodePayload(m.payload) };
    });
  }

  finish(extra = {}) {
    writeFileSync(path.join(this.dir, 'channels.json'), JSON.stringify({ ...extra, files: this.map }, null, 2) + '\n');
  }
}

async function captureClassic(redis, rec) {
  const out = new FixtureDir('adapter');
  const A = await startNode(redis.url);
  const B = await startNode(redis.url);
  try {
    const a1 = await client(A, 'a1');
    const b1 = await client(B, 'b1');
    const b2 = await client(B, 'b2');
    const b3 = await client(B, 'b3');
    const bAdmin = await client(B, 'b-admin', '/admin');
    const sockOf = (srv, c) => srv.io.of(c.nsp).sockets.get(c.id);
    sockOf(A, a1).join(['room1', 'room2']);
    sockOf(B, b1).join('room1');
    sockOf(B, b2).join('room2');
    sockOf(B, b3).join('doomed');
    B.io.on('hello-servers', () => {});
    B.io.on('ping-servers', (cb) => cb('pong from B'));
    await rec.drain();

    const adapterA = A.io.of('/').adapter;
    const adapterB = B.io.of('/').adapter;
    const subs = {
      adapter_uids: { A: adapterA.uid, B: adapterB.uid },
      pubsub_channels: (await rec.pub.sendCommand(['PUBSUB', 'CHANNELS', '*'])).sort(),
      pubsub_numpat: await rec.pub.sendCommand(['PUBSUB', 'NUMPAT']),
      server_count: {
        command: 'PUBSUB NUMSUB socket.io-request#/#',
        reply: await rec.pub.sendCommand(['PUBSUB', 'NUMSUB', 'socket.io-request#/#']),
        adapter_serverCount: await adapterA.serverCount(),
      },
    };

    A.io.emit('to-all', 'hello', 42, { nested: [true, null, 1.5] });
    await waitUntil(() => gotEvent(b1, 'to-all') && gotEvent(b2, 'to-all'), 'to-all');
    out.save('broadcast-all', await rec.drain(), 'io.emit(): the namespace channel', { expect: 1 });

    A.io.to('room1').emit('to-room1', 'r1');
    await waitUntil(() => gotEvent(b1, 'to-room1'), 'to-room1');
    out.save('broadcast-room', await rec.drain(), 'io.to("room1").emit(): one room, its own channel', { expect: 1 });

    A.io.to(['room1', 'room2']).emit('to-rooms', 'r12');
    await waitUntil(() => gotEvent(b1, 'to-rooms') && gotEvent(b2, 'to-rooms'), 'to-rooms');
    out.save('broadcast-rooms', await rec.drain(), 'io.to(["room1","room2"]).emit(): two rooms go on the namespace channel', { expect: 1 });

    A.io.except('room2').emit('except-room2', 'x');
    await waitUntil(() => gotEvent(b1, 'except-room2') && gotEvent(b3, 'except-room2'), 'except-room2');
    out.save('broadcast-except', await rec.drain(), 'io.except("room2").emit()', { expect: 1 });

    A.io.to('room1').except('room2').emit('room1-except-room2', 'y');
    await waitUntil(() => gotEvent(b1, 'room1-except-room2'), 'room1-except-room2');
    out.save('broadcast-room-except', await rec.drain(), 'io.to("room1").except("room2").emit(): one room, so the room channel', { expect: 1 });

    sockOf(A, a1).broadcast.emit('from-a1', 'everyone but me');
    await waitUntil(() => gotEvent(b1, 'from-a1'), 'from-a1');
    out.save('broadcast-sender-excluded', await rec.drain(), 'socket.broadcast.emit(): except holds the sender\'s id', { expect: 1 });

    A.io.emit('binary', Buffer.from([0, 1, 2, 255]), { file: Buffer.from('héllo'), list: [Buffer.alloc(0)] });
    await waitUntil(() => gotEvent(b1, 'binary'), 'binary');
    out.save('broadcast-binary', await rec.drain(), 'io.emit() with Buffers: msgpack bin values inside packet.data, type stays 2', { expect: 1 });

    A.io.volatile.emit('volatile', 'v');
    await waitUntil(() => gotEvent(b1, 'volatile'), 'volatile');
    out.save('broadcast-volatile', await rec.drain(), 'io.volatile.emit(): flags.volatile', { expect: 1 });

    A.io.compress(false).emit('uncompressed', 'c');
    await waitUntil(() => gotEvent(b1, 'uncompressed'), 'uncompressed');
    out.save('broadcast-compress-false', await rec.drain(), 'io.compress(false).emit(): flags.compress', { expect: 1 });

    A.io.of('/admin').emit('admin-all', 'to /admin');
    await waitUntil(() => gotEvent(bAdmin, 'admin-all'), 'admin-all');
    out.save('broadcast-namespace', await rec.drain(), 'io.of("/admin").emit(): the /admin namespace channel', { expect: 1 });

    A.io.to(b1.id).emit('to-sid', 'direct');
    await waitUntil(() => gotEvent(b1, 'to-sid'), 'to-sid');
    out.save('broadcast-sid', await rec.drain(), 'io.to(<socket id>).emit(): a sid is a room, with its own channel', { expect: 1 });

    // broadcastWithAck: a1 (local to A) and b1, b2, b3 (on B) answer.
    const acked = await A.io.timeout(3000).emitWithAck('ask', 'question?');
    if (acked.length !== 4) throw new Error(`broadcast ack: expected 4 responses, got ${JSON.stringify(acked)}`);
    out.save('broadcast-ack', await rec.drain(), 'io.timeout(3000).emitWithAck(): BROADCAST request (msgpack), then B\'s BROADCAST_CLIENT_COUNT (json) and one BROADCAST_ACK (msgpack) per client of B', { expect: 5 });

    const ackedRoom = await A.io.to('room2').timeout(3000).emitWithAck('ask-room2', Buffer.from([7, 7]));
    if (ackedRoom.length !== 2) throw new Error(`room ack: expected 2 responses, got ${JSON.stringify(ackedRoom)}`);
    out.save('broadcast-ack-room-binary', await rec.drain(), 'io.to("room2").timeout(3000).emitWithAck(<Buffer>): a room and binary, still on the request channel', { expect: 3 });

    A.io.in('room1').socketsJoin(['room3', 'room4']);
    await waitUntil(() => sockOf(B, b1).rooms.has('room4'), 'socketsJoin');
    out.save('sockets-join', await rec.drain(), 'io.in("room1").socketsJoin(["room3","room4"]): REMOTE_JOIN, no response', { expect: 1 });

    A.io.in('room1').socketsLeave('room3');
    await waitUntil(() => !sockOf(B, b1).rooms.has('room3'), 'socketsLeave');
    out.save('sockets-leave', await rec.drain(), 'io.in("room1").socketsLeave("room3"): REMOTE_LEAVE, no response', { expect: 1 });

    const fetched = await A.io.in('room1').fetchSockets();
    if (fetched.length !== 2) throw new Error(`fetchSockets: expected 2, got ${fetched.length}`);
    out.save('fetch-sockets', await rec.drain(), 'io.in("room1").fetchSockets(): REMOTE_FETCH request and B\'s response with its sockets', { expect: 2 });

    const rooms = await adapterA.allRooms();
    if (!rooms.has('doomed')) throw new Error('allRooms lacks B\'s rooms');
    out.save('all-rooms', await rec.drain(), 'adapter.allRooms(): ALL_ROOMS request and B\'s response', { expect: 2 });

    A.io.serverSideEmit('hello-servers', 1, 'two', { three: 3 });
    await sleep(50);
    out.save('server-side-emit', await rec.drain(), 'io.serverSideEmit("hello-servers", 1, "two", {three: 3}): SERVER_SIDE_EMIT without requestId', { expect: 1 });

    const pongs = await A.io.serverSideEmitWithAck('ping-servers');
    if (pongs[0] !== 'pong from B') throw new Error(`serverSideEmitWithAck: ${JSON.stringify(pongs)}`);
    out.save('server-side-emit-ack', await rec.drain(), 'io.serverSideEmitWithAck("ping-servers"): request with requestId, B\'s response (type 6, data = the one ack argument)', { expect: 2 });

    const b3Gone = new Promise((r) => b3.once('disconnect', r));
    A.io.in('doomed').disconnectSockets(true);
    await b3Gone;
    out.save('disconnect-sockets', await rec.drain(), 'io.in("doomed").disconnectSockets(true): REMOTE_DISCONNECT, no response', { expect: 1 });

    for (const c of [a1, b1, b2, bAdmin]) c.disconnect();
    out.finish({ servers: subs.adapter_uids });
    return subs;
  } finally {
    await A.stop();
    await B.stop();
  }
}

async function captureEmitter(redis, rec) {
  const out = new FixtureDir('emitter');
  const B = await startNode(redis.url);
  const emitterClient = createClient({ url: redis.url });
  await emitterClient.connect();
  try {
    const emitter = new Emitter(emitterClient);
    const b1 = await client(B, 'b1');
    const b2 = await client(B, 'b2');
    const b3 = await client(B, 'b3');
    const bAdmin = await client(B, 'b-admin', '/admin');
    const sockOf = (c) => B.io.of(c.nsp).sockets.get(c.id);
    sockOf(b1).join('room1');
    sockOf(b2).join('room2');
    sockOf(b3).join('doomed');
    B.io.on('hello-from-emitter', () => {});
    await rec.drain();

    emitter.emit('e-all', 'hello', 1);
    await waitUntil(() => gotEvent(b1, 'e-all') && gotEvent(b3, 'e-all'), 'e-all');
    out.save('emit-all', await rec.drain(), 'emitter.emit()', { expect: 1 });

    emitter.to('room1').emit('e-room', 'r');
    await waitUntil(() => gotEvent(b1, 'e-room'), 'e-room');
    out.save('emit-room', await rec.drain(), 'emitter.to("room1").emit(): the room channel', { expect: 1 });

    emitter.to(['room1', 'room2']).emit('e-rooms', 'rr');
    await waitUntil(() => gotEvent(b1, 'e-rooms') && gotEvent(b2, 'e-rooms'), 'e-rooms');
    out.save('emit-rooms', await rec.drain(), 'emitter.to(["room1","room2"]).emit()', { expect: 1 });

    emitter.except('room1').emit('e-except', 'x');
    await waitUntil(() => gotEvent(b2, 'e-except'), 'e-except');
    out.save('emit-except', await rec.drain(), 'emitter.except("room1").emit()', { expect: 1 });

    emitter.volatile.emit('e-volatile', 'v');
    await waitUntil(() => gotEvent(b1, 'e-volatile'), 'e-volatile');
    out.save('emit-volatile', await rec.drain(), 'emitter.volatile.emit()', { expect: 1 });

    emitter.emit('e-binary', Buffer.from([1, 2, 3]), { b: Buffer.from([4]) });
    await waitUntil(() => gotEvent(b1, 'e-binary'), 'e-binary');
    out.save('emit-binary', await rec.drain(), 'emitter.emit() with Buffers', { expect: 1 });

    emitter.of('/admin').emit('e-admin', 'a');
    await waitUntil(() => gotEvent(bAdmin, 'e-admin'), 'e-admin');
    out.save('emit-namespace', await rec.drain(), 'emitter.of("/admin").emit()', { expect: 1 });

    emitter.in('room1').socketsJoin('room9');
    await waitUntil(() => sockOf(b1).rooms.has('room9'), 'emitter socketsJoin');
    out.save('sockets-join', await rec.drain(), 'emitter.in("room1").socketsJoin("room9"): no uid field', { expect: 1 });

    emitter.in('room1').socketsLeave('room9');
    await waitUntil(() => !sockOf(b1).rooms.has('room9'), 'emitter socketsLeave');
    out.save('sockets-leave', await rec.drain(), 'emitter.in("room1").socketsLeave("room9")', { expect: 1 });

    emitter.serverSideEmit('hello-from-emitter', 'e');
    await sleep(50);
    out.save('server-side-emit', await rec.drain(), 'emitter.serverSideEmit(): uid "emitter"', { expect: 1 });

    const b3Gone = new Promise((r) => b3.once('disconnect', r));
    emitter.in('doomed').disconnectSockets(true);
    await b3Gone;
    out.save('disconnect-sockets', await rec.drain(), 'emitter.in("doomed").disconnectSockets(true)', { expect: 1 });

    for (const c of [b1, b2, bAdmin]) c.disconnect();
    out.finish();
  } finally {
    await B.stop();
    await emitterClient.quit().catch(() => {});
  }
}

async function captureSharded(redis, rec) {
  const out = new FixtureDir('sharded');
  const A = await startNode(redis.url, { sharded: true });
  const B = await startNode(redis.url, { sharded: true });
  try {
    const uidA = A.io.of('/').adapter.uid;
    const uidB = B.io.of('/').adapter.uid;
    const a1 = await client(A, 'a1');
    const b1 = await client(B, 'b1');
    const b2 = await client(B, 'b2');
    const sockOf = (srv, c) => srv.io.of(c.nsp).sockets.get(c.id);
    sockOf(A, a1).join('room1');
    sockOf(B, b1).join('room1');
    B.io.on('ping-servers', (cb) => cb('pong from B'));
    await rec.drain();
    const shardChannels = (await rec.pub.sendCommand(['PUBSUB', 'SHARDCHANNELS', '*'])).sort();

    A.io.emit('to-all', 'hello');
    await waitUntil(() => gotEvent(b1, 'to-all') && gotEvent(b2, 'to-all'), 'sharded to-all');
    out.save('broadcast-all', await rec.drain(), 'io.emit(): ClusterMessage type 3 (BROADCAST) as JSON on the namespace channel', { expect: 1 });

    A.io.to('room1').emit('to-room1', 'r1');
    await waitUntil(() => gotEvent(b1, 'to-room1'), 'sharded to-room1');
    out.save('broadcast-room', await rec.drain(), 'io.to("room1").emit(): the room\'s own channel (subscriptionMode "dynamic")', { expect: 1 });

    A.io.emit('binary', Buffer.from([9, 8, 7]));
    await waitUntil(() => gotEvent(b1, 'binary'), 'sharded binary');
    out.save('broadcast-binary', await rec.drain(), 'io.emit(<Buffer>): msgpack because the data holds binary', { expect: 1 });

    const acked = await A.io.timeout(3000).emitWithAck('ask', 'q');
    if (acked.length !== 3) throw new Error(`sharded ack: ${JSON.stringify(acked)}`);
    out.save('broadcast-ack', await rec.drain(), 'emitWithAck(): BROADCAST with requestId on the namespace channel; B answers on A\'s own channel socket.io#/#<uidA>#', { expect: 4 });

    A.io.in('room1').socketsJoin('room5');
    await waitUntil(() => sockOf(B, b1).rooms.has('room5'), 'sharded socketsJoin');
    out.save('sockets-join', await rec.drain(), 'socketsJoin(): type 4 SOCKETS_JOIN', { expect: 1 });

    const fetched = await A.io.fetchSockets();
    if (fetched.length !== 3) throw new Error(`sharded fetchSockets: ${fetched.length}`);
    out.save('fetch-sockets', await rec.drain(), 'fetchSockets(): type 7, B answers type 8 on A\'s channel', { expect: 2 });

    const pongs = await A.io.serverSideEmitWithAck('ping-servers');
    if (pongs[0] !== 'pong from B') throw new Error(`sharded serverSideEmitWithAck: ${JSON.stringify(pongs)}`);
    out.save('server-side-emit-ack', await rec.drain(), 'serverSideEmitWithAck(): type 9 with requestId, B answers type 10', { expect: 2 });

    const serverCount = {
      command: 'PUBSUB SHARDNUMSUB socket.io#/#',
      reply: await rec.pub.sendCommand(['PUBSUB', 'SHARDNUMSUB', 'socket.io#/#']),
    };
    for (const c of [a1, b1, b2]) c.disconnect();
    out.finish({ servers: { A: uidA, B: uidB }, shard_channels: shardChannels, server_count: serverCount });
  } finally {
    await A.stop();
    await B.stop();
  }
}

const redis = await startRedis();
let failed = false;
try {
  const rec = new Recorder(redis);
  await rec.start();
  try {
    mkdirSync(OUT, { recursive: true });
    const subs = await captureClassic(redis, rec);
    await captureEmitter(redis, rec);
    await captureSharded(redis, rec);
    writeFileSync(path.join(OUT, 'subscriptions.json'), JSON.stringify(subs, null, 2) + '\n');
  } finally {
    await rec.stop();
  }
  console.log(`fixtures written to ${OUT}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  await redis.stop();
}
process.exit(failed ? 1 : 0);
