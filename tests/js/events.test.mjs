// Events and client->server acks over polling and websocket: argument counts, unicode, nesting,
// large payloads and binary (top level, nested, several attachments, in acks).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { connect, call, echo, closeAll, normalize, withTimeout } from './lib/util.mjs';

let server;
const opened = [];
before(async () => { server = await startServer(); });
after(async () => {
  closeAll(opened);
  await server.stop();
});

const UNICODE = [
  'héllo wörld', '日本語テキスト', 'emoji 🎉🚀👩‍👩‍👧', 'rtl עברית العربية',
  'quotes " \' \\ / and \u2028\u2029 separators', 'control \u0001\u001e\u001f chars',
  '\u0000nul', 'surrogates 𝄞 𐍈',
];

const NESTED = {
  a: 1, b: -2.5, c: 'str', d: null, e: true, f: false, big: 2 ** 53 - 1, neg: -(2 ** 31), small: 1e-7,
  arr: [1, 'two', { three: [3, [3.5]] }, [], {}],
  deep: JSON.parse(`${'{"x":'.repeat(30)}"bottom"${'}'.repeat(30)}`),
  'key with spaces & ünïcödé 🔑': 'v',
  empty: '',
};

const bin = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

for (const transport of ['polling', 'websocket']) {
  describe(`over ${transport}`, () => {
    let s;
    let admin;
    before(async () => {
      s = await connect(server.url, { transports: [transport] });
      admin = await connect(server.url, { transports: [transport], nsp: '/admin' });
      opened.push(s, admin);
    });
    after(() => closeAll([s, admin]));

    test('count_args with 0..10 arguments', async () => {
      for (let n = 0; n <= 10; n++) {
        const args = Array.from({ length: n }, (_, i) => (i % 2 ? `a${i}` : { i }));
        assert.deepEqual(await call(s, 'count_args', ...args), [n], `n=${n}`);
      }
    });

    test('echo and ack with 0..10 arguments keep order and values', async () => {
      for (let n = 0; n <= 10; n++) {
        const args = Array.from({ length: n }, (_, i) => [i, `s${i}`, i % 3 === 0 ? null : { n: i }][i % 3]);
        assert.deepEqual(await echo(s, ...args), args, `echo n=${n}`);
        assert.deepEqual(await call(s, 'ack', ...args), args, `ack n=${n}`);
      }
    });

    test('unicode strings round-trip exactly', async () => {
      assert.deepEqual(await echo(s, ...UNICODE), UNICODE);
      assert.deepEqual(await call(s, 'ack', UNICODE), [UNICODE]);
      // unicode in event names too
      const [r] = await call(s, 'count_args', 'ü', '🎉');
      assert.equal(r, 2);
    });

    test('nested objects and arrays round-trip exactly', async () => {
      assert.deepEqual(await echo(s, NESTED, [NESTED, [NESTED]]), [NESTED, [NESTED, [NESTED]]]);
      assert.deepEqual(await call(s, 'ack', NESTED), [NESTED]);
    });

    test('100 KB payload (echo and ack)', async () => {
      const big = 'x'.repeat(50 * 1024) + '€'.repeat(17 * 1024); // ~100 KB of UTF-8
      const obj = { big, list: Array.from({ length: 1000 }, (_, i) => i) };
      assert.deepEqual(await echo(s, obj), [obj]);
      assert.deepEqual(await call(s, 'ack', big), [big]);
    });

    test('binary at the top level, both ways', async () => {
      const b = bin(256);
      assert.deepEqual(await echo(s, b), [b]);
      assert.deepEqual(await call(s, 'ack', b), [b]);
      // Uint8Array and ArrayBuffer inputs are binary too
      const u8 = new Uint8Array([0, 255, 128, 1]);
      assert.deepEqual(await call(s, 'ack', u8, u8.buffer), [Buffer.from(u8), Buffer.from(u8)]);
    });

    test('binary nested in objects and arrays, mixed with JSON', async () => {
      const payload = {
        name: 'file',
        data: bin(100, 1),
        parts: [bin(3, 2), 'text', { inner: bin(7, 3), n: 5 }],
      };
      assert.deepEqual(await echo(s, 'before', payload, 42), ['before', payload, 42]);
      assert.deepEqual(await call(s, 'ack', [bin(5, 4), [bin(6, 5)]], payload), [[bin(5, 4), [bin(6, 5)]], payload]);
    });

    test('several attachments in one event, including an empty one and a 64 KB one', async () => {
      const parts = [bin(1, 1), Buffer.alloc(0), bin(65536, 2), bin(10, 3), bin(1000, 4)];
      assert.deepEqual(await echo(s, ...parts), parts);
      assert.deepEqual(await call(s, 'ack', { parts }), [{ parts }]);
      assert.deepEqual(await call(s, 'count_args', ...parts), [parts.length]);
    });

    test('binary on a non-root namespace', async () => {
      const p = { blob: bin(50, 9), arr: [bin(2, 8)] };
      assert.deepEqual(await call(admin, 'ack', p, bin(3, 7)), [p, bin(3, 7)]);
      assert.deepEqual(await echo(admin, p), [p]);
    });

    test('many concurrent acks resolve with their own values', async () => {
      const n = 200;
      const res = await Promise.all(Array.from({ length: n }, (_, i) => call(s, 'ack', i, i % 10 === 0 ? bin(4, i) : `v${i}`)));
      res.forEach((r, i) => assert.deepEqual(r, [i, i % 10 === 0 ? bin(4, i) : `v${i}`]));
    });

    test('echo events arrive in emission order', async () => {
      const got = [];
      const n = 100;
      const done = new Promise((resolve) => {
        const h = (i) => { got.push(i); if (got.length === n) { s.off('echo', h); resolve(); } };
        s.on('echo', h);
      });
      for (let i = 0; i < n; i++) s.emit('echo', i);
      await withTimeout(done, 5000, `${n} echo events`);
      assert.deepEqual(got, Array.from({ length: n }, (_, i) => i));
    });
  });
}

test('binary survives the polling -> websocket upgrade', async () => {
  const s = await connect(server.url, {});
  opened.push(s);
  const parts = [];
  for (let i = 0; i < 20; i++) parts.push(call(s, 'ack', bin(i + 1, i), { nested: bin(2, i) }));
  const res = await Promise.all(parts);
  res.forEach((r, i) => assert.deepEqual(r, [bin(i + 1, i), { nested: bin(2, i) }]));
  assert.deepEqual(normalize(await echo(s, bin(9))), [bin(9)]);
  s.disconnect();
});
