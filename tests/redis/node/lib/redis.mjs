// A real redis-server (Debian's package) for the node fleet tests and the capture script: a
// free loopback port, no persistence, its own temporary folder, ready once it answers PING,
// stopped by pid. tests/redis/node/run.sh installs the package (env.sh ensure_redis) when
// it is missing; this file only refuses to start without it.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const HOST = '127.0.0.1';
const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

/** A port the kernel just handed out on 127.0.0.1 (free now; the caller retries on a race). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something on port answers an inline PING with +PONG right now. */
function ping(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    let reply = '';
    const done = (ok) => { sock.destroy(); resolve(ok); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export function redisServerBinary() {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('redis-server is not installed (tests/redis/node/run.sh installs it: tests/lib/env.sh ensure_redis)');
  }
}

export class RedisServer {
  constructor(proc, port, dir) {
    this.proc = proc;
    this.port = port;
    this.dir = dir;
    this.url = `redis://${HOST}:${port}/0`;
    this.log = '';
    this.exit = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });
  }

  get running() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGTERM by pid, SIGKILL after a timeout; removes the folder. */
  async stop() {
    if (this.running) {
      this.proc.kill('SIGTERM');
      let timer;
      const late = new Promise((r) => { timer = setTimeout(() => r('late'), STOP_TIMEOUT_MS); });
      if ((await Promise.race([this.exit, late])) === 'late') {
        this.proc.kill('SIGKILL');
        await this.exit;
      }
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function startOnce(binary, port, dir, extraArgs) {
  const proc = spawn(binary, [
    '--bind', HOST, '--port', String(port), '--dir', dir,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new RedisServer(proc, port, dir);
  const keep = (d) => { server.log = (server.log + d).slice(-20_000); };
  proc.stdout.setEncoding('utf8').on('data', keep);
  proc.stderr.setEncoding('utf8').on('data', keep);
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!server.running) return { server: null, log: server.log };
    if (await ping(port)) return { server, log: server.log };
    await new Promise((r) => setTimeout(r, 20));
  }
  proc.kill('SIGKILL');
  await server.exit;
  throw new Error(`redis-server on port ${port} did not answer PING within ${STARTUP_TIMEOUT_MS} ms: ${server.log}`);
}

/** Start a redis-server on a free loopback port; resolves once it answers PING. */
export async function startRedis(extraArgs = []) {
  const binary = redisServerBinary();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ferrosocket-redis-'));
  let lastLog = '';
  // The port is free when picked but another process may take it before redis binds it:
  // redis then exits at once, and another port is tried.
  for (let attempt = 0; attempt < 5; attempt++) {
    const { server, log } = await startOnce(binary, await freePort(), dir, extraArgs);
    if (server) return server;
    lastLog = log;
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`redis-server did not start: ${lastLog}`);
}
