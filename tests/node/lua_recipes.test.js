// lua_recipes.test.js — ioredis's Lua-based recipes: a lock released with
// a compare-and-delete script, and a rate limiter registered with
// defineCommand (EVALSHA, falling back to EVAL on NOSCRIPT). Skipped, with
// the reason printed, while the server has no scripting (COMMAND INFO eval
// returns nothing). Run by run.js.
'use strict';
const assert = require('assert/strict');

const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
else
  return 0
end`;

const RATELIMIT = `local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1`;

async function skip(ctx) {
  const info = await ctx.client().command('INFO', 'eval');
  if (!Array.isArray(info) || info.length === 0 || info[0] === null) {
    return 'scripting is not implemented yet (COMMAND INFO eval returns nothing)';
  }
  return null;
}

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('lock: SET NX PX to acquire, Lua compare-and-delete to release', async (ctx) => {
  const a = ctx.client();
  const b = ctx.client();
  assert.equal(await a.set('lock:res', 'token-a', 'PX', 5000, 'NX'), 'OK');
  assert.equal(await b.set('lock:res', 'token-b', 'PX', 5000, 'NX'), null);
  assert.equal(await b.eval(RELEASE, 1, 'lock:res', 'token-b'), 0);
  assert.equal(await a.get('lock:res'), 'token-a');
  assert.equal(await a.eval(RELEASE, 1, 'lock:res', 'token-a'), 1);
  assert.equal(await b.set('lock:res', 'token-b', 'PX', 5000, 'NX'), 'OK');
  const pttl = await b.pttl('lock:res');
  assert.ok(pttl > 0 && pttl <= 5000);
});

test('lock: 8 clients contend, one holder at a time', async (ctx) => {
  let inside = 0, maxInside = 0, done = 0;
  async function worker(r, id) {
    const token = 'tok' + id;
    for (;;) {
      if ((await r.set('lock:cs', token, 'PX', 2000, 'NX')) === 'OK') break;
      await new Promise((res) => setTimeout(res, 2));
    }
    inside++;
    maxInside = Math.max(maxInside, inside);
    await r.incr('lock:counter');
    inside--;
    assert.equal(await r.eval(RELEASE, 1, 'lock:cs', token), 1);
    done++;
  }
  const clients = Array.from({ length: 8 }, () => ctx.client());
  await Promise.all(clients.map((r, i) => worker(r, i)));
  assert.equal(done, 8);
  assert.equal(maxInside, 1);
  assert.equal(await clients[0].get('lock:counter'), '8');
});

test('rate limiter via defineCommand', async (ctx) => {
  const r = ctx.client();
  r.defineCommand('ratelimit', { numberOfKeys: 1, lua: RATELIMIT });
  const results = [];
  for (let i = 0; i < 10; i++) results.push(await r.ratelimit('rl:user1', 5, 10000));
  assert.deepEqual(results, [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
  const pttl = await r.pttl('rl:user1');
  assert.ok(pttl > 0 && pttl <= 10000);
  // Other keys have their own budget; a flushed script cache is reloaded.
  await r.script('FLUSH');
  assert.equal(await r.ratelimit('rl:user2', 1, 10000), 1);
  assert.equal(await r.ratelimit('rl:user2', 1, 10000), 0);
  // In a pipeline too.
  const res = await r.pipeline().ratelimit('rl:user3', 2, 10000).ratelimit('rl:user3', 2, 10000)
    .ratelimit('rl:user3', 2, 10000).exec();
  assert.deepEqual(res.map(([e, v]) => v), [1, 1, 0]);
});

module.exports = { tests, skip };
