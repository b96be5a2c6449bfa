// Connecting with the official socket.io-client: transports, upgrade, namespaces, auth, welcome.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import {
  connect, connectError, call, welcome, closeAll, manager, waitConnected, track, once,
  RawEio, waitUntil,
} from './lib/util.mjs';

let server;
const opened = [];
before(async () => { server = await startServer(); });
after(async () => {
  closeAll(opened);
  const r = await server.stop();
  assert.equal(r.killed, false, 'server did not exit on SIGTERM');
});

async function open(opts) {
  const s = await connect(server.url, opts);
  opened.push(s);
  return s;
}

for (const transports of [['polling'], ['websocket']]) {
  describe(`transport ${transports[0]} only`, () => {
    test('connects, welcome follows connect, ids are distinct', async () => {
      const s = await open({ transports });
      assert.equal(s.io.engine.transport.name, transports[0]);
      const w = await welcome(s);
      assert.deepEqual(s.order.slice(0, 2), ['connect', 'welcome']);
      assert.deepEqual(w, { sid: s.id, nsp: '/', auth: null });
      const [r] = await call(s, 'sid');
      assert.deepEqual(r, { sid: s.id });
      assert.ok(s.id && typeof s.id === 'string');
      assert.notEqual(s.id, s.io.engine.id, 'namespace socket id must differ from the Engine.IO id');
      // stays on the requested transport
      await call(s, 'ack', 1);
      assert.equal(s.io.engine.transport.name, transports[0]);
      s.disconnect();
    });

    test('connects to /admin', async () => {
      const s = await open({ transports, nsp: '/admin' });
      const w = await welcome(s);
      assert.deepEqual(w, { sid: s.id, nsp: '/admin', auth: null });
      const [r] = await call(s, 'sid');
      assert.equal(r.sid, s.id);
      s.disconnect();
    });

    test('unknown namespace is refused with "Invalid namespace"', async () => {
      const err = await connectError(server.url, { transports, nsp: '/nope' });
      assert.equal(err.message, 'Invalid namespace');
    });

    test('/auth accepts the right token and welcome echoes the auth payload', async () => {
      const auth = { token: 'secret', extra: ['x', 1] };
      const s = await open({ transports, nsp: '/auth', auth });
      const w = await welcome(s);
      assert.deepEqual(w, { sid: s.id, nsp: '/auth', auth });
      const [r] = await call(s, 'count_args', 1, 2);
      assert.equal(r, 2);
      s.disconnect();
    });

    test('/auth refuses a wrong or missing token with unauthorized / {code: 401}', async () => {
      for (const auth of [{ token: 'wrong' }, undefined, { tok: 'secret' }]) {
        const err = await connectError(server.url, { transports, nsp: '/auth', ...(auth ? { auth } : {}) });
        assert.equal(err.message, 'unauthorized', `auth=${JSON.stringify(auth)}`);
        assert.deepEqual(err.data, { code: 401 }, `auth=${JSON.stringify(auth)}`);
      }
    });
  });
}

test('default transports upgrade from polling to websocket', async () => {
  const s = await open({});
  // The first transport is polling; the upgrade must complete.
  await waitUntil(() => s.io.engine.transport.name === 'websocket', 5000, 'upgrade to websocket');
  assert.equal(s.io.engine.upgrading ?? false, false);
  // Traffic flows after the upgrade, including binary.
  const [a, b] = await call(s, 'ack', 'after-upgrade', Buffer.from([1, 2, 3]));
  assert.equal(a, 'after-upgrade');
  assert.deepEqual(b, Buffer.from([1, 2, 3]));
  const w = await welcome(s);
  assert.equal(w.sid, s.id);
  s.disconnect();
});

test('upgrade while events are in flight loses nothing', async () => {
  const s = await open({});
  const n = 50;
  const results = await Promise.all(Array.from({ length: n }, (_, i) => call(s, 'ack', i)));
  assert.deepEqual(results.map((r) => r[0]), Array.from({ length: n }, (_, i) => i));
  await waitUntil(() => s.io.engine.transport.name === 'websocket', 5000, 'upgrade to websocket');
  s.disconnect();
});

test('multiplexed namespaces on one connection each get their own sid', async () => {
  for (const transports of [['polling'], ['websocket']]) {
    const m = manager(server.url, { transports });
    const root = track(m.socket('/'));
    const admin = track(m.socket('/admin'));
    const auth = track(m.socket('/auth', { auth: { token: 'secret' } }));
    opened.push(root, admin, auth);
    root.connect(); admin.connect(); auth.connect();
    await Promise.all([waitConnected(root), waitConnected(admin), waitConnected(auth)]);
    const ids = [root.id, admin.id, auth.id, m.engine.id];
    assert.equal(new Set(ids).size, 4, `ids must be distinct: ${ids}`);
    assert.equal((await welcome(admin)).nsp, '/admin');
    assert.equal((await welcome(auth)).nsp, '/auth');
    assert.deepEqual((await call(admin, 'sid'))[0], { sid: admin.id });
    assert.deepEqual((await call(root, 'sid'))[0], { sid: root.id });
    root.disconnect(); admin.disconnect(); auth.disconnect();
  }
});

test('a refused namespace does not affect other namespaces on the same connection', async () => {
  const m = manager(server.url, { transports: ['websocket'] });
  const root = track(m.socket('/'));
  const bad = m.socket('/auth', { auth: { token: 'nope' } });
  const unknown = m.socket('/unknown');
  opened.push(root, bad, unknown);
  root.connect();
  await waitConnected(root);
  const errBad = once(bad, 'connect_error');
  const errUnknown = once(unknown, 'connect_error');
  bad.connect(); unknown.connect();
  assert.equal((await errBad)[0].message, 'unauthorized');
  assert.equal((await errUnknown)[0].message, 'Invalid namespace');
  assert.deepEqual(await call(root, 'ack', 'still here'), ['still here']);
  root.disconnect();
});

test('raw: CONNECT ack carries only sid and precedes welcome', async () => {
  const raw = await RawEio.open(server, { autoPong: true });
  try {
    raw.send('40');
    const ack = await raw.nextNonPing();
    assert.match(ack, /^40\{/);
    const body = JSON.parse(ack.slice(2));
    assert.deepEqual(Object.keys(body), ['sid']);
    assert.notEqual(body.sid, raw.sid);
    const w = await raw.nextNonPing();
    assert.ok(w.startsWith('42'), `expected welcome event, got ${w}`);
    assert.deepEqual(JSON.parse(w.slice(2)), ['welcome', { sid: body.sid, nsp: '/', auth: null }]);

    raw.send('40/admin,{"token":"x"}');
    const ack2 = await raw.nextNonPing();
    assert.match(ack2, /^40\/admin,\{/);
    const sid2 = JSON.parse(ack2.slice('40/admin,'.length)).sid;
    const w2 = await raw.nextNonPing();
    assert.deepEqual(JSON.parse(w2.slice('42/admin,'.length)), ['welcome', { sid: sid2, nsp: '/admin', auth: { token: 'x' } }]);

    // Unknown namespace without a trailing comma.
    raw.send('40/random');
    assert.equal(await raw.nextNonPing(), '44/random,{"message":"Invalid namespace"}');
    // Refused auth.
    raw.send('40/auth,{"token":"bad"}');
    const refused = await raw.nextNonPing();
    assert.ok(refused.startsWith('44/auth,'), refused);
    assert.deepEqual(JSON.parse(refused.slice('44/auth,'.length)), { message: 'unauthorized', data: { code: 401 } });
    // The connection is still usable.
    raw.send('421["ack","ok"]');
    assert.equal(await raw.nextNonPing(), '431["ok"]');
  } finally {
    raw.close();
  }
});
