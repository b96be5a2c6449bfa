// A node socket.io 4.8 server in a Redis fleet (@socket.io/redis-adapter 8.x on the `redis`
// client), driven like ferrosocket's test server: the command line, the LISTENING line and
// the events of tests/test-server/SPEC.md that a fleet test needs, plus fleet operations only
// node's API has (fetchSockets, socketsJoin, ...). See tests/redis/node/README.md.
//
//   node server.mjs [--host 127.0.0.1] [--port 0] [--redis URL] [--redis-channel KEY]
//
// Without --redis it runs alone (the in-memory adapter).
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { createClient } from 'redis';
import { createAdapter } from '@socket.io/redis-adapter';

const { values: opt } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    redis: { type: 'string' },
    'redis-channel': { type: 'string', default: 'socket.io' },
  },
});

const NAMESPACES = ['/', '/admin'];
const DEFAULT_ACK_TIMEOUT_MS = 2000;

let redisClients = [];
const serverOptions = {};
if (opt.redis) {
  const pub = createClient({ url: opt.redis });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on('error', (e) => console.error(`redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients = [pub, sub];
  serverOptions.adapter = createAdapter(pub, sub, { key: opt['redis-channel'] });
}

const http = createServer();
const io = new Server(http, serverOptions);

const sorted = (iterable) => [...iterable].sort();

/** The broadcast operator of `spec` ({to?, except?}) on namespace nsp. */
function target(nsp, spec = {}) {
  let op = nsp;
  if (spec.to?.length) op = op.to(spec.to);
  if (spec.except?.length) op = op.except(spec.except);
  return op;
}

function onConnection(nsp, socket) {
  const ack = (args) => (typeof args[args.length - 1] === 'function' ? args.pop() : () => {});
  socket.emit('welcome', { sid: socket.id, nsp: nsp.name, auth: socket.handshake.auth ?? null });

  socket.on('echo', (...args) => socket.emit('echo', ...args));
  socket.on('ack', (...args) => ack(args)(...args));
  socket.on('sid', (...args) => ack(args)({ sid: socket.id }));
  socket.on('join', (...args) => {
    const cb = ack(args);
    const room = args[0];
    if (room !== socket.id && nsp.sockets.has(room)) {
      cb({ error: 'cannot enter a sid room' });
      return;
    }
    socket.join(room);
    cb(sorted(socket.rooms));
  });
  socket.on('leave', (...args) => {
    const cb = ack(args);
    socket.leave(args[0]);
    cb(sorted(socket.rooms));
  });
  socket.on('rooms', (...args) => ack(args)(sorted(socket.rooms)));
  socket.on('room_sids', (...args) => {
    const cb = ack(args);
    cb(sorted(nsp.adapter.rooms.get(args[0]) ?? []));
  });
  socket.on('emit', (...args) => {
    const cb = ack(args);
    const spec = args[0] ?? {};
    let op = target(nsp, spec);
    if (spec.include_self === false) op = op.except(socket.id);
    op.emit(spec.event, ...(spec.args ?? []));
    cb(true);
  });
  socket.on('broadcast_ack', (...args) => {
    const cb = ack(args);
    const spec = args[0] ?? {};
    // node hands one value per client (the first argument of its ack) and, on timeout, no
    // count of the missing ones: "timeouts" is then null and "error" says why.
    target(nsp, spec)
      .timeout(spec.timeout_ms ?? DEFAULT_ACK_TIMEOUT_MS)
      .emit(spec.event, ...(spec.args ?? []), (err, responses) => {
        const replies = responses.map((r) => [r]);
        if (err) cb({ responses: replies, timeouts: null, error: 'timeout' });
        else cb({ responses: replies, timeouts: 0 });
      });
  });
  socket.on('disconnect_me', (...args) => {
    ack(args)(true);
    socket.disconnect(Boolean(args[0]?.all));
  });

  // Fleet operations (node's API; every server of the fleet takes part).
  socket.on('fetch_sockets', async (...args) => {
    const cb = ack(args);
    try {
      const found = await target(nsp, args[0]).fetchSockets();
      cb(found.map((s) => ({ id: s.id, rooms: sorted(s.rooms), data: s.data }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)));
    } catch (e) {
      cb({ error: e.message });
    }
  });
  socket.on('sockets_join', (...args) => {
    const cb = ack(args);
    target(nsp, args[0]).socketsJoin(args[0].rooms);
    cb(true);
  });
  socket.on('sockets_leave', (...args) => {
    const cb = ack(args);
    target(nsp, args[0]).socketsLeave(args[0].rooms);
    cb(true);
  });
  socket.on('disconnect_sockets', (...args) => {
    const cb = ack(args);
    target(nsp, args[0]).disconnectSockets(Boolean(args[0]?.close));
    cb(true);
  });
  socket.on('all_rooms', async (...args) => {
    const cb = ack(args);
    try {
      cb(sorted(await nsp.adapter.allRooms()));
    } catch (e) {
      cb({ error: e.message });
    }
  });
  socket.on('server_count', async (...args) => ack(args)(await nsp.adapter.serverCount()));
  socket.on('server_side_emit', async (...args) => {
    const cb = ack(args);
    const spec = args[0] ?? {};
    if (!spec.with_ack) {
      nsp.serverSideEmit(spec.event, ...(spec.args ?? []));
      cb(true);
      return;
    }
    try {
      cb({ responses: await nsp.serverSideEmitWithAck(spec.event, ...(spec.args ?? [])) });
    } catch (e) {
      cb({ error: e.message, responses: e.responses ?? [] });
    }
  });
  socket.on('server_side_log', (...args) => ack(args)(serverSideLog.filter((e) => e.nsp === nsp.name)));
}

// Server-side events from other members (serverSideEmit), recorded; `fleet_ping` answers.
const serverSideLog = [];
for (const name of NAMESPACES) {
  const nsp = io.of(name);
  nsp.on('connection', (socket) => onConnection(nsp, socket));
  nsp.on('fleet_ping', (...args) => {
    const cb = typeof args[args.length - 1] === 'function' ? args.pop() : null;
    serverSideLog.push({ nsp: name, event: 'fleet_ping', args });
    if (cb) cb(`pong from ${process.pid}`);
  });
  nsp.on('fleet_note', (...args) => serverSideLog.push({ nsp: name, event: 'fleet_note', args }));
}

http.listen(Number(opt.port), opt.host, () => {
  process.stdout.write(`LISTENING ${opt.host}:${http.address().port}\n`);
});

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  io.close();
  await Promise.allSettled(redisClients.map((c) => c.quit()));
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
