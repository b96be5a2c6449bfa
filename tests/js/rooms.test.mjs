// Rooms (join/leave/leave_all/rooms/room_sids/close_room) and emit targeting
// (room, several rooms, namespace, except rooms/sids, include_self: false, a sid).
//
// "Did not receive" is checked with a fence: after the emit under test is acked, a namespace-wide
// `fence` event is emitted; per-connection ordering means anything sent before it has arrived
// once the fence has.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, call, closeAll, once, waitUntil } from './lib/util.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

let fenceSeq = 0;

/** n clients on nsp (alternating transports), each recording every event it receives. */
async function clients(n, nsp = '/') {
  const list = await Promise.all(Array.from({ length: n }, (_, i) => connect(server.url, {
    nsp, transports: [i % 2 ? 'polling' : 'websocket'],
  })));
  for (const c of list) {
    c.got = [];
    c.onAny((event, ...args) => { if (event !== 'welcome' && event !== 'fence') c.got.push([event, ...args]); });
  }
  return list;
}

async function fence(sender, all) {
  const tag = `f${++fenceSeq}`;
  const waits = all.map((c) => waitUntil(() => c.fences?.includes(tag), 5000, `fence ${tag} at ${c.id}`));
  for (const c of all) {
    if (!c.fenceHooked) {
      c.fences = [];
      c.on('fence', (t) => c.fences.push(t));
      c.fenceHooked = true;
    }
  }
  assert.deepEqual(await call(sender, 'emit', { event: 'fence', args: [tag] }), [true]);
  await Promise.all(waits);
}

function received(c, event) {
  return c.got.filter((g) => g[0] === event);
}

test('join / leave / leave_all / rooms return sorted room lists including the own sid', async () => {
  const [a] = await clients(1);
  try {
    assert.deepEqual(await call(a, 'rooms'), [[a.id]]);
    assert.deepEqual(await call(a, 'join', 'zeta'), [[a.id, 'zeta'].sort()]);
    assert.deepEqual(await call(a, 'join', 'alpha'), [['alpha', a.id, 'zeta'].sort()]);
    assert.deepEqual(await call(a, 'join', 'alpha'), [['alpha', a.id, 'zeta'].sort()], 'joining twice is idempotent');
    assert.deepEqual(await call(a, 'join', 'mü 🎉'), [['alpha', a.id, 'mü 🎉', 'zeta'].sort()]);
    assert.deepEqual(await call(a, 'leave', 'zeta'), [['alpha', a.id, 'mü 🎉'].sort()]);
    assert.deepEqual(await call(a, 'leave', 'not-a-member'), [['alpha', a.id, 'mü 🎉'].sort()]);
    assert.deepEqual(await call(a, 'rooms'), [['alpha', a.id, 'mü 🎉'].sort()]);
    assert.deepEqual(await call(a, 'leave_all'), [[a.id]]);
    assert.deepEqual(await call(a, 'rooms'), [[a.id]]);
  } finally {
    closeAll([a]);
  }
});

test('room_sids and close_room', async () => {
  const [a, b, c] = await clients(3);
  const [x] = await clients(1, '/admin');
  try {
    await call(a, 'join', 'r');
    await call(b, 'join', 'r');
    await call(x, 'join', 'r'); // same room name in another namespace
    assert.deepEqual(await call(c, 'room_sids', 'r'), [[a.id, b.id].sort()]);
    assert.deepEqual(await call(x, 'room_sids', 'r'), [[x.id]]);
    assert.deepEqual(await call(c, 'room_sids', a.id), [[a.id]], 'every socket is in its own sid room');
    assert.deepEqual(await call(c, 'room_sids', 'empty'), [[]]);
    assert.deepEqual(await call(c, 'close_room', 'r'), [true]);
    assert.deepEqual(await call(c, 'room_sids', 'r'), [[]]);
    assert.deepEqual(await call(a, 'rooms'), [[a.id]]);
    assert.deepEqual(await call(b, 'rooms'), [[b.id]]);
    assert.deepEqual(await call(x, 'room_sids', 'r'), [[x.id]], 'close_room is per namespace');
    // a disconnected socket leaves its rooms
    await call(a, 'join', 'gone');
    a.disconnect();
    await waitUntil(async () => (await call(c, 'room_sids', 'gone'))[0].length === 0, 3000, 'room cleanup after disconnect');
  } finally {
    closeAll([a, b, c, x]);
  }
});

test('emit to one room, to the namespace, and to several rooms (each client once)', async () => {
  const all = await clients(5);
  const [a, b, c, d, e] = all;
  const [other] = await clients(1, '/admin');
  try {
    await call(a, 'join', 'r1');
    await call(b, 'join', 'r1');
    await call(b, 'join', 'r2');
    await call(c, 'join', 'r2');
    await call(other, 'join', 'r1');

    assert.deepEqual(await call(e, 'emit', { to: ['r1'], event: 'one', args: [1, { two: 2 }] }), [true]);
    await fence(e, [...all]);
    assert.deepEqual(received(a, 'one'), [['one', 1, { two: 2 }]]);
    assert.deepEqual(received(b, 'one'), [['one', 1, { two: 2 }]]);
    for (const z of [c, d, e, other]) assert.deepEqual(received(z, 'one'), [], `${z.id} must not get it`);

    assert.deepEqual(await call(e, 'emit', { to: ['r1', 'r2'], event: 'multi', args: ['m'] }), [true]);
    await fence(e, all);
    assert.equal(received(a, 'multi').length, 1);
    assert.equal(received(b, 'multi').length, 1, 'a client in two rooms gets the event once');
    assert.equal(received(c, 'multi').length, 1);
    assert.equal(received(d, 'multi').length, 0);
    assert.equal(received(e, 'multi').length, 0);

    assert.deepEqual(await call(a, 'emit', { event: 'everyone', args: [] }), [true]);
    await fence(a, all);
    for (const z of all) assert.deepEqual(received(z, 'everyone'), [['everyone']], 'namespace-wide includes the sender');
    assert.deepEqual(received(other, 'everyone'), [], 'other namespace must not get it');

    // The sender itself in the target room gets it by default.
    assert.deepEqual(await call(b, 'emit', { to: ['r2'], event: 'self', args: [] }), [true]);
    await fence(a, all);
    assert.equal(received(b, 'self').length, 1);
    assert.equal(received(c, 'self').length, 1);
    assert.equal(received(a, 'self').length, 0);
  } finally {
    closeAll([...all, other]);
  }
});

test('emit with except rooms, except sids and include_self: false', async () => {
  const all = await clients(4);
  const [a, b, c, d] = all;
  try {
    await call(a, 'join', 'r1');
    await call(b, 'join', 'r1');
    await call(b, 'join', 'r2');
    await call(c, 'join', 'r1');

    await call(d, 'emit', { except: ['r2'], event: 'ex1', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ex1').length), [1, 0, 1, 1]);

    await call(d, 'emit', { to: ['r1'], except: ['r2'], event: 'ex2', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ex2').length), [1, 0, 1, 0]);

    await call(d, 'emit', { to: ['r1'], except: [a.id, c.id], event: 'ex3', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ex3').length), [0, 1, 0, 0]);

    await call(d, 'emit', { except: [b.id, 'r2', 'no-such-room'], event: 'ex4', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ex4').length), [1, 0, 1, 1]);

    await call(a, 'emit', { to: ['r1'], include_self: false, event: 'ns1', args: ['x'] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ns1').length), [0, 1, 1, 0]);

    await call(a, 'emit', { include_self: false, event: 'ns2', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ns2').length), [0, 1, 1, 1]);

    await call(a, 'emit', { include_self: true, event: 'ns3', args: [] });
    await fence(d, all);
    assert.deepEqual(all.map((z) => received(z, 'ns3').length), [1, 1, 1, 1]);
  } finally {
    closeAll(all);
  }
});

test('emit to a sid reaches exactly that socket (also across transports), with binary', async () => {
  const all = await clients(4);
  const [a, b, c, d] = all;
  try {
    const blob = Buffer.from('direct message');
    await call(a, 'emit', { to: [c.id], event: 'dm', args: ['hi', { blob }] });
    await fence(a, all);
    assert.equal(received(c, 'dm').length, 1);
    const [, hi, obj] = received(c, 'dm')[0];
    assert.equal(hi, 'hi');
    assert.deepEqual(Buffer.from(obj.blob), blob);
    for (const z of [a, b, d]) assert.equal(received(z, 'dm').length, 0);

    // to a sid and a room it is also in: once
    await call(c, 'join', 'cr');
    await call(a, 'emit', { to: [c.id, 'cr', b.id], event: 'dm2', args: [] });
    await fence(a, all);
    assert.deepEqual(all.map((z) => received(z, 'dm2').length), [0, 1, 1, 0]);

    // a sid of another namespace is not a room here
    const [x] = await clients(1, '/admin');
    try {
      await call(a, 'emit', { to: [x.id], event: 'dm3', args: [] });
      await fence(a, all);
      assert.equal(received(x, 'dm3').length, 0);
      for (const z of all) assert.equal(received(z, 'dm3').length, 0);
    } finally {
      closeAll([x]);
    }
  } finally {
    closeAll(all);
  }
});

test('rooms are per namespace socket on a multiplexed connection', async () => {
  const [a] = await clients(1);
  const [b] = await clients(1, '/admin');
  try {
    await call(a, 'join', 'shared-name');
    assert.deepEqual(await call(b, 'rooms'), [[b.id]]);
    const p = once(b, 'only-admin', 3000);
    await call(a, 'emit', { to: ['shared-name'], event: 'only-root', args: [] });
    await call(b, 'join', 'shared-name');
    await call(b, 'emit', { to: ['shared-name'], event: 'only-admin', args: [] });
    await p;
    await fence(a, [a]);
    assert.equal(received(a, 'only-admin').length, 0);
    assert.equal(received(a, 'only-root').length, 1);
  } finally {
    closeAll([a, b]);
  }
});
