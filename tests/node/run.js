// run.js — runs ioredis, unchanged, against cachebox: installs the pinned
// ioredis (npm ci) into tests/node/node_modules when it is missing, starts
// the server on a free loopback port (with one worker, then with three),
// runs every *.test.js here in turn and prints a final "N passed, N failed"
// line. CACHEBOX_BIN names the binary (default build/cachebox);
// CACHEBOX_BIN=/usr/bin/redis-server checks the tests against the oracle.
// Each test file exports { tests: [{ name, fn(ctx) }], skip(ctx) } where
// skip returns a reason to skip the whole file, or null.
'use strict';
const fs = require('fs');
const os = require('os');
const net = require('net');
const path = require('path');
const { spawn, execSync } = require('child_process');

const HERE = __dirname;
const ROOT = path.resolve(HERE, '..', '..');
const BIN = process.env.CACHEBOX_BIN || path.join(ROOT, 'build', 'cachebox');
const IS_REDIS = path.basename(BIN).includes('redis-server');
const TEST_TIMEOUT_MS = 30000;

function ensureIoredis() {
  if (fs.existsSync(path.join(HERE, 'node_modules', 'ioredis', 'package.json'))) return;
  console.log('installing ioredis (npm ci) ...');
  execSync('npm ci --no-audit --no-fund --loglevel=error', { cwd: HERE, stdio: 'inherit' });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer(extra) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cbnode-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  if (IS_REDIS) args.push('--save', '', '--appendonly', 'no');
  args.push(...extra);
  const log = fs.openSync(path.join(dir, 'server.log'), 'w');
  const proc = spawn(BIN, args, { stdio: ['ignore', log, log] });
  const Redis = require('ioredis');
  for (let i = 0; i < 100; i++) {
    const probe = new Redis({ port, lazyConnect: true, retryStrategy: null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') {
        probe.disconnect();
        return { port, dir, proc };
      }
    } catch (e) { /* not up yet */ }
    probe.disconnect();
    await sleep(100);
  }
  proc.kill('SIGKILL');
  throw new Error('server did not start: ' + BIN + ' ' + args.join(' '));
}

async function stopServer(srv) {
  const done = new Promise((r) => srv.proc.once('exit', r));
  srv.proc.kill('SIGTERM');
  const t = setTimeout(() => srv.proc.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(t);
  fs.rmSync(srv.dir, { recursive: true, force: true });
}

function makeCtx(port) {
  const Redis = require('ioredis');
  const clients = [];
  return {
    port,
    Redis,
    client(opts) {
      const c = new Redis({ port, host: '127.0.0.1', ...(opts || {}) });
      c.on('error', () => {});
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) {
        try { c.disconnect(); } catch (e) { /* already gone */ }
      }
      clients.length = 0;
    },
  };
}

function withTimeout(p, ms, what) {
  let t;
  const timer = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(what + ' timed out')), ms); });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

async function main() {
  ensureIoredis();
  const files = fs.readdirSync(HERE).filter((f) => f.endsWith('.test.js')).sort();
  const configs = IS_REDIS ? [['(redis-server)', []]]
    : [['1 worker', []], ['3 workers', ['--io-workers', '3']]];
  let passed = 0, failed = 0, skipped = 0;
  for (const [label, extra] of configs) {
    const srv = await startServer(extra);
    try {
      for (const f of files) {
        const mod = require(path.join(HERE, f));
        const ctx = makeCtx(srv.port);
        const reason = mod.skip ? await mod.skip(ctx) : null;
        if (reason) {
          console.log(`skip - [${label}] ${f}: ${reason}`);
          skipped += mod.tests.length;
          await ctx.close();
          continue;
        }
        for (const t of mod.tests) {
          const tctx = makeCtx(srv.port);
          try {
            await tctx.client().flushall();
            await withTimeout(Promise.resolve().then(() => t.fn(tctx)), TEST_TIMEOUT_MS, t.name);
            passed++;
            console.log(`ok - [${label}] ${f} ${t.name}`);
          } catch (e) {
            failed++;
            const msg = String(e && e.stack ? e.stack : e);
            // Big values make assertion diffs huge: keep the head and tail.
            const short = msg.length > 3000 ? msg.slice(0, 1500) + ' ... ' + msg.slice(-1500) : msg;
            console.log(`FAIL - [${label}] ${f} ${t.name}: ${short}`);
          } finally {
            await tctx.close();
          }
        }
        await ctx.close();
      }
    } finally {
      await stopServer(srv);
    }
  }
  if (skipped) console.log(`${skipped} skipped`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log('runner error: ' + (e && e.stack ? e.stack : e));
  console.log('0 passed, 1 failed');
  process.exit(1);
});
