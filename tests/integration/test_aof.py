"""AOF end to end (docs/aof.md): the same script of writes run on Debian's
redis-server (--appendonly yes) and on cachebox yields the same incremental
AOF record by record (timestamps and random SPOP members normalised); our
appendonlydir loads into redis-server with the same DEBUG DIGEST and passes
redis-check-aof, theirs loads into cachebox; BGREWRITEAOF (RDB preamble and
plain commands) and CONFIG SET appendonly yes; crash safety under
appendfsync always (SIGKILL at random moments, every acknowledged write
survives) and everysec (at most about a second lost); torn tails with
aof-load-truncated yes/no and the corrupt fixtures in tests/fixtures/aof/;
a real disk-full (a small tmpfs, when mount is allowed): MISCONF under
everysec until space returns, exit under always (both also pass against
redis-server: CACHEBOX_BIN=/usr/bin/redis-server).
Run with /usr/bin/python3 (python3-redis).
"""
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from cbtest import DPDK, ROOT, Server

FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'aof')
CHECK_AOF = shutil.which('redis-check-aof') or '/usr/bin/redis-check-aof'
DEBUG = ['--enable-debug-command', 'yes']


def parse_aof(data):
    """Commands of an AOF text as lists of bytes (annotations skipped)."""
    out, pos = [], 0
    while pos < len(data):
        if data[pos:pos + 1] == b'#':
            pos = data.index(b'\n', pos) + 1
            continue
        assert data[pos:pos + 1] == b'*', (pos, data[pos:pos + 20])
        end = data.index(b'\r\n', pos)
        n = int(data[pos + 1:end])
        pos = end + 2
        cmd = []
        for _ in range(n):
            end = data.index(b'\r\n', pos)
            ln = int(data[pos + 1:end])
            pos = end + 2
            cmd.append(data[pos:pos + ln])
            pos += ln + 2
        out.append(cmd)
    return out


def normalise(cmds):
    """Absolute times differ between the runs; SPOP picks random members."""
    res = []
    for c in cmds:
        c = list(c)
        up = [a.upper() for a in c]
        if up[0] == b'SET' and b'PXAT' in up:
            i = up.index(b'PXAT')
            c[i + 1] = b'<ms>'
        if up[0] == b'PEXPIREAT':
            c[2] = b'<ms>'
        if up[0] == b'RESTORE' and b'ABSTTL' in up and c[2] != b'4102444800000':
            c[2] = b'<ms>'
        if up[0] == b'SREM' and len(c) == 3:
            c[2] = b'<member>'
        if up[0] in (b'XADD', b'XCLAIM', b'XGROUP'):
            # IDs the server chose from its clock, delivery times.
            c = [b'<id>' if re.fullmatch(rb'1\d{12}-\d+', a) else a for a in c]
            if b'TIME' in up:
                c[up.index(b'TIME') + 1] = b'<ms>'
        res.append(c)
    return res


def incr_files(d):
    adir = os.path.join(d, 'appendonlydir')
    man = open(os.path.join(adir, 'appendonly.aof.manifest')).read().split('\n')
    names = [l.split()[1] for l in man if l.endswith('type i')]
    return b''.join(open(os.path.join(adir, n), 'rb').read() for n in names)


def script(r, port_cli):
    """Writes of every type with the forms Redis 7.0 rewrites."""
    r.set('s1', 'v')
    r.set('s2', 'v', ex=100)
    r.set('s3', 'v', px=100000)
    r.set('s4', 'v', exat=4102444800)
    r.set('s5', 'v', keepttl=True)
    r.set('s6', 'v', get=True)
    r.set('s6', 'w', nx=True)           # no effect: no record
    r.setex('s7', 100, 'v')
    r.psetex('s8', 100000, 'v')
    r.expire('s1', 100)
    r.pexpire('s1', 100000)
    r.expireat('s1', 4102444800)
    r.expire('s1', 200, gt=True)
    r.getex('s2', ex=50)
    r.getex('s2', persist=True)
    r.getdel('s3')
    r.incr('n')
    r.incrbyfloat('f', 1.5)
    r.hset('h', mapping={'a': 1, 'b': 2})
    r.hincrbyfloat('h', 'a', 2.5)
    r.delete('nosuchkey')               # no effect
    r.sadd('set', *range(20))
    r.spop('set')
    r.spop('set', 3)
    r.sadd('small', 'x', 'y')
    r.spop('small', 5)
    r.rpush('l', 1, 2, 3, 4, 5)
    r.blpop(['l'], 0)
    r.brpop(['l'], 0)
    r.blmove('l', 'l2', 0, 'LEFT', 'RIGHT')
    r.brpoplpush('l', 'l2', 0)
    r.lmpop(1, 'l2', direction='LEFT', count=1)
    r.zadd('z', {'a': 1, 'b': 2, 'c': 3, 'd': 4})
    r.bzpopmin(['z'], 0)
    r.bzpopmax(['z'], 0)
    r.execute_command('BZMPOP', 0, 1, 'z', 'MIN', 'COUNT', 2)
    r.pfadd('hll', 'a', 'b')
    r.xadd('st', {'f': 'v'})
    r.xadd('st', {'f': 'v'}, maxlen=10, approximate=True)
    r.xadd('st', {'f': 'v'}, id='99999999999999-*')
    r.xadd('st', {'f': 'v'}, id='99999999999999-7')
    r.xtrim('st', maxlen=2, approximate=False)
    for i in range(250):
        r.xadd('big', {'f': 'v'}, id='%d-1' % (i + 1))
    r.xtrim('big', maxlen=10, approximate=True)
    r.xadd('big', {'f': 'v'}, minid='230-0', approximate=True)
    r.xtrim('big', minid='240-0', approximate=False)
    dump = r.dump('s1')
    r.restore('rs1', 10000, dump)
    r.restore('rs2', 0, dump)
    r.restore('rs3', 4102444800000, dump, absttl=True)
    r.restore('rs1', 5000, dump, replace=True, idletime=5)
    r.xgroup_create('st', 'g', id='0')
    r.xreadgroup('g', 'c1', {'st': '>'}, count=1)
    r.xreadgroup('g', 'c2', {'st': '>'}, count=1, noack=True)
    r.xreadgroup('g', 'c1', {'st': '>'})
    r.xreadgroup('g', 'c1', {'st': '0'})
    pend = r.xpending_range('st', 'g', '-', '+', 10)
    r.xclaim('st', 'g', 'c3', 0, [pend[0]['message_id']])
    r.xclaim('st', 'g', 'c3', 0, [pend[0]['message_id']], justid=True, idle=5000)
    r.xautoclaim('st', 'g', 'c4', 0, '0-0', count=5)
    r.execute_command('XCLAIM', 'st', 'g', 'c5', 0, '99999999999999-1', 'LASTID',
                      '99999999999999-9')
    r.setbit('bits', 7, 1)
    p = r.pipeline(transaction=True)
    p.set('m1', 1)
    p.incr('m1')
    p.get('m1')
    p.execute()
    p = r.pipeline(transaction=True)
    p.set('m2', 1)
    p.get('m2')
    p.execute()
    r.execute_command('SELECT', 2)
    r.set('db2', 'x')
    r.execute_command('SELECT', 0)
    # Lazy expiry only (the active cycle would delete these on its own).
    r.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 0)
    r.set('tmp', 'x', px=1)
    time.sleep(0.05)
    r.get('tmp')                        # lazy expiry: DEL
    r.set('tmp2', 'x', px=1)
    time.sleep(0.05)
    r.set('tmp2', 'y')                  # DEL + SET in MULTI
    r.execute_command('DEBUG', 'SET-ACTIVE-EXPIRE', 1)
    # Served blocking pops: the pusher's record, then the pop's.
    out = []

    def waiter(cmd):
        out.append(subprocess.run(port_cli + cmd, capture_output=True, timeout=10))

    for cmd, push in ((['BLPOP', 'bl', '0'], ('rpush', 'bl', 'x', 'y')),
                      (['BLMOVE', 'bl2', 'dst', 'left', 'right', '0'], ('rpush', 'bl2', 'x')),
                      (['BZPOPMAX', 'bz', '0'], ('zadd', 'bz', 1, 'a', 2, 'b'))):
        t = threading.Thread(target=waiter, args=(cmd,))
        t.start()
        deadline = time.time() + 5
        while r.info('clients')['blocked_clients'] < 1 and time.time() < deadline:
            time.sleep(0.01)
        r.execute_command(*push)
        t.join(5)
    r.flushdb()
    r.set('last', 'x')


class AofCompat(unittest.TestCase):
    def run_script(self, kind, extra=()):
        s = Server(kind, args=['--appendonly', 'yes', '--appendfsync', 'always'] + DEBUG +
                   list(extra))
        self.addCleanup(s.cleanup)
        r = s.redis()
        script(r, ['redis-cli', '-h', s.host, '-p', str(s.port)])
        time.sleep(0.2)
        return s, r

    def test_effects_match_redis(self):
        theirs, _ = self.run_script('redis')
        ours, _ = self.run_script('cachebox')
        a = normalise(parse_aof(incr_files(theirs.dir)))
        b = normalise(parse_aof(incr_files(ours.dir)))
        for i, (x, y) in enumerate(zip(a, b)):
            self.assertEqual(x, y, 'record %d differs: redis %r, cachebox %r' % (i, x, y))
        self.assertEqual(len(a), len(b))

    def test_effects_match_redis_lazyfree(self):
        # Deletions by expiry / GETDEL are recorded as UNLINK then.
        lazy = ['--lazyfree-lazy-expire', 'yes', '--lazyfree-lazy-user-del', 'yes']
        theirs, _ = self.run_script('redis', lazy)
        ours, _ = self.run_script('cachebox', lazy)
        a = normalise(parse_aof(incr_files(theirs.dir)))
        b = normalise(parse_aof(incr_files(ours.dir)))
        self.assertEqual(a, b)
        self.assertIn([b'UNLINK', b'tmp'], b)

    def test_effects_match_redis_three_workers(self):
        # Keys spread over three shards: the records still come out in
        # the order the commands ran (global sequence numbers).
        theirs, _ = self.run_script('redis')
        ours, _ = self.run_script('cachebox', ['--io-workers', 3])
        a = normalise(parse_aof(incr_files(theirs.dir)))
        b = normalise(parse_aof(incr_files(ours.dir)))
        self.assertEqual(a, b)

    def populate(self, r):
        r.set('str', 'v')
        r.set('ttl', 'v', px=3600000)
        r.rpush('list', *range(100))
        r.sadd('set', *['m%d' % i for i in range(50)])
        r.sadd('iset', *range(10))
        r.hset('hash', mapping={'f%d' % i: i for i in range(30)})
        r.zadd('zset', {'z%d' % i: i * 1.5 for i in range(40)})
        r.incrbyfloat('float', 3.25)
        r.xadd('stream', {'f': 'v'}, id='1-1')
        r.xadd('stream', {'f': 'w'}, id='2-1')
        r.xgroup_create('stream', 'grp', id='0')
        r.xreadgroup('grp', 'alice', {'stream': '>'}, count=1)
        r.execute_command('SELECT', 3)
        r.set('db3', 'x')
        r.execute_command('SELECT', 0)

    def check_loads_into(self, src, kind):
        digest = src.redis().execute_command('DEBUG', 'DIGEST')
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copytree(os.path.join(src.dir, 'appendonlydir'), os.path.join(d, 'appendonlydir'))
        rc = subprocess.run([CHECK_AOF, os.path.join(d, 'appendonlydir',
                                                     'appendonly.aof.manifest')],
                            capture_output=True, text=True)
        self.assertEqual(rc.returncode, 0, rc.stdout + rc.stderr)
        dst = Server(kind, args=['--appendonly', 'yes', '--dir', d] + DEBUG)
        self.addCleanup(dst.cleanup)
        self.assertEqual(dst.redis().execute_command('DEBUG', 'DIGEST'), digest)

    def test_our_dir_loads_into_redis(self):
        ours = Server('cachebox', args=['--appendonly', 'yes'] + DEBUG)
        self.addCleanup(ours.cleanup)
        r = ours.redis()
        self.populate(r)
        self.check_loads_into(ours, 'redis')

    def test_our_rewritten_dir_loads_into_redis(self):
        for preamble in ('yes', 'no'):
            ours = Server('cachebox', args=['--appendonly', 'yes', '--aof-use-rdb-preamble',
                                            preamble] + DEBUG)
            self.addCleanup(ours.cleanup)
            r = ours.redis()
            self.populate(r)
            self.assertEqual(r.bgrewriteaof(), True)
            deadline = time.time() + 10
            while time.time() < deadline:
                info = r.info('persistence')
                if info['aof_rewrites'] >= 1 and not info['aof_rewrite_in_progress']:
                    break
                time.sleep(0.05)
            r.set('after_rewrite', 1)
            names = sorted(os.listdir(os.path.join(ours.dir, 'appendonlydir')))
            ext = 'rdb' if preamble == 'yes' else 'aof'
            self.assertEqual(names, ['appendonly.aof.2.base.' + ext,
                                     'appendonly.aof.2.incr.aof', 'appendonly.aof.manifest'])
            self.check_loads_into(ours, 'redis')
            self.check_loads_into(ours, 'cachebox')

    def test_stream_base_as_commands_matches_redis(self):
        def base_of(kind):
            s = Server(kind, args=['--appendonly', 'yes', '--aof-use-rdb-preamble', 'no'] + DEBUG)
            self.addCleanup(s.cleanup)
            r = s.redis()
            for i in range(1, 6):
                r.xadd('st', {'f': i, 'g': 'x'}, id='%d-1' % i)
            r.xdel('st', '5-1')
            r.xgroup_create('st', 'g1', id='0')
            r.xgroup_create('st', 'g2', id='$')
            r.xreadgroup('g1', 'alice', {'st': '>'}, count=2)
            r.xreadgroup('g1', 'bob', {'st': '>'}, count=1)
            r.xgroup_createconsumer('st', 'g2', 'idle')
            r.xadd('empty', {'a': 1}, id='7-7')
            r.xdel('empty', '7-7')
            r.bgrewriteaof()
            deadline = time.time() + 10
            while time.time() < deadline:
                info = r.info('persistence')
                if info['aof_rewrites'] >= 1 and not info['aof_rewrite_in_progress']:
                    break
                time.sleep(0.05)
            time.sleep(0.2)
            d = os.path.join(s.dir, 'appendonlydir')
            man = open(os.path.join(d, 'appendonly.aof.manifest')).read().split('\n')
            base = [l.split()[1] for l in man if l.endswith('type b')][0]
            self.assertTrue(base.endswith('.base.aof'), base)
            cmds = parse_aof(open(os.path.join(d, base), 'rb').read())
            if kind == 'cachebox':
                self.check_loads_into(s, 'redis')
                self.check_loads_into(s, 'cachebox')
            for c in cmds:
                if c[0] == b'XCLAIM':
                    c[7] = b'<ms>'
            # One key after the other: compare per key, in a fixed order.
            return sorted(cmds, key=lambda c: (c[1] if len(c) > 1 else b'', cmds.index(c)))
        self.assertEqual(base_of('cachebox'), base_of('redis'))

    def test_their_dir_loads_into_cachebox(self):
        theirs = Server('redis', args=['--appendonly', 'yes'] + DEBUG)
        self.addCleanup(theirs.cleanup)
        r = theirs.redis()
        self.populate(r)
        time.sleep(1.2)  # everysec
        self.check_loads_into(theirs, 'cachebox')

    def test_info_fields_match_redis(self):
        def aof_lines(kind, extra):
            s = Server(kind, args=list(extra))
            try:
                text = subprocess.run(['redis-cli', '-h', s.host, '-p', str(s.port), 'INFO',
                                       'persistence'], capture_output=True, text=True).stdout
            finally:
                s.cleanup()
            return [l.strip() for l in text.split('\n')
                    if l.startswith(('aof_', 'module_fork_'))]
        for extra in ([], ['--appendonly', 'yes']):
            self.assertEqual(aof_lines('cachebox', extra), aof_lines('redis', extra))

    def test_auto_rewrite(self):
        s = Server('cachebox', args=['--appendonly', 'yes', '--auto-aof-rewrite-min-size', '4kb',
                                     '--auto-aof-rewrite-percentage', '0'] + DEBUG)
        self.addCleanup(s.cleanup)
        r = s.redis()
        for i in range(300):
            r.set('k', 'x' * 100)  # the same key: a rewrite shrinks the files
        # Turned on once the writes are done: a rewrite runs while writers
        # keep writing (their writes go to the new incremental file), so
        # only a quiet data set gives a size to check.
        r.config_set('auto-aof-rewrite-percentage', 100)
        deadline = time.time() + 10
        while time.time() < deadline:
            info = r.info('persistence')
            if info['aof_rewrites'] >= 1 and not info['aof_rewrite_in_progress']:
                break
            time.sleep(0.05)
        info = r.info('persistence')
        self.assertGreaterEqual(info['aof_rewrites'], 1)
        self.assertLess(info['aof_current_size'], 4096)
        self.assertIn('Starting automatic rewriting of AOF on', s.log())
        self.check_loads_into(s, 'redis')

    def test_config_set_appendonly(self):
        s = Server('cachebox', args=DEBUG)
        self.addCleanup(s.cleanup)
        r = s.redis()
        self.populate(r)
        self.assertEqual(r.info('persistence')['aof_enabled'], 0)
        r.config_set('appendonly', 'yes')
        deadline = time.time() + 10
        while not os.path.exists(os.path.join(s.dir, 'appendonlydir', 'appendonly.aof.manifest')) \
                and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        r.set('after', 'on')
        self.assertEqual(r.info('persistence')['aof_enabled'], 1)
        self.check_loads_into(s, 'cachebox')
        self.check_loads_into(s, 'redis')


def restart(d, extra=()):
    return Server('cachebox', args=['--appendonly', 'yes', '--dir', d] + list(extra))


class AofCrash(unittest.TestCase):
    def writer_run(self, s, acked, stop, tid):
        import redis
        r = redis.Redis(host=s.host, port=s.port, socket_timeout=5)
        i = 0
        while not stop.is_set():
            k = 'w%d:%d' % (tid, i)
            try:
                r.set(k, i)
            except Exception:
                return
            acked.append((k, time.time()))
            i += 1

    def kill_round(self, d, fsync, seconds, nwriters=4, workers=1):
        s = restart(d, ['--appendfsync', fsync, '--io-workers', workers])
        acked, stop = [], threading.Event()
        ts = [threading.Thread(target=self.writer_run, args=(s, acked, stop, t))
              for t in range(nwriters)]
        for t in ts:
            t.start()
        time.sleep(seconds)
        s.proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        s.proc.wait(5)
        stop.set()
        for t in ts:
            t.join(10)
        s.cleanup()
        return acked, killed_at

    def present(self, d, keys):
        s = restart(d)
        try:
            r = s.redis()
            p = r.pipeline(transaction=False)
            for k in keys:
                p.exists(k)
            return [k for k, e in zip(keys, p.execute()) if e]
        finally:
            s.cleanup()

    def test_always_keeps_every_acked_write(self):
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        all_acked = []
        rnd = random.Random(7)
        for rnd_i in range(20):
            # Every other round with two workers (records from two rings).
            acked, _ = self.kill_round(d, 'always', rnd.uniform(0.05, 0.3),
                                       workers=1 + rnd_i % 2)
            # Keys are unique per round: prefix them with the round.
            all_acked += acked
            keys = [k for k, _ in acked]
            got = set(self.present(d, keys))
            missing = [k for k in keys if k not in got]
            self.assertEqual(missing, [], 'round %d: %d acked writes lost' % (rnd_i, len(missing)))
            # Next round's writers reuse names: clear them out.
            s = restart(d)
            s.redis().flushall()
            s.cleanup()
        self.assertGreater(len(all_acked), 100)

    def test_everysec_loses_at_most_about_a_second(self):
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        acked, killed_at = self.kill_round(d, 'everysec', 2.0, nwriters=2)
        got = set(self.present(d, [k for k, _ in acked]))
        lost = [(k, t) for k, t in acked if k not in got]
        if lost:
            oldest = min(t for _, t in lost)
            self.assertGreater(oldest, killed_at - 1.5, '%d writes lost' % len(lost))


class AofDiskFull(unittest.TestCase):
    """A real ENOSPC: a small tmpfs (needs root; skipped otherwise)."""

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix='cbaof-fs-')
        rc = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', self.mnt],
                            capture_output=True)
        if rc.returncode != 0:
            os.rmdir(self.mnt)
            self.skipTest('cannot mount a tmpfs here')
        # Registered first, so it runs after the servers' cleanups (LIFO).
        self.addCleanup(self.unmount)
        # A filler we delete to give the space back.
        with open(os.path.join(self.mnt, 'filler'), 'wb') as f:
            f.write(b'x' * 200 * 1024)

    def unmount(self):
        subprocess.run(['umount', self.mnt], capture_output=True)
        shutil.rmtree(self.mnt, True)

    def fill(self, r):
        """Writes until one is refused; the number acknowledged."""
        import redis
        n = 0
        for i in range(10000):
            try:
                r.set('k%d' % i, 'v' * 200)
            except redis.exceptions.ResponseError as e:
                return n, str(e)
            except redis.exceptions.ConnectionError as e:
                return n, 'closed'
            except redis.exceptions.TimeoutError:
                # On the DPDK plane the connections die with the process's
                # own stack: no FIN reaches the client, which times out.
                if DPDK:
                    return n, 'closed'
                raise
            n += 1
        return n, None

    def test_everysec_refuses_writes_until_space_returns(self):
        s = restart(self.mnt, ['--appendfsync', 'everysec'])
        self.addCleanup(s.cleanup)
        r = s.redis()
        n, err = self.fill(r)
        self.assertGreater(n, 10)
        self.assertEqual(err, 'MISCONF Errors writing to the AOF file: No space left on device')
        self.assertEqual(r.info('persistence')['aof_last_write_status'], 'err')
        self.assertEqual(r.get('k0'), b'v' * 200)  # reads still work
        os.unlink(os.path.join(self.mnt, 'filler'))
        deadline = time.time() + 5
        while r.info('persistence')['aof_last_write_status'] != 'ok' and time.time() < deadline:
            time.sleep(0.05)
        r.set('after', 1)
        self.assertIn('AOF write error looks solved', s.log())
        s.cleanup()
        s = restart(self.mnt)
        self.addCleanup(s.cleanup)
        r = s.redis()
        self.assertEqual(r.get('after'), b'1')
        for i in range(n):
            self.assertEqual(r.exists('k%d' % i), 1, i)

    def test_always_exits_rather_than_acknowledge(self):
        s = restart(self.mnt, ['--appendfsync', 'always'])
        self.addCleanup(s.cleanup)
        n, err = self.fill(s.redis(socket_timeout=3))
        self.assertEqual(err, 'closed')
        self.assertEqual(s.proc.wait(10), 1)
        self.assertIn("when the AOF fsync policy is 'always'", s.log())
        os.unlink(os.path.join(self.mnt, 'filler'))
        s2 = restart(self.mnt)
        self.addCleanup(s2.cleanup)
        r = s2.redis()
        for i in range(n):
            self.assertEqual(r.exists('k%d' % i), 1, i)


class AofDamage(unittest.TestCase):
    def make_dir(self):
        s = Server('cachebox', args=['--appendonly', 'yes'])
        r = s.redis()
        for i in range(10):
            r.set('k%d' % i, i)
        s.stop()
        self.addCleanup(shutil.rmtree, s.dir, True)
        return s.dir, os.path.join(s.dir, 'appendonlydir', 'appendonly.aof.1.incr.aof')

    def start_fails(self, d, extra=()):
        s = Server('cachebox', args=['--appendonly', 'yes', '--dir', d] + list(extra), wait=False)
        try:
            rc = s.proc.wait(10)
        except subprocess.TimeoutExpired:
            s.cleanup()
            self.fail('server started on a damaged AOF')
        log = s.log()
        s.cleanup()
        return rc, log

    def test_torn_tail(self):
        d, incr = self.make_dir()
        good = os.path.getsize(incr)
        with open(incr, 'ab') as f:
            f.write(b'*3\r\n$3\r\nset\r\n$2\r\nk9')
        rc, log = self.start_fails(d, ['--aof-load-truncated', 'no'])
        self.assertNotEqual(rc, 0)
        self.assertIn('Unexpected end of file reading the append only file', log)
        s = restart(d, ['--aof-load-truncated', 'yes'])
        try:
            self.assertEqual(s.redis().get('k9'), b'9')
            self.assertIn('loaded anyway because aof-load-truncated is enabled', s.log())
        finally:
            s.cleanup()
        self.assertEqual(os.path.getsize(incr), good)

    def test_replay_ignores_deadlines(self):
        # As in Redis, a replayed write sees a key whose time has passed
        # since: APPEND extends it (keeping its TTL) rather than start anew.
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        s = restart(d, DEBUG)
        r = s.redis()
        r.set('k', 'v', px=400)
        r.append('k', 'x')
        r.rpush('l', 'a')
        r.pexpire('l', 400)
        r.rpush('l', 'b')
        s.cleanup()
        time.sleep(0.5)
        s = restart(d, DEBUG)
        try:
            r = s.redis()
            self.assertIsNone(r.get('k'))
            self.assertEqual(r.exists('l'), 0)
        finally:
            s.cleanup()
        th = Server('redis', args=['--appendonly', 'yes', '--dir', d])
        try:
            self.assertIsNone(th.redis().get('k'))
        finally:
            th.cleanup()

    def test_torn_multi_is_dropped(self):
        d, incr = self.make_dir()
        with open(incr, 'ab') as f:
            f.write(b'*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nset\r\n$2\r\nk0\r\n$1\r\nX\r\n')
        s = restart(d)
        try:
            self.assertEqual(s.redis().get('k0'), b'0')
        finally:
            s.cleanup()

    def test_corrupt_fixtures_refused(self):
        for name in sorted(os.listdir(FIXTURES)):
            if not name.startswith('corrupt'):
                continue
            d = tempfile.mkdtemp(prefix='cbaof-')
            self.addCleanup(shutil.rmtree, d, True)
            shutil.copytree(os.path.join(FIXTURES, name), os.path.join(d, 'appendonlydir'))
            rc, log = self.start_fails(d, ['--aof-load-truncated', 'yes'])
            self.assertNotEqual(rc, 0, name)
            self.assertTrue('Bad file format' in log or 'Invalid AOF manifest' in log or
                            'Fatal error' in log or "doesn't exist" in log, name + '\n' + log)

    def test_check_aof_tool(self):
        tool = os.path.join(ROOT, 'build', 'cachebox-check-aof')
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        adir = os.path.join(d, 'appendonlydir')
        shutil.copytree(os.path.join(FIXTURES, 'redis70'), adir)
        man = os.path.join(adir, 'appendonly.aof.manifest')
        incr = os.path.join(adir, 'appendonly.aof.2.incr.aof')
        run = lambda *a, inp='': subprocess.run([tool] + list(a), input=inp, text=True,
                                                capture_output=True)
        self.assertEqual(run(man).returncode, 0)
        good = os.path.getsize(incr)
        with open(incr, 'ab') as f:
            f.write(b'*3\r\n$3\r\nset\r\n$1')
        r = run(man)
        self.assertEqual(r.returncode, 1)
        self.assertIn('ok_up_to=%d' % good, r.stdout)
        self.assertIn('0x%16x: truncated' % good, r.stdout)
        r = run('--fix', man, inp='n\n')
        self.assertEqual(r.returncode, 1)
        self.assertGreater(os.path.getsize(incr), good)
        r = run('--fix', man, inp='y\n')
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(os.path.getsize(incr), good)
        self.assertEqual(os.path.getsize(incr + '.bak'), good + 15)
        # The fixed directory is accepted by redis-check-aof too.
        self.assertEqual(subprocess.run([CHECK_AOF, man], capture_output=True).returncode, 0)
        bad = os.path.join(FIXTURES, 'corrupt_middle', 'appendonly.aof.manifest')
        r = run(bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("expected '$'", r.stdout)

    def test_old_style_aof_is_upgraded(self):
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, 'appendonly.aof'), 'wb') as f:
            f.write(b'*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nset\r\n$3\r\nold\r\n'
                    b'$5\r\nstyle\r\n')
        s = restart(d)
        try:
            r = s.redis()
            self.assertEqual(r.get('old'), b'style')
            r.set('new', 'one')
        finally:
            s.cleanup()
        adir = os.path.join(d, 'appendonlydir')
        self.assertEqual(open(os.path.join(adir, 'appendonly.aof.manifest')).read(),
                         'file appendonly.aof seq 1 type b\n'
                         'file appendonly.aof.1.incr.aof seq 1 type i\n')
        self.assertFalse(os.path.exists(os.path.join(d, 'appendonly.aof')))
        th = Server('redis', args=['--appendonly', 'yes', '--dir', d])
        try:
            self.assertEqual(th.redis().mget('old', 'new'), [b'style', b'one'])
        finally:
            th.cleanup()

    def test_redis_fixture_loads(self):
        d = tempfile.mkdtemp(prefix='cbaof-')
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copytree(os.path.join(FIXTURES, 'redis70'), os.path.join(d, 'appendonlydir'))
        s = restart(d)
        try:
            r = s.redis()
            self.assertEqual(r.get('str'), b'hello')
            self.assertEqual(r.lrange('list', 0, -1), [b'a', b'b', b'c'])
            self.assertEqual(r.hget('hash', 'f'), b'v')
        finally:
            s.cleanup()


if __name__ == '__main__':
    unittest.main()
