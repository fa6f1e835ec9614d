r"""run_diff — the differential test: sends every command of tests/diff/*.cmds
to Debian's redis-server 7.0 (the oracle) and to cachebox, both started here
on free ports, and compares the raw reply bytes.

Corpus format (one command per line, as typed in redis-cli):
  tokens separated by spaces; "double quoted" tokens understand \\ \" \n \r
  \t \xHH; 'single quoted' tokens are literal; lines starting with # are
  comments. Directives:
    @resp 2|3        switch both connections with HELLO (reply not compared)
    @unordered       the next command's reply is compared as a multiset
                     (aggregates sorted recursively)
    @skip <reason>   the next command is sent to both but not compared
    @flush           FLUSHALL on both
    @noerror <cmd> <reason>  the coverage check does not ask for an error
                     case for <cmd> (a command that cannot fail)
Every file starts from FLUSHALL, SELECT 0 and RESP2.

Coverage: every command named in tools/commands.txt (else COMMAND LIST from
cachebox) needs at least one corpus line, one under RESP3 and one whose
oracle reply is an error. Prints per-file counts, each mismatch, the
excluded lines with their reasons and a final "N passed, N failed" line;
exit status 1 on any mismatch or coverage gap.
Usage: /usr/bin/python3 tests/diff/run_diff.py [file.cmds ...] [--no-coverage]
"""
import collections
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))
import cbtest  # noqa: E402

ORACLE_ARGS = ('--enable-debug-command', 'yes')
CACHEBOX_ARGS = ('--enable-debug-command', 'yes')
# CACHEBOX_EXTRA_ARGS="--io-workers 3" runs the corpus against several shards.
CACHEBOX_ARGS += tuple(os.environ.get('CACHEBOX_EXTRA_ARGS', '').split())
# ORACLE_EXTRA_ARGS: the same for the oracle (e.g. "--protected-mode no" to
# match a cachebox started elsewhere, see CBTEST_CACHEBOX_ADDR in cbtest.py).
ORACLE_ARGS += tuple(os.environ.get('ORACLE_EXTRA_ARGS', '').split())


def tokenize(line):
    """Splits a line like redis-cli does (sdssplitargs); None on bad quoting."""
    out = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in ' \t':
            i += 1
        if i >= n:
            return out
        tok = bytearray()
        if line[i] == '"':
            i += 1
            while True:
                if i >= n:
                    return None
                ch = line[i]
                if ch == '\\' and i + 1 < n:
                    nx = line[i + 1]
                    if nx == 'x' and i + 3 < n:
                        try:
                            tok.append(int(line[i + 2:i + 4], 16))
                            i += 4
                            continue
                        except ValueError:
                            pass
                    tok += {'n': b'\n', 'r': b'\r', 't': b'\t', 'b': b'\b', 'a': b'\a'}.get(
                        nx, nx.encode())
                    i += 2
                elif ch == '"':
                    i += 1
                    if i < n and line[i] not in ' \t':
                        return None
                    break
                else:
                    tok += ch.encode()
                    i += 1
        elif line[i] == "'":
            i += 1
            while True:
                if i >= n:
                    return None
                ch = line[i]
                if ch == '\\' and i + 1 < n and line[i + 1] == "'":
                    tok += b"'"
                    i += 2
                elif ch == "'":
                    i += 1
                    if i < n and line[i] not in ' \t':
                        return None
                    break
                else:
                    tok += ch.encode()
                    i += 1
        else:
            while i < n and line[i] not in ' \t':
                tok += line[i].encode()
                i += 1
        out.append(bytes(tok))


def canon(raw):
    """Canonical bytes of a reply for multiset comparison: every aggregate's
    elements (map pairs as units) are sorted, recursively."""
    def walk(b, pos):
        t = b[pos:pos + 1]
        eol = b.index(b'\r\n', pos)
        head = b[pos + 1:eol]
        end = eol + 2
        if t in (b'$', b'!', b'=') and int(head) >= 0:
            end += int(head) + 2
            return b[pos:end], end
        if t in (b'*', b'~', b'>', b'%', b'|') and int(head) >= 0:
            items = []
            per = 2 if t in (b'%', b'|') else 1
            for _ in range(int(head)):
                unit = b''
                for _ in range(per):
                    v, end = walk(b, end)
                    unit += v
                items.append(unit)
            items.sort()
            return b[pos:eol + 2] + b''.join(items), end
        return b[pos:end], end
    return walk(raw, 0)[0]


def parse_file(path):
    """Yields (lineno, kind, payload, flags) with kind 'cmd'/'resp'/'flush'."""
    pending = {}
    with open(path, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip('\n')
            s = line.strip()
            if not s or s.startswith('#'):
                continue
            if s.startswith('@'):
                word, _, rest = s.partition(' ')
                if word == '@resp':
                    yield lineno, 'resp', rest.strip(), {}
                elif word == '@flush':
                    yield lineno, 'flush', None, {}
                elif word == '@noerror':
                    cmd, _, why = rest.strip().partition(' ')
                    yield lineno, 'noerror', (cmd.lower(), why.strip() or '(no reason given)'), {}
                elif word == '@unordered':
                    pending['unordered'] = True
                elif word == '@skip':
                    pending['skip'] = rest.strip() or '(no reason given)'
                else:
                    raise SystemExit('%s:%d: unknown directive %s' % (path, lineno, word))
                continue
            args = tokenize(s)
            if not args:
                raise SystemExit('%s:%d: cannot tokenize %r' % (path, lineno, line))
            yield lineno, 'cmd', args, pending
            pending = {}


def show(b, limit=600):
    r = repr(b)
    return r if len(r) <= limit else r[:limit] + '...(%d bytes)' % len(b)


class Side:
    def __init__(self, server):
        self.server = server
        self.conn = None
        self.reconnect()

    def reconnect(self):
        if self.conn:
            self.conn.close()
        self.conn = self.server.raw(timeout=10)

    def call(self, args):
        """Reply bytes, or a marker when the connection dropped."""
        try:
            return self.conn.cmd(*args)
        except cbtest.ConnectionClosed as e:
            self.reconnect()
            return b'<connection closed: %s>' % str(e).encode()
        except OSError as e:
            self.reconnect()
            return b'<socket error: %s>' % str(e).encode()


def reset(sides):
    for s in sides:
        s.reconnect()
        for cmd in (('HELLO', '2'), ('SELECT', '0'), ('FLUSHALL',)):
            s.call(cmd)


def command_list(cachebox):
    path = os.path.join(ROOT, 'tools', 'commands.txt')
    names = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    names.append(line.split()[0].lower())
        return names, path
    reply = cbtest.parse(cachebox.call(('COMMAND', 'LIST')))
    if isinstance(reply, list):
        return [n.decode().lower() for n in reply if isinstance(n, bytes)], 'COMMAND LIST'
    return [], 'nothing (COMMAND LIST failed)'


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    coverage = '--no-coverage' not in sys.argv
    files = args or sorted(glob.glob(os.path.join(HERE, '*.cmds')))
    if not files:
        print('diff: no corpus files')
        print('0 passed, 1 failed')
        return 1
    oracle = cbox = None
    total_pass = total_fail = 0
    skipped = collections.Counter()
    mismatches = []
    noerror = {}
    seen = collections.defaultdict(lambda: {'any': 0, 'resp3': 0, 'error': 0})
    try:
        oracle = cbtest.Server('redis', args=ORACLE_ARGS)
        cbox = cbtest.Server('cachebox', args=CACHEBOX_ARGS)
        sides = [Side(oracle), Side(cbox)]
        for path in files:
            name = os.path.relpath(path, ROOT)
            reset(sides)
            resp = 2
            fp = ff = fs = 0
            for lineno, kind, payload, flags in parse_file(path):
                if kind == 'resp':
                    resp = int(payload)
                    for s in sides:
                        s.call(('HELLO', payload))
                    continue
                if kind == 'noerror':
                    noerror[payload[0]] = payload[1]
                    continue
                if kind == 'flush':
                    for s in sides:
                        s.call(('FLUSHALL',))
                    continue
                a, b = (s.call(payload) for s in sides)
                cname = payload[0].decode('latin-1').lower()
                if cname in ('hello',) and payload[1:2]:
                    try:
                        resp = int(payload[1]) if a[:1] in b'*%' else resp
                    except ValueError:
                        pass
                keys = [cname]
                if len(payload) > 1:
                    keys.append(cname + '|' + payload[1].decode('latin-1').lower())
                for key in keys:
                    st = seen[key]
                    st['any'] += 1
                    if resp == 3:
                        st['resp3'] += 1
                    if a[:1] == b'-':
                        st['error'] += 1
                if 'skip' in flags:
                    fs += 1
                    skipped[flags['skip']] += 1
                    continue
                same = canon(a) == canon(b) if flags.get('unordered') else a == b
                if same:
                    fp += 1
                else:
                    ff += 1
                    mismatches.append('%s:%d: %s\n    redis:    %s\n    cachebox: %s' % (
                        name, lineno, b' '.join(payload)[:200].decode('latin-1'), show(a), show(b)))
                if not cbox.alive():
                    mismatches.append('%s:%d: cachebox DIED\n%s' % (name, lineno, cbox.log()[-3000:]))
                    ff += 1
                    break
            print('%-28s %4d passed, %3d failed, %3d skipped' % (name, fp, ff, fs))
            total_pass += fp
            total_fail += ff
            if not cbox.alive():
                break
        missing = []
        if coverage and cbox.alive():
            names, source = command_list(sides[1])
            for n in names:
                st = seen.get(n)
                lack = []
                if not st or not st['any']:
                    lack.append('no corpus line')
                else:
                    if not st['resp3']:
                        lack.append('no RESP3 line')
                    if not st['error'] and n not in noerror:
                        lack.append('no error case')
                if lack:
                    missing.append('%s: %s' % (n, ', '.join(lack)))
            print('coverage: %d commands from %s, %d incomplete' % (len(names), source, len(missing)))
    finally:
        for srv in (oracle, cbox):
            if srv is not None:
                srv.cleanup()
    for m in mismatches:
        print('MISMATCH ' + m)
    if skipped:
        print('excluded from comparison: %d lines' % sum(skipped.values()))
        for reason, n in sorted(skipped.items()):
            print('  %4d  %s' % (n, reason))
    for n, why in sorted(noerror.items()):
        print('no error case possible for %s: %s' % (n, why))
    for m in missing:
        print('COVERAGE ' + m)
    if missing:
        total_fail += 1
    print('%d passed, %d failed' % (total_pass, total_fail))
    return 1 if total_fail else 0


if __name__ == '__main__':
    sys.exit(main())
