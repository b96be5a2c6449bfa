// Limits and robustness: --max-payload (websocket close, polling 413), --connect-timeout, and
// malformed packets closing only the offending client while another keeps working.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { withServer } from './lib/server.mjs';
import { connect, call, closeAll, RawEio, sleep, withTimeout } from './lib/util.mjs';

async function pollingHandshake(server) {
  const res = await fetch(`${server.url}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 200);
  const body = await res.text();
  assert.equal(body[0], '0');
  return JSON.parse(body.slice(1)).sid;
}

describe('max payload 1000', () => {
  const ARGS = ['--max-payload', '1000'];

  test('open packet advertises maxPayload', async () => {
    await withServer(ARGS, async (server) => {
      const raw = await RawEio.open(server, { autoPong: true });
      try {
        assert.equal(raw.handshake.maxPayload, 1000);
      } finally {
        raw.close();
      }
    });
  });

  test('websocket message under the limit works, over the limit closes the connection', async () => {
    await withServer(ARGS, async (server) => {
      const bystander = await connect(server.url, { transports: ['websocket'] });
      const raw = await RawEio.open(server, { autoPong: true });
      try {
        await raw.connectNsp('/');
        await raw.nextNonPing(); // welcome
        const small = 'a'.repeat(900);
        raw.send(`421["ack","${small}"]`);
        assert.equal(await raw.nextNonPing(), `431["${small}"]`);
        raw.send(`422["ack","${'b'.repeat(2000)}"]`);
        await raw.waitClosed(3000);
        assert.deepEqual(await call(bystander, 'ack', 'fine'), ['fine']);
      } finally {
        closeAll([bystander]);
        raw.close();
      }
    });
  });

  test('socket.io-client sending an oversized event over websocket gets disconnected', async () => {
    await withServer(ARGS, async (server) => {
      const s = await connect(server.url, { transports: ['websocket'] });
      try {
        const d = new Promise((resolve) => s.once('disconnect', resolve));
        s.emit('echo', 'x'.repeat(5000));
        const reason = await withTimeout(d, 3000, 'disconnect after oversized message');
        assert.ok(['transport close', 'transport error'].includes(reason), `reason ${reason}`);
      } finally {
        closeAll([s]);
      }
    });
  });

  test('polling POST over the limit gets HTTP 413; under the limit 200', async () => {
    await withServer(ARGS, async (server) => {
      const sid = await pollingHandshake(server);
      const url = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      let res = await fetch(url, { method: 'POST', body: '40', headers: { 'content-type': 'text/plain;charset=UTF-8' } });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'ok');
      res = await fetch(url, { method: 'POST', body: `42["echo","${'z'.repeat(2000)}"]`, headers: { 'content-type': 'text/plain;charset=UTF-8' } });
      assert.equal(res.status, 413);
      await res.text();
    });
  });
});

test('connect timeout: an engine connection that never sends CONNECT is closed', async () => {
  await withServer(['--connect-timeout', '300'], async (server) => {
    const idle = await RawEio.open(server, { autoPong: true });
    const good = await RawEio.open(server, { autoPong: true });
    try {
      await good.connectNsp('/'); // CONNECT in time: stays
      const closed = await idle.waitClosed(2500);
      const after = closed.at - idle.openedAt;
      assert.ok(after >= 200, `closed too early (${after} ms)`);
      await sleep(200);
      assert.ok(good.isOpen(), 'a connection that sent CONNECT must stay open');
      good.send('421["ack",1]');
      assert.equal((await good.nextNonPing()).replace(/^42\["welcome".*$/, ''), '');
      assert.equal(await good.nextNonPing(), '431[1]');
    } finally {
      idle.close();
      good.close();
    }
  });
});

// Each malformed frame is sent by a raw client after a valid CONNECT (unless stated otherwise).
const MALFORMED = [
  { name: 'EVENT with an object payload 42{}', frames: ['42{}'] },
  { name: 'unknown socket.io packet type 4x', frames: ['4x'] },
  { name: 'unknown engine.io packet type 9', frames: ['9'] },
  { name: 'bad JSON 42["a"', frames: ['42["a"'] },
  { name: 'non-numeric ack id', frames: ['42abc["ack",1]'] },
  { name: 'EVENT with an empty array', frames: ['42[]'] },
  { name: 'socket.io packet type 7', frames: ['47["x"]'] },
  { name: 'CONNECT_ERROR sent by a client', frames: ['44{"message":"x"}'] },
  {
    name: 'binary placeholder num beyond the attachment count',
    frames: ['451-["ack",{"_placeholder":true,"num":3}]', Buffer.from([1, 2, 3])],
  },
  {
    name: 'binary attachment count 2 with placeholders 0 and 5',
    frames: ['452-["ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":5}]', Buffer.from([1]), Buffer.from([2])],
  },
  { name: 'binary frame when no attachment is expected', frames: [Buffer.from([9, 9, 9])] },
  { name: 'empty text frame', frames: [''] },
];

describe('malformed websocket frames close that client only', () => {
  for (const m of MALFORMED) {
    test(m.name, async () => {
      await withServer([], async (server) => {
        const other = await connect(server.url, { transports: ['websocket'] });
        const otherPoll = await connect(server.url, { transports: ['polling'] });
        const raw = await RawEio.open(server, { autoPong: true });
        try {
          await raw.connectNsp('/');
          for (const f of m.frames) raw.send(f);
          await raw.waitClosed(3000);
          assert.deepEqual(await call(other, 'ack', 'alive', Buffer.from([1])), ['alive', Buffer.from([1])]);
          assert.deepEqual(await call(otherPoll, 'ack', 'alive'), ['alive']);
          assert.equal(other.disconnects.length + otherPoll.disconnects.length, 0);
        } finally {
          closeAll([other, otherPoll]);
          raw.close();
        }
      });
    });
  }

  test('an event before CONNECT closes the connection', async () => {
    await withServer([], async (server) => {
      const other = await connect(server.url, { transports: ['websocket'] });
      const raw = await RawEio.open(server, { autoPong: true });
      try {
        raw.send('421["ack","too early"]');
        await raw.waitClosed(3000);
        assert.deepEqual(await call(other, 'ack', 'alive'), ['alive']);
      } finally {
        closeAll([other]);
        raw.close();
      }
    });
  });

  test('an event for a namespace that was not connected closes the connection', async () => {
    await withServer([], async (server) => {
      const other = await connect(server.url, { transports: ['websocket'] });
      const raw = await RawEio.open(server, { autoPong: true });
      try {
        await raw.connectNsp('/');
        raw.send('42/admin,1["ack","not connected here"]');
        await raw.waitClosed(3000);
        assert.deepEqual(await call(other, 'ack', 'alive'), ['alive']);
      } finally {
        closeAll([other]);
        raw.close();
      }
    });
  });
});

test('a valid frame batch after many malformed clients: the server still serves new clients', async () => {
  await withServer([], async (server) => {
    const raws = await Promise.all(Array.from({ length: 20 }, () => RawEio.open(server, { autoPong: true })));
    try {
      await Promise.all(raws.map((r) => r.connectNsp('/')));
      raws.forEach((r, i) => r.send(MALFORMED[i % 8].frames[0]));
      await Promise.all(raws.map((r) => r.waitClosed(3000)));
      const s = await connect(server.url, { transports: ['websocket'] });
      assert.deepEqual(await call(s, 'count_args', 1, 2, 3), [3]);
      closeAll([s]);
    } finally {
      raws.forEach((r) => r.close());
    }
  });
});
