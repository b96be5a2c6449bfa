// Starts the ferrosocket test-server (tests/test-server/SPEC.md) on a free port and stops it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..', '..');

// FERROSOCKET_REFERENCE=1 means the suite runs against the node `socket.io` reference
// implementation, which deliberately differs from our spec on a few points; those
// expectations come from our spec and are skipped ONLY in that mode.
export const REFERENCE = process.env.FERROSOCKET_REFERENCE === '1';

/** Use as `{ skip: specOnly('why') }` on a test whose expectation comes from our spec. */
export function specOnly(why) {
  return REFERENCE ? `reference server differs: ${why}` : false;
}

export function serverBinary() {
  if (process.env.FERROSOCKET_TEST_SERVER) return process.env.FERROSOCKET_TEST_SERVER;
  const targetDir = process.env.CARGO_TARGET_DIR
    ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
    : path.join(REPO_ROOT, 'target');
  return path.join(targetDir, 'debug', 'test-server');
}

const STARTUP_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

export class TestServer {
  constructor(proc, port) {
    this.proc = proc;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.wsUrl = `ws://127.0.0.1:${port}`;
    this.stderr = '';
    this.exit = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        resolve({ code: proc.exitCode, signal: proc.signalCode });
      } else {
        proc.once('exit', (code, signal) => resolve({ code, signal }));
      }
    });
  }

  /** Last part of the server's stderr, for failure messages. */
  logTail(n = 4000) {
    return this.stderr.slice(-n);
  }

  /** SIGTERM, then SIGKILL after a timeout. Resolves with {code, signal, killed}. */
  async stop(timeoutMs = STOP_TIMEOUT_MS) {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return { ...(await this.exit), killed: false };
    }
    this.proc.kill('SIGTERM');
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const r = await Promise.race([this.exit, timedOut]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.proc.kill('SIGKILL');
      return { ...(await this.exit), killed: true };
    }
    return { ...r, killed: false };
  }
}

/** Start the test server with extra CLI args; resolves once it printed its LISTENING line. */
export async function startServer(args = []) {
  const bin = serverBinary();
  if (!existsSync(bin)) {
    throw new Error(`test server binary not found at ${bin} (build it with cargo build --workspace --bins, or set FERROSOCKET_TEST_SERVER)`);
  }
  const proc = spawn(bin, ['--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let server = null;
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    // Keep a bounded tail so a chatty server cannot exhaust memory.
    stderr = (stderr + d).slice(-200_000);
    if (server) server.stderr = stderr;
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`test server did not print LISTENING within ${STARTUP_TIMEOUT_MS} ms; stdout=${JSON.stringify(out)} stderr=${stderr.slice(-2000)}`));
    }, STARTUP_TIMEOUT_MS);
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^LISTENING 127\.0\.0\.1:(\d+)\s*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`test server exited early (code ${code}, signal ${signal}); stderr=${stderr.slice(-2000)}`));
    });
    proc.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  server = new TestServer(proc, port);
  server.stderr = stderr;
  // Keep draining stdout after the LISTENING line.
  proc.stdout.resume();
  return server;
}

/** Run fn(server) against a fresh server, always stopping it afterwards. */
export async function withServer(args, fn) {
  const server = await startServer(args);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}
