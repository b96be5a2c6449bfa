// The node socket.io reference server (socket.io 4.8 / engine.io 6.6, pinned in
// package-lock.json) with the subset of tests/test-server/SPEC.md that
// test_upgrade_races.py drives: `/` accepts every connect and sends `welcome`; events
// `ack` and `disconnect_me` ({"all": true} closes the whole connection).
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--ping-interval MS] [--ping-timeout MS]
// Prints `LISTENING 127.0.0.1:<port>` once ready; SIGTERM/SIGINT: close and exit 0.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const host = arg("--host", "127.0.0.1");
const port = parseInt(arg("--port", "0"), 10);

const httpServer = http.createServer();
const io = new Server(httpServer, {
  pingInterval: parseInt(arg("--ping-interval", "25000"), 10),
  pingTimeout: parseInt(arg("--ping-timeout", "20000"), 10),
  perMessageDeflate: false,
  httpCompression: false,
});

io.on("connection", (socket) => {
  socket.emit("welcome", { sid: socket.id, nsp: "/", auth: null });
  socket.on("ack", (...args) => {
    const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
    if (cb) cb(...args);
  });
  socket.on("disconnect_me", (req) => {
    socket.disconnect(Boolean(req && req.all));
  });
});

httpServer.listen(port, host, () => {
  const a = httpServer.address();
  process.stdout.write(`LISTENING ${a.address}:${a.port}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
