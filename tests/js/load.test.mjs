// Load: 1,000 concurrent socket.io-client connections (websocket), each joins a room, one
// broadcast reaches all of them, then all disconnect cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from './lib/server.mjs';
import { connect, call, callT, closeAll, waitUntil, withTimeout } from './lib/util.mjs';

const N = 1000;
const BATCH = 100;

test(`${N} concurrent websocket clients: join, one broadcast reaches all, clean disconnect`, { timeout: 90_000 }, async () => {
  await withServer([], async (server) => {
    const clients = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < N; i += BATCH) {
        const batch = await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, () => connect(server.url, {
          transports: ['websocket'],
        }, 15_000)));
        clients.push(...batch);
      }
      const tConnected = Date.now();
      assert.equal(new Set(clients.map((c) => c.id)).size, N, 'every socket has a unique id');

      // Each client joins the room (acked).
      for (let i = 0; i < N; i += BATCH) {
        const res = await Promise.all(clients.slice(i, i + BATCH).map((c) => callT(c, 15_000, 'join', 'everyone-room')));
        res.forEach(([rooms], j) => assert.ok(rooms.includes('everyone-room'), `client ${i + j} rooms ${rooms}`));
      }
      const [members] = await callT(clients[0], 15_000, 'room_sids', 'everyone-room');
      assert.equal(members.length, N);
      assert.deepEqual(members, clients.map((c) => c.id).sort());

      // One broadcast, with a binary attachment, reaches all 1,000.
      const blob = Buffer.from('load-test');
      let got = 0;
      const bad = [];
      const all = new Promise((resolve) => {
        for (const c of clients) {
          c.once('boom', (n, b) => {
            if (n !== 42 || !Buffer.from(b).equals(blob)) bad.push([n, b]);
            got += 1;
            if (got === N) resolve();
          });
        }
      });
      const tB = Date.now();
      assert.deepEqual(await callT(clients[N - 1], 15_000, 'emit', { to: ['everyone-room'], event: 'boom', args: [42, blob] }), [true]);
      await withTimeout(all, 20_000, `broadcast to ${N} clients (got ${got})`);
      const tDelivered = Date.now();
      assert.deepEqual(bad, []);

      // Everyone disconnects cleanly; the room drains.
      const observer = await connect(server.url, { transports: ['websocket'] });
      clients.push(observer);
      const sids = clients.slice(0, N).map((c) => c.id);
      for (const c of clients.slice(0, N)) c.disconnect();
      await waitUntil(async () => (await callT(observer, 15_000, 'room_sids', 'everyone-room'))[0].length === 0, 20_000, 'room to drain', 100);
      const [log] = await call(observer, 'disconnect_log');
      assert.equal(log.length, 100, 'disconnect_log keeps the last 100');
      const known = new Set(sids);
      for (const e of log) {
        assert.ok(known.has(e.sid), `unexpected sid in log ${JSON.stringify(e)}`);
        assert.equal(e.reason, 'client namespace disconnect');
      }
      for (const c of clients.slice(0, N)) assert.deepEqual(c.disconnects, ['io client disconnect']);
      const tDone = Date.now();
      console.log(`load: connect ${tConnected - t0} ms, broadcast ${tDelivered - tB} ms, drain ${tDone - tDelivered} ms`);
    } finally {
      closeAll(clients);
    }
  });
});
