// Disconnects: client- and server-initiated, per namespace and whole connection, reasons in
// disconnect_log, and graceful shutdown on SIGTERM.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, withServer } from './lib/server.mjs';
import {
  connect, call, closeAll, manager, track, waitConnected, waitDisconnectEntry, waitUntil, once,
  RawEio, withTimeout,
} from './lib/util.mjs';

for (const transport of ['polling', 'websocket']) {
  describe(`over ${transport}`, () => {
    test('client disconnect is logged as "client namespace disconnect"', async () => {
      await withServer([], async (server) => {
        const observer = await connect(server.url, { transports: ['websocket'] });
        const s = await connect(server.url, { transports: [transport] });
        const a = await connect(server.url, { transports: [transport], nsp: '/admin' });
        try {
          const sid = s.id;
          const asid = a.id;
          s.disconnect();
          a.disconnect();
          const e = await waitDisconnectEntry(observer, sid);
          assert.deepEqual(e, { sid, nsp: '/', reason: 'client namespace disconnect' });
          const e2 = await waitDisconnectEntry(observer, asid);
          assert.deepEqual(e2, { sid: asid, nsp: '/admin', reason: 'client namespace disconnect' });
        } finally {
          closeAll([observer, s, a]);
        }
      });
    });

    test('disconnect_me: the client sees "io server disconnect"', async () => {
      await withServer([], async (server) => {
        const observer = await connect(server.url, { transports: ['websocket'] });
        const s = await connect(server.url, { transports: [transport] });
        try {
          const sid = s.id;
          const d = once(s, 'disconnect');
          s.emit('disconnect_me', {});
          const [reason] = await d;
          assert.equal(reason, 'io server disconnect');
          const e = await waitDisconnectEntry(observer, sid);
          assert.deepEqual(e, { sid, nsp: '/', reason: 'server namespace disconnect' });
        } finally {
          closeAll([observer, s]);
        }
      });
    });

    test('leaving one namespace keeps the others and the connection up', async () => {
      await withServer([], async (server) => {
        const observer = await connect(server.url, { transports: ['websocket'] });
        const m = manager(server.url, { transports: [transport] });
        const root = track(m.socket('/'));
        const admin = track(m.socket('/admin'));
        const auth = track(m.socket('/auth', { auth: { token: 'secret' } }));
        root.connect(); admin.connect(); auth.connect();
        try {
          await Promise.all([waitConnected(root), waitConnected(admin), waitConnected(auth)]);
          const engineId = m.engine.id;
          const adminSid = admin.id;
          admin.disconnect();
          const e = await waitDisconnectEntry(observer, adminSid);
          assert.deepEqual(e, { sid: adminSid, nsp: '/admin', reason: 'client namespace disconnect' });
          assert.deepEqual(await call(root, 'ack', 'root alive'), ['root alive']);
          assert.deepEqual(await call(auth, 'ack', 'auth alive'), ['auth alive']);
          assert.equal(m.engine.id, engineId, 'same Engine.IO session');
          assert.equal(root.connected && auth.connected, true);

          // A server-side disconnect of one namespace keeps the others too.
          const d = once(root, 'disconnect');
          root.emit('disconnect_me');
          assert.equal((await d)[0], 'io server disconnect');
          assert.deepEqual(await call(auth, 'ack', 'still'), ['still']);
          assert.equal(m.engine.id, engineId);

          // Re-joining a namespace on the same connection works and gets a fresh sid.
          admin.connect();
          await waitConnected(admin);
          assert.notEqual(admin.id, adminSid);
          assert.deepEqual(await call(admin, 'sid'), [{ sid: admin.id }]);
          assert.equal(m.engine.id, engineId);
        } finally {
          closeAll([observer, root, admin, auth]);
        }
      });
    });

    test('disconnect_me {all: true} disconnects every namespace of the connection', async () => {
      await withServer([], async (server) => {
        const observer = await connect(server.url, { transports: ['websocket'] });
        const bystander = await connect(server.url, { transports: [transport] });
        const m = manager(server.url, { transports: [transport] });
        const root = track(m.socket('/'));
        const admin = track(m.socket('/admin'));
        root.connect(); admin.connect();
        try {
          await Promise.all([waitConnected(root), waitConnected(admin)]);
          const sids = [root.id, admin.id];
          const d1 = once(root, 'disconnect');
          const d2 = once(admin, 'disconnect');
          admin.emit('disconnect_me', { all: true });
          const [[r1], [r2]] = await Promise.all([d1, d2]);
          assert.ok(['io server disconnect', 'transport close'].includes(r1), `root reason ${r1}`);
          assert.equal(r2, 'io server disconnect');
          const e1 = await waitDisconnectEntry(observer, sids[0]);
          const e2 = await waitDisconnectEntry(observer, sids[1]);
          assert.equal(e1.nsp, '/');
          assert.equal(e2.nsp, '/admin');
          assert.equal(e2.reason, 'server namespace disconnect');
          assert.deepEqual(await call(bystander, 'ack', 1), [1], 'other connections are unaffected');
        } finally {
          closeAll([observer, bystander, root, admin]);
        }
      });
    });
  });
}

test('raw: disconnect_me {all: true} closes the WebSocket', async () => {
  await withServer([], async (server) => {
    const raw = await RawEio.open(server, { autoPong: true });
    try {
      await raw.connectNsp('/');
      await raw.nextNonPing(); // welcome
      await raw.connectNsp('/admin');
      await raw.nextNonPing(); // welcome
      raw.send('42/admin,["disconnect_me",{"all":true}]');
      await raw.waitClosed(3000);
    } finally {
      raw.close();
    }
  });
});

test('raw: disconnect_me only sends 41 for that namespace', async () => {
  await withServer([], async (server) => {
    const raw = await RawEio.open(server, { autoPong: true });
    try {
      await raw.connectNsp('/');
      await raw.nextNonPing();
      await raw.connectNsp('/admin');
      await raw.nextNonPing();
      raw.send('42/admin,["disconnect_me"]');
      assert.equal(await raw.nextNonPing(), '41/admin,');
      raw.send('421["ack","root"]');
      assert.equal(await raw.nextNonPing(), '431["root"]');
      // Events for a namespace we left are not delivered to it any more; 41 from the client
      // for the root namespace keeps the Engine.IO connection open.
      raw.send('41');
      raw.send('40/admin,');
      const ack = await raw.nextNonPing();
      assert.match(ack, /^40\/admin,\{"sid":/);
      assert.ok(raw.isOpen());
    } finally {
      raw.close();
    }
  });
});

test('abrupt transport close is logged as "transport close"', async () => {
  await withServer([], async (server) => {
    const observer = await connect(server.url, { transports: ['websocket'] });
    const raw = await RawEio.open(server, { autoPong: true });
    try {
      const sid = await raw.connectNsp('/');
      raw.close(); // TCP close without a close packet
      const e = await waitDisconnectEntry(observer, sid);
      assert.deepEqual(e, { sid, nsp: '/', reason: 'transport close' });
    } finally {
      closeAll([observer]);
      raw.close();
    }
  });
});

test('SIGTERM: connected clients are disconnected and the process exits 0 promptly', async () => {
  const server = await startServer(['--ping-interval', '25000']);
  const clients = [];
  try {
    clients.push(await connect(server.url, { transports: ['polling'] }));
    clients.push(await connect(server.url, { transports: ['websocket'] }));
    clients.push(await connect(server.url, {}));
    clients.push(await connect(server.url, { transports: ['websocket'], nsp: '/admin' }));
    await waitUntil(() => clients[2].io.engine.transport.name === 'websocket', 5000, 'upgrade');
    const raw = await RawEio.open(server, { autoPong: true });
    await raw.connectNsp('/');
    const disconnected = clients.map((c) => once(c, 'disconnect', 5000));
    const t0 = Date.now();
    server.proc.kill('SIGTERM');
    const exit = await withTimeout(server.exit, 5000, 'server exit after SIGTERM');
    const took = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, `exit status; stderr tail:\n${server.logTail()}`);
    assert.ok(took < 3000, `shutdown took ${took} ms`);
    const reasons = (await Promise.all(disconnected)).map((r) => r[0]);
    for (const r of reasons) {
      assert.ok(['io server disconnect', 'transport close', 'transport error'].includes(r), `reason ${r}`);
    }
    await raw.waitClosed(3000);
  } finally {
    closeAll(clients);
    await server.stop();
  }
});
