"""Wire-protocol tests: RESP2/RESP3 framing, inline commands, deep
pipelines, big arguments arriving in many small writes, and malformed or
oversized input (exact "-ERR Protocol error: ..." texts, the connection is
closed, the server keeps answering). Run against cachebox and the oracle.
"""
import socket
import time

from cbtest import RawConn, encode_command, for_kinds, parse, Server

DEBUG_DENIED = (b'-ERR DEBUG command not allowed. If the enable-debug-command option is set to '
                b'"local", you can run it from a local connection, otherwise you need to set this '
                b'option in the configuration file, and then restart the server.\r\n')


class _Framing:
    def test_inline_commands(self):
        c = self.raw()
        self.assertEqual(c.inline('PING'), b'+PONG\r\n')
        self.assertEqual(c.inline('set k "hello world"'), b'+OK\r\n')
        self.assertEqual(c.inline("get 'k'"), b'$11\r\nhello world\r\n')
        self.assertEqual(c.inline(r'set k2 "a\x41\n"'), b'+OK\r\n')
        self.assertEqual(c.inline('get k2'), b'$3\r\naA\n\r\n')
        # Bare \n terminates, empty lines are ignored.
        c.send(b'\r\n  \r\nPING\n')
        self.assertEqual(c.read_reply(), b'+PONG\r\n')

    def test_pipeline_10000(self):
        c = self.raw(timeout=20)
        n = 10000
        payload = b''.join(encode_command('INCR', 'ctr') for _ in range(n))
        c.send(payload)
        for i in range(1, n + 1):
            self.assertEqual(c.read_reply(), b':%d\r\n' % i)
        self.assertEqual(c.cmd('PING'), b'+PONG\r\n')

    def test_mixed_inline_and_multibulk_pipeline(self):
        c = self.raw()
        c.send(b'PING\r\n' + encode_command('ECHO', 'x') + b'ECHO y\r\n' + encode_command('PING'))
        self.assertEqual([c.read_reply() for _ in range(4)],
                         [b'+PONG\r\n', b'$1\r\nx\r\n', b'$1\r\ny\r\n', b'+PONG\r\n'])

    def test_big_value_in_small_writes(self):
        size = 64 * 1024 * 1024
        value = (b'0123456789abcdef' * (size // 16))
        c = self.raw(timeout=60)
        msg = encode_command(b'SET', b'big', value)
        step = 61 * 1024  # odd-sized writes so headers and CRLFs straddle
        for off in range(0, len(msg), step):
            c.send(msg[off:off + step])
        self.assertEqual(c.read_reply(), b'+OK\r\n')
        self.assertEqual(c.cmd('STRLEN', 'big'), b':%d\r\n' % size)
        c.send(encode_command('GET', 'big'))
        reply = c.read_reply()
        self.assertEqual(reply, b'$%d\r\n' % size + value + b'\r\n')
        self.assertEqual(c.cmd('DEL', 'big'), b':1\r\n')

    def test_byte_at_a_time(self):
        c = self.raw()
        for b in encode_command('SET', 'k', 'v' * 100) + b'GET k\r\n':
            c.send(bytes([b]))
        self.assertEqual(c.read_reply(), b'+OK\r\n')
        self.assertEqual(c.read_reply(), b'$100\r\n' + b'v' * 100 + b'\r\n')

    def test_empty_and_null_multibulk(self):
        c = self.raw()
        c.send(b'*0\r\n*-1\r\n' + encode_command('PING'))
        self.assertEqual(c.read_reply(), b'+PONG\r\n')

    def test_resp3_types(self):
        c = self.raw()
        hello = parse(c.cmd('HELLO', '3'))
        d = dict(hello)
        self.assertEqual(d[b'proto'], 3)
        self.assertEqual(c.cmd('GET', 'nokey'), b'_\r\n')
        c.cmd('SET', 'f', '1.5')
        self.assertEqual(c.cmd('INCRBYFLOAT', 'f', '1'), b'$3\r\n2.5\r\n')
        self.assertEqual(c.cmd('CONFIG', 'GET', 'maxmemory-policy'),
                         b'%1\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n')
        self.assertEqual(c.cmd('HELLO', '2')[:3], b'*14')
        self.assertEqual(c.cmd('GET', 'nokey'), b'$-1\r\n')
        self.assertEqual(c.cmd('CONFIG', 'GET', 'maxmemory-policy'),
                         b'*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n')


class _Malformed:
    CASES = [
        (b'*abc\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*3000000000\r\n', b'-ERR Protocol error: invalid multibulk length\r\n'),
        (b'*1\r\n$x\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$-5\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\n$600000000\r\n', b'-ERR Protocol error: invalid bulk length\r\n'),
        (b'*1\r\nx\r\n', b"-ERR Protocol error: expected '$', got 'x'\r\n"),
        (b'set "a b\r\n', b'-ERR Protocol error: unbalanced quotes in request\r\n'),
        (b"set 'a b\r\n", b'-ERR Protocol error: unbalanced quotes in request\r\n'),
        (b'"\r\n', b'-ERR Protocol error: unbalanced quotes in request\r\n'),
        (b'x' * 70000, b'-ERR Protocol error: too big inline request\r\n'),
        (b'*' + b'1' * 70000, b'-ERR Protocol error: too big mbulk count string\r\n'),
        (b'*1\r\n$' + b'1' * 70000, b'-ERR Protocol error: too big bulk count string\r\n'),
    ]

    def test_malformed_inputs(self):
        for data, err in self.CASES:
            with self.subTest(data=data[:30]):
                c = self.server.raw(timeout=5)
                try:
                    # A good command first: it must be answered before the error.
                    c.send(b'PING\r\n' + data)
                    self.assertEqual(c.read_reply(), b'+PONG\r\n')
                    got = c.read_until_closed(5)
                    self.assertEqual(got, err)
                finally:
                    c.close()
                with self.server.raw() as ok:
                    self.assertEqual(ok.cmd('PING'), b'+PONG\r\n')
        self.assertTrue(self.server.alive())

    def test_random_garbage_keeps_server_up(self):
        import random
        rnd = random.Random(1234)
        for i in range(200):
            c = self.server.raw(timeout=5)
            try:
                blob = bytes(rnd.choice(b'*$\r\n-0123456789abc "\'\\x') for _ in range(rnd.randint(1, 300)))
                c.send(blob)
                c.sock.shutdown(socket.SHUT_WR)
                try:
                    c.read_until_closed(5)
                except (socket.timeout, TimeoutError):
                    self.fail('server neither answered nor closed for %r' % blob)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                c.close()
        with self.server.raw() as ok:
            self.assertEqual(ok.cmd('PING'), b'+PONG\r\n')

    def test_debug_denied_by_default(self):
        c = self.raw()
        self.assertEqual(c.cmd('DEBUG', 'SLEEP', '0'), DEBUG_DENIED)


class _Limits:
    SERVER_ARGS = ('--client-query-buffer-limit', '1mb', '--proto-max-bulk-len', '2mb')

    def test_proto_max_bulk_len(self):
        c = self.raw()
        c.send(b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n' % (2 * 1024 * 1024 + 1))
        self.assertEqual(c.read_until_closed(5), b'-ERR Protocol error: invalid bulk length\r\n')
        with self.server.raw() as c2:
            self.assertEqual(c2.cmd('SET', 'k', b'v' * (512 * 1024)), b'+OK\r\n')

    def test_query_buffer_limit(self):
        c = self.raw(timeout=10)
        # One argument of 1.5 MB, under proto-max-bulk-len but over the
        # 1 MB query buffer limit: the client is dropped before it completes.
        size = 1536 * 1024
        try:
            c.send(b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n' % size)
            for _ in range(size // 65536 - 1):
                c.send(b'x' * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertTrue(c.is_closed(5), 'client over client-query-buffer-limit not closed')
        with self.server.raw() as c2:
            self.assertEqual(c2.cmd('PING'), b'+PONG\r\n')
            self.assertEqual(c2.cmd('EXISTS', 'k'), b':0\r\n')
        self.assertTrue(self.server.alive())


globals().update(for_kinds(_Framing))
globals().update(for_kinds(_Malformed))
globals().update(for_kinds(_Limits))
