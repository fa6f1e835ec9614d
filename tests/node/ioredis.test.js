// ioredis.test.js — ioredis used the way applications use it: pipelines of
// hundreds of mixed commands, MULTI/EXEC (queued and runtime errors),
// WATCH with a conflicting writer and the optimistic retry loop, Pub/Sub
// with subscribe/psubscribe and their message/pmessage events, scanStream,
// binary values, auto-pipelining and keyPrefix. Run by run.js.
'use strict';
const assert = require('assert/strict');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until cond() holds (events arrive asynchronously).
async function until(cond, what, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(5);
  }
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('pipeline of 600 mixed commands', async (ctx) => {
  const r = ctx.client();
  const p = r.pipeline();
  const want = [];
  for (let i = 0; i < 100; i++) {
    p.set(`pl:s:${i}`, String(i)); want.push('OK');
    p.incrby(`pl:s:${i}`, 10); want.push(i + 10);
    p.hset(`pl:h:${i % 10}`, `f${i}`, String(i)); want.push(1);
    p.rpush('pl:list', `v${i}`); want.push(i + 1);
    p.sadd('pl:set', `m${i % 25}`); want.push(i < 25 ? 1 : 0);
    p.zadd('pl:z', String(100 - i), `z${i}`); want.push(1);
  }
  const res = await p.exec();
  assert.equal(res.length, 600);
  res.forEach(([err, val], i) => {
    assert.equal(err, null, `command ${i}`);
    assert.deepEqual(val, want[i], `command ${i}`);
  });
  const check = await r.pipeline()
    .get('pl:s:42').hgetall('pl:h:3').llen('pl:list').lrange('pl:list', 0, 2)
    .scard('pl:set').zrange('pl:z', 0, 2, 'WITHSCORES').mget('pl:s:0', 'pl:s:99', 'nope')
    .type('pl:z').exists('pl:s:1', 'pl:list', 'nope').exec();
  const h3 = {};
  for (let i = 3; i < 100; i += 10) h3[`f${i}`] = String(i);
  assert.deepEqual(check.map(([e, v]) => (assert.equal(e, null), v)), [
    '52', h3, 100, ['v0', 'v1', 'v2'], 25, ['z99', '1', 'z98', '2', 'z97', '3'],
    ['10', '109', null], 'zset', 2,
  ]);
});

test('pipeline keeps going after a command fails', async (ctx) => {
  const r = ctx.client();
  const res = await r.pipeline().set('pe:k', 'text').lpush('pe:k', 'x').incr('pe:k')
    .append('pe:k', '!').get('pe:k').exec();
  assert.deepEqual(res[0], [null, 'OK']);
  assert.match(res[1][0].message, /^WRONGTYPE /);
  assert.match(res[2][0].message, /^ERR value is not an integer/);
  assert.deepEqual(res[3], [null, 5]);
  assert.deepEqual(res[4], [null, 'text!']);
});

test('pipeline of 200 large values and MGET', async (ctx) => {
  const r = ctx.client();
  const p = r.pipeline();
  const vals = [];
  for (let i = 0; i < 200; i++) {
    const v = String(i).padStart(4, '0').repeat(2500); // 10 KB
    vals.push(v);
    p.set(`big:{x}${i}`, v);
  }
  await p.exec();
  const keys = vals.map((_, i) => `big:{x}${i}`);
  assert.deepEqual(await r.mget(keys), vals);
});

test('multi/exec', async (ctx) => {
  const r = ctx.client();
  const res = await r.multi().set('tx:k', '1').incr('tx:k').get('tx:k').lpush('tx:l', 'a', 'b')
    .lrange('tx:l', 0, -1).exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 2], [null, '2'], [null, 2], [null, ['b', 'a']]]);
});

test('multi/exec: a runtime error does not stop the rest', async (ctx) => {
  const r = ctx.client();
  const res = await r.multi().set('tx:s', 'x').incr('tx:s').get('tx:s').exec();
  assert.deepEqual(res[0], [null, 'OK']);
  assert.match(res[1][0].message, /not an integer/);
  assert.deepEqual(res[2], [null, 'x']);
});

test('multi/exec: a queued error aborts the transaction', async (ctx) => {
  const r = ctx.client();
  await assert.rejects(
    r.multi().set('tx:q', '1').call('NOSUCHCOMMAND', 'x').set('tx:q', '2').exec(),
    (e) => /EXECABORT/.test(e.message));
  assert.equal(await r.get('tx:q'), null);
  // The connection is usable afterwards.
  assert.equal(await r.set('tx:q', 'ok'), 'OK');
});

test('watch: a conflicting writer makes exec return null', async (ctx) => {
  const a = ctx.client();
  const b = ctx.client();
  await a.set('w:k', '1');
  assert.equal(await a.watch('w:k'), 'OK');
  const v = await a.get('w:k');
  await b.set('w:k', 'other');
  const res = await a.multi().set('w:k', String(Number(v) + 1)).exec();
  assert.equal(res, null);
  assert.equal(await a.get('w:k'), 'other');
  // Without interference the same steps commit.
  await a.watch('w:k');
  const res2 = await a.multi().set('w:k', 'mine').exec();
  assert.deepEqual(res2, [[null, 'OK']]);
  // UNWATCH forgets.
  await a.watch('w:k');
  await b.set('w:k', 'again');
  await a.unwatch();
  assert.deepEqual(await a.multi().get('w:k').exec(), [[null, 'again']]);
});

test('watch retry loop: 6 clients x 25 optimistic increments', async (ctx) => {
  const N = 6, EACH = 25;
  let conflicts = 0;
  async function worker(r) {
    for (let i = 0; i < EACH; i++) {
      for (;;) {
        await r.watch('w:counter', 'w:log');
        const cur = Number((await r.get('w:counter')) || 0);
        const res = await r.multi().set('w:counter', String(cur + 1)).rpush('w:log', String(cur + 1)).exec();
        if (res !== null) break;
        conflicts++;
      }
    }
  }
  const clients = Array.from({ length: N }, () => ctx.client());
  await Promise.all(clients.map(worker));
  const r = clients[0];
  assert.equal(await r.get('w:counter'), String(N * EACH));
  const log = await r.lrange('w:log', 0, -1);
  assert.deepEqual(log, Array.from({ length: N * EACH }, (_, i) => String(i + 1)));
  assert.ok(conflicts >= 0);
});

test('pub/sub: subscribe, psubscribe, message and pmessage events, unsubscribe', async (ctx) => {
  const sub = ctx.client();
  const pub = ctx.client();
  const got = [];
  sub.on('message', (ch, msg) => got.push(['message', ch, msg]));
  sub.on('pmessage', (pat, ch, msg) => got.push(['pmessage', pat, ch, msg]));
  assert.equal(await sub.subscribe('news', 'sport'), 2);
  assert.equal(await sub.psubscribe('n*'), 3);
  assert.equal(await pub.publish('news', 'hello'), 2);
  assert.equal(await pub.publish('sport', 'goal'), 1);
  assert.equal(await pub.publish('nature', 'tree'), 1);
  assert.equal(await pub.publish('other', 'none'), 0);
  await until(() => got.length === 4, '4 messages');
  const sorted = (a) => a.map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(sorted(got), sorted([
    ['message', 'news', 'hello'], ['pmessage', 'n*', 'news', 'hello'],
    ['message', 'sport', 'goal'], ['pmessage', 'n*', 'nature', 'tree'],
  ]));
  assert.deepEqual(await pub.pubsub('NUMSUB', 'news', 'sport'), ['news', 1, 'sport', 1]);
  assert.equal(await pub.pubsub('NUMPAT'), 1);
  got.length = 0;
  assert.equal(await sub.unsubscribe('news'), 2);
  assert.equal(await pub.publish('news', 'again'), 1); // only the pattern now
  await until(() => got.length === 1, 'pmessage after unsubscribe');
  assert.deepEqual(got[0], ['pmessage', 'n*', 'news', 'again']);
  // (ioredis 5's argument-less forms never resolve, against Redis too.)
  assert.equal(await sub.punsubscribe('n*'), 1);
  assert.equal(await sub.unsubscribe('sport'), 0);
  assert.equal(await pub.publish('news', 'nobody'), 0);
  // Out of subscriber mode, ordinary commands work again.
  assert.equal(await sub.ping(), 'PONG');
});

test('pub/sub: 5 subscribers get 200 messages each, in order', async (ctx) => {
  const subs = Array.from({ length: 5 }, () => ctx.client());
  const inbox = subs.map(() => []);
  await Promise.all(subs.map((s, i) => {
    s.on('messageBuffer', (ch, msg) => inbox[i].push(msg.toString()));
    return s.subscribe('stream:ch');
  }));
  const pub = ctx.client();
  const p = pub.pipeline();
  for (let i = 0; i < 200; i++) p.publish('stream:ch', `m${i}`);
  const res = await p.exec();
  res.forEach(([e, n]) => { assert.equal(e, null); assert.equal(n, 5); });
  await until(() => inbox.every((b) => b.length === 200), '200 messages each');
  const want = Array.from({ length: 200 }, (_, i) => `m${i}`);
  inbox.forEach((b) => assert.deepEqual(b, want));
});

test('scanStream and hscanStream', async (ctx) => {
  const r = ctx.client();
  const p = r.pipeline();
  for (let i = 0; i < 300; i++) p.set(`scan:${i}`, '1');
  for (let i = 0; i < 150; i++) p.hset('scan:hash', `f${i}`, String(i));
  p.set('other:key', '1');
  await p.exec();
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const s = r.scanStream({ match: 'scan:[0-9]*', count: 40 });
    s.on('data', (keys) => keys.forEach((k) => seen.add(k)));
    s.on('end', resolve);
    s.on('error', reject);
  });
  assert.equal(seen.size, 300);
  const fields = new Map();
  await new Promise((resolve, reject) => {
    const s = r.hscanStream('scan:hash', { count: 20 });
    s.on('data', (kv) => { for (let i = 0; i < kv.length; i += 2) fields.set(kv[i], kv[i + 1]); });
    s.on('end', resolve);
    s.on('error', reject);
  });
  assert.equal(fields.size, 150);
  assert.equal(fields.get('f77'), '77');
});

test('binary values round-trip', async (ctx) => {
  const r = ctx.client();
  const buf = Buffer.alloc(4096);
  for (let i = 0; i < buf.length; i++) buf[i] = (i * 7 + 3) & 0xff;
  await r.set('bin:k', buf);
  assert.ok((await r.getBuffer('bin:k')).equals(buf));
  await r.hset('bin:h', Buffer.from([0, 1, 2]), buf);
  assert.ok((await r.hgetBuffer('bin:h', Buffer.from([0, 1, 2]))).equals(buf));
  assert.equal(await r.strlen('bin:k'), 4096);
});

test('auto-pipelining: 1000 concurrent commands', async (ctx) => {
  const r = ctx.client({ enableAutoPipelining: true });
  await Promise.all(Array.from({ length: 500 }, (_, i) => r.set(`ap:${i}`, String(i * 2))));
  const vals = await Promise.all(Array.from({ length: 500 }, (_, i) => r.get(`ap:${i}`)));
  vals.forEach((v, i) => assert.equal(v, String(i * 2)));
});

test('keyPrefix option', async (ctx) => {
  const r = ctx.client({ keyPrefix: 'app:' });
  const raw = ctx.client();
  await r.set('user', 'ann');
  await r.multi().incr('visits').incr('visits').exec();
  assert.equal(await raw.get('app:user'), 'ann');
  assert.equal(await raw.get('app:visits'), '2');
  assert.equal(await r.get('user'), 'ann');
});

module.exports = { tests };
