// Heartbeat with --ping-interval 300 --ping-timeout 200: ping timing, ping timeout closes a
// silent client (logged as "ping timeout"), well-behaved clients stay connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from './lib/server.mjs';
import {
  connect, call, closeAll, sleep, waitDisconnectEntry, RawEio,
} from './lib/util.mjs';

const INTERVAL = 300;
const TIMEOUT = 200;
const ARGS = ['--ping-interval', String(INTERVAL), '--ping-timeout', String(TIMEOUT)];

test('open packet advertises the configured heartbeat', async () => {
  await withServer(ARGS, async (server) => {
    const raw = await RawEio.open(server, { autoPong: true });
    try {
      assert.equal(raw.handshake.pingInterval, INTERVAL);
      assert.equal(raw.handshake.pingTimeout, TIMEOUT);
    } finally {
      raw.close();
    }
  });
});

test('first ping comes one interval after the handshake, then every interval', async () => {
  await withServer(ARGS, async (server) => {
    const raw = await RawEio.open(server, { autoPong: true });
    try {
      await raw.connectNsp('/');
      assert.match(await raw.nextNonPing(), /^42\["welcome"/);
      await sleep(INTERVAL * 5 + 100);
      assert.ok(raw.isOpen(), 'a client answering pings must stay connected');
      assert.ok(raw.pings.length >= 4, `expected >= 4 pings in ${INTERVAL * 5} ms, got ${raw.pings.length}`);
      const first = raw.pings[0] - raw.openedAt;
      assert.ok(first >= INTERVAL - 60, `first ping came too early: ${first} ms after the open packet`);
      assert.ok(first <= INTERVAL + 250, `first ping came too late: ${first} ms after the open packet`);
      for (let i = 1; i < raw.pings.length; i++) {
        const gap = raw.pings[i] - raw.pings[i - 1];
        assert.ok(gap >= INTERVAL - 60 && gap <= INTERVAL + 250, `ping gap ${gap} ms`);
      }
      raw.send('42["ack","alive"]');
      raw.send('421["ack","alive"]');
      assert.equal(await raw.nextNonPing(), '431["alive"]');
    } finally {
      raw.close();
    }
  });
});

test('a raw WebSocket client that never answers pings is closed; logged as "ping timeout"', async () => {
  await withServer(ARGS, async (server) => {
    const observer = await connect(server.url, { transports: ['websocket'] });
    const raw = await RawEio.open(server, { autoPong: false });
    try {
      const sid = await raw.connectNsp('/');
      const closed = await raw.waitClosed(INTERVAL + TIMEOUT + 1500);
      const after = closed.at - raw.openedAt;
      assert.ok(raw.pings.length >= 1, 'server must have pinged before closing');
      assert.ok(after >= INTERVAL + TIMEOUT - 100, `closed too early: ${after} ms`);
      assert.ok(after <= INTERVAL + TIMEOUT + 700, `closed too late: ${after} ms`);
      const e = await waitDisconnectEntry(observer, sid);
      assert.deepEqual(e, { sid, nsp: '/', reason: 'ping timeout' });
      // The observer (answering pings) is still fine.
      assert.deepEqual(await call(observer, 'ack', 'ok'), ['ok']);
    } finally {
      closeAll([observer]);
      raw.close();
    }
  });
});

test('a pong that is too late does not save the session', async () => {
  await withServer(ARGS, async (server) => {
    const raw = await RawEio.open(server, { autoPong: false });
    try {
      await raw.connectNsp('/');
      await raw.nextNonPing(); // welcome
      const ping = await raw.next(INTERVAL + 500);
      assert.equal(ping, '2');
      await sleep(TIMEOUT + 150);
      if (raw.isOpen()) raw.send('3');
      await raw.waitClosed(1000);
    } finally {
      raw.close();
    }
  });
});

for (const transports of [['polling'], ['websocket'], undefined]) {
  const label = transports ? transports[0] : 'default (upgrade)';
  test(`socket.io-client over ${label} stays connected for several intervals`, async () => {
    await withServer(ARGS, async (server) => {
      const s = await connect(server.url, transports ? { transports } : {});
      const m = await connect(server.url, { ...(transports ? { transports } : {}), nsp: '/admin' });
      try {
        const id = s.io.engine.id;
        await sleep(INTERVAL * 5);
        assert.deepEqual(s.disconnects, []);
        assert.deepEqual(m.disconnects, []);
        assert.equal(s.io.engine.id, id);
        assert.deepEqual(await call(s, 'ack', 'ok'), ['ok']);
        assert.deepEqual(await call(m, 'ack', 'ok'), ['ok']);
      } finally {
        closeAll([s, m]);
      }
    });
  });
}
