// socket.io 4.x peer for ferrosocket's loadgen: events `ack`, `join`, `emit` on `/`
// (tests/test-server/SPEC.md), `sleep` (1 ms timer, then acks with its arguments) and
// `chat` (`{room, ...}`: emits `chat` with the same object to that room).
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--redis URL [--redis-key KEY]]
// With --redis, the server joins a fleet on that Redis through @socket.io/redis-adapter
// (node-redis clients, key prefix KEY, default `socket.io`), so that `emit` to a room
// reaches its members on every server of the fleet (bench/redis/).
// Prints `LISTENING 127.0.0.1:<port>` once ready (with --redis: once both Redis
// connections are up); SIGTERM/SIGINT: close and exit 0.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const host = arg("--host", "127.0.0.1");
const port = parseInt(arg("--port", "0"), 10);
const redisUrl = arg("--redis", null);
const redisKey = arg("--redis-key", "socket.io");

const httpServer = http.createServer({ noDelay: true });
const io = new Server(httpServer, {
  perMessageDeflate: false,
  httpCompression: false,
  transports: ["websocket", "polling"],
  maxHttpBufferSize: 1e6,
});

io.on("connection", (socket) => {
  socket.on("ack", (...args) => {
    const cb = args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (cb) cb(...args);
  });
  socket.on("join", (room, cb) => {
    socket.join(room);
    if (typeof cb === "function") cb([...socket.rooms].sort());
  });
  socket.on("sleep", (...args) => {
    const cb = args.length && typeof args[args.length - 1] === "function" ? args.pop() : null;
    setTimeout(() => {
      if (cb) cb(...args);
    }, 1);
  });
  socket.on("chat", (msg) => {
    if (msg && typeof msg.room === "string") io.to(msg.room).emit("chat", msg);
  });
  socket.on("emit", (req, cb) => {
    req = req || {};
    const args = Array.isArray(req.args) ? req.args : [];
    const to = Array.isArray(req.to) && req.to.length ? io.to(req.to) : io;
    to.emit(req.event, ...args);
    if (typeof cb === "function") cb(true);
  });
});

let redisClients = [];
async function joinFleet() {
  if (!redisUrl) return;
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => process.stderr.write(`redis: ${e}\n`));
  await Promise.all([pub.connect(), sub.connect()]);
  redisClients = [pub, sub];
  io.adapter(createAdapter(pub, sub, { key: redisKey }));
}

joinFleet().then(
  () => {
    httpServer.listen(port, host, () => {
      const a = httpServer.address();
      process.stdout.write(`LISTENING ${a.address}:${a.port}\n`);
    });
  },
  (e) => {
    process.stderr.write(`cannot join the fleet on ${redisUrl}: ${e}\n`);
    process.exit(1);
  },
);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  io.close(() => {
    Promise.allSettled(redisClients.map((c) => c.quit())).then(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
