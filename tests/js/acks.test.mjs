// Server -> client acks (server_ack, incl. timeout) and broadcasts with acks (broadcast_ack).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from './lib/server.mjs';
import { connect, call, callT, closeAll, manager, track, waitConnected, normalize } from './lib/util.mjs';

const bin = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff));

for (const transport of ['polling', 'websocket']) {
  describe(`over ${transport}`, () => {
    test('server_ack: the server asks the client for an ack and gets its arguments', async () => {
      await withServer([], async (server) => {
        const s = await connect(server.url, { transports: [transport] });
        try {
          const seen = [];
          s.on('question', (...args) => {
            const cb = args.pop();
            assert.equal(typeof cb, 'function', 'server must request an ack');
            seen.push(args);
            cb('answer', 42, { nested: [true, null] });
          });
          const [r] = await call(s, 'server_ack', { event: 'question', args: [1, 'two', { three: 3 }] });
          assert.deepEqual(seen, [[1, 'two', { three: 3 }]]);
          assert.deepEqual(r, { ok: true, args: ['answer', 42, { nested: [true, null] }] });

          // zero-argument ack answer
          s.on('empty', (cb) => cb());
          assert.deepEqual(await call(s, 'server_ack', { event: 'empty', args: [] }), [{ ok: true, args: [] }]);
        } finally {
          closeAll([s]);
        }
      });
    });

    test('server_ack with binary in both directions', async () => {
      await withServer([], async (server) => {
        const s = await connect(server.url, { transports: [transport] });
        try {
          let got;
          s.on('bin_q', (a, b, cb) => {
            got = [a, b];
            cb(bin(16, 1), { inner: [bin(2, 2)] });
          });
          const [r] = await call(s, 'server_ack', { event: 'bin_q', args: [bin(8), { x: bin(3, 5) }] });
          assert.deepEqual(normalize(got), [bin(8), { x: bin(3, 5) }]);
          assert.deepEqual(r, { ok: true, args: [bin(16, 1), { inner: [bin(2, 2)] }] });
        } finally {
          closeAll([s]);
        }
      });
    });

    test('server_ack timeout when the client never answers', async () => {
      await withServer([], async (server) => {
        const s = await connect(server.url, { transports: [transport] });
        try {
          let asked = 0;
          s.on('ignored', () => { asked += 1; /* never call the ack */ });
          const t0 = Date.now();
          const [r] = await callT(s, 3000, 'server_ack', { event: 'ignored', args: ['x'], timeout_ms: 300 });
          const took = Date.now() - t0;
          assert.deepEqual(r, { ok: false, error: 'timeout' });
          assert.equal(asked, 1);
          assert.ok(took >= 250, `timed out too early: ${took} ms`);
          assert.ok(took < 2000, `timeout_ms ignored: ${took} ms`);
          // A late answer after the timeout must not break anything.
          assert.deepEqual(await call(s, 'ack', 'alive'), ['alive']);
        } finally {
          closeAll([s]);
        }
      });
    });

    test('many concurrent server_acks are matched to the right answers', async () => {
      await withServer([], async (server) => {
        const s = await connect(server.url, { transports: [transport] });
        try {
          s.on('sq', (i, cb) => setTimeout(() => cb(i * 2), (i * 7) % 20));
          const res = await Promise.all(Array.from({ length: 40 }, (_, i) => call(s, 'server_ack', { event: 'sq', args: [i] })));
          res.forEach(([r], i) => assert.deepEqual(r, { ok: true, args: [i * 2] }));
        } finally {
          closeAll([s]);
        }
      });
    });
  });
}

test('broadcast_ack to a room of 3 clients, one of which does not answer', async () => {
  await withServer([], async (server) => {
    const clients = await Promise.all([
      connect(server.url, { transports: ['websocket'] }),
      connect(server.url, { transports: ['polling'] }),
      connect(server.url, { transports: ['websocket'] }),
    ]);
    const sender = await connect(server.url, { transports: ['websocket'] });
    try {
      for (const c of clients) await call(c, 'join', 'trio');
      const received = [];
      clients[0].on('poll', (q, cb) => { received.push(0); cb('yes', clients[0].id); });
      clients[1].on('poll', (q, cb) => { received.push(1); cb('no', clients[1].id, bin(4)); });
      clients[2].on('poll', () => { received.push(2); /* silent */ });
      sender.on('poll', () => assert.fail('sender is not in the room'));
      const t0 = Date.now();
      const [r] = await callT(sender, 4000, 'broadcast_ack', { to: ['trio'], event: 'poll', args: ['q?'], timeout_ms: 500 });
      const took = Date.now() - t0;
      assert.deepEqual(received.sort(), [0, 1, 2]);
      assert.equal(r.timeouts, 1);
      const responses = r.responses.sort((a, b) => String(a[0]).localeCompare(String(b[0])));
      assert.deepEqual(responses, [['no', clients[1].id, bin(4)], ['yes', clients[0].id]]);
      assert.ok(took >= 400, `answered before the timeout: ${took} ms`);
    } finally {
      closeAll([...clients, sender]);
    }
  });
});

test('broadcast_ack where everyone answers returns early and includes the sender', async () => {
  await withServer([], async (server) => {
    const clients = await Promise.all([0, 1, 2].map(() => connect(server.url, { transports: ['websocket'] })));
    const other = await connect(server.url, { transports: ['websocket'], nsp: '/admin' });
    try {
      clients.forEach((c, i) => c.on('roll', (cb) => cb(i)));
      other.on('roll', () => assert.fail('other namespace must not receive it'));
      const t0 = Date.now();
      const [r] = await callT(clients[0], 4000, 'broadcast_ack', { event: 'roll', args: [], timeout_ms: 3000 });
      assert.ok(Date.now() - t0 < 2500, 'should not wait for the timeout when everyone answered');
      assert.equal(r.timeouts, 0);
      assert.deepEqual(r.responses.map((x) => x[0]).sort(), [0, 1, 2]);
    } finally {
      closeAll([...clients, other]);
    }
  });
});

test('broadcast_ack to an empty room answers immediately with nothing', async () => {
  await withServer([], async (server) => {
    const s = await connect(server.url, { transports: ['websocket'] });
    try {
      const [r] = await callT(s, 3000, 'broadcast_ack', { to: ['nobody-here'], event: 'x', args: [], timeout_ms: 1000 });
      assert.deepEqual(r, { responses: [], timeouts: 0 });
    } finally {
      closeAll([s]);
    }
  });
});

test('acks are per namespace on a multiplexed connection', async () => {
  await withServer([], async (server) => {
    const m = manager(server.url, { transports: ['websocket'] });
    const root = track(m.socket('/'));
    const admin = track(m.socket('/admin'));
    root.connect(); admin.connect();
    await Promise.all([waitConnected(root), waitConnected(admin)]);
    try {
      root.on('q', (cb) => cb('root'));
      admin.on('q', (cb) => cb('admin'));
      const [a, b] = await Promise.all([
        call(root, 'server_ack', { event: 'q', args: [] }),
        call(admin, 'server_ack', { event: 'q', args: [] }),
      ]);
      assert.deepEqual(a, [{ ok: true, args: ['root'] }]);
      assert.deepEqual(b, [{ ok: true, args: ['admin'] }]);
    } finally {
      closeAll([root, admin]);
    }
  });
});
