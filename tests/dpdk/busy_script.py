"""busy_script.py — a long script on the DPDK data plane, run by
run_dpdk_tests.sh inside the client namespace with /usr/bin/python3:
  kill      with busy-reply-threshold 100 one client runs an endless
            script; a second gets -BUSY within 2 s, a third's SCRIPT KILL
            ends it (after two more clients connected, got BUSY and went
            away, one with a RST), the first gets Redis's killed-script
            error, and then PING/SET/GET work;
  pipeline  a script that runs ~1.5 s (TIME checks) while its own client
            keeps sending pipelined RPUSHes (split mid-command): every reply
            comes back in order and the list holds every element in order.
Usage: busy_script.py HOST PORT kill | pipeline
Prints one line per check and exits 1 on any failure.
"""
import socket
import struct
import sys
import time

FAILS = []


def check(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + (f" ({detail})" if detail and not cond else ""))
    if not cond:
        FAILS.append(name)


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def line(self, timeout=10):
        self.s.settimeout(timeout)
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def reply(self, timeout=10):
        """One reply; bulk and array replies flattened to a list."""
        ln = self.line(timeout)
        if ln[:1] == b"$":
            n = int(ln[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if ln[:1] == b"*":
            return [self.reply(timeout) for _ in range(int(ln[1:]))]
        return ln

    def call(self, *args, timeout=10):
        self.send(cmd(*args))
        return self.reply(timeout)


def kill_test(host, port):
    c1, c2, c3 = Conn(host, port), Conn(host, port), Conn(host, port)
    check("CONFIG SET busy-reply-threshold 100",
          c2.call("CONFIG", "SET", "busy-reply-threshold", "100") == b"+OK")
    c1.send(cmd("EVAL", "while true do end", "0"))
    time.sleep(0.2)
    t0 = time.time()
    r = c2.call("PING", timeout=5)
    took = time.time() - t0
    check("a second client gets BUSY within 2 s", r.startswith(b"-BUSY") and took < 2.0,
          f"{r!r} after {took:.2f}s")
    # Clients that go away meanwhile (FIN, then RST) are closed later.
    closed_ok = True
    for abort in (0, 1):
        c = Conn(host, port)
        closed_ok &= c.call("GET", "x", timeout=5).startswith(b"-BUSY")
        if abort:
            c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.s.close()
    time.sleep(0.2)
    check("clients closing during the script (FIN, RST) got BUSY first", closed_ok)
    r = c3.call("SCRIPT", "KILL", timeout=5)
    check("SCRIPT KILL from a third client", r == b"+OK", repr(r))
    r = c1.reply(timeout=5)
    check("the caller gets the killed-script error",
          r.startswith(b"-ERR Script killed by user with SCRIPT KILL..."), repr(r))
    check("PING after the kill", c1.call("PING") == b"+PONG")
    check("SET after the kill", c1.call("SET", "busy:k", "v1") == b"+OK")
    check("GET after the kill", c2.call("GET", "busy:k") == b"v1")


LONG = """local t = redis.call('TIME')
local s = t[1] * 1000000 + t[2]
while true do
  local n = redis.call('TIME')
  if n[1] * 1000000 + n[2] - s > 1500000 then break end
end
return 7"""


def pipeline_test(host, port):
    c1, c2 = Conn(host, port), Conn(host, port)
    c2.call("CONFIG", "SET", "busy-reply-threshold", "100")
    c2.call("DEL", "busy:list")
    n = 3000
    stream = b"".join(cmd("RPUSH", "busy:list", "e%d" % i) for i in range(n))
    # The script, plus the start of the pipeline in the same write; the rest
    # in pieces (cut mid-command) while the script runs.
    first = cmd("EVAL", LONG, "0") + stream[:777]
    c1.send(first)
    rest = stream[777:]
    t0 = time.time()
    busy_seen = False
    pieces = 12
    step = len(rest) // pieces + 1
    for k in range(pieces):
        c1.send(rest[k * step:(k + 1) * step])
        time.sleep(0.08)
        if not busy_seen and time.time() - t0 > 0.3:
            busy_seen = c2.call("PING", timeout=3).startswith(b"-BUSY")
    check("another client gets BUSY during the 1.5 s script", busy_seen)
    r = c1.reply(timeout=10)
    took = time.time() - t0
    check("the script's own reply comes first", r == b":7", repr(r))
    check("the script ran about 1.5 s", 1.3 < took < 5.0, f"{took:.2f}s")
    bad = None
    for i in range(n):
        r = c1.reply(timeout=10)
        if r != b":%d" % (i + 1):
            bad = (i, r)
            break
    check(f"{n} pipelined replies after the script, in order", bad is None, repr(bad))
    got = c1.call("LRANGE", "busy:list", "0", "-1")
    check("the list holds every element in order",
          got == [b"e%d" % i for i in range(n)], f"{len(got)} elements")
    check("PING afterwards", c1.call("PING") == b"+PONG" and c2.call("PING") == b"+PONG")
    c2.call("DEL", "busy:list", "busy:k")


def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    try:
        {"kill": kill_test, "pipeline": pipeline_test}[mode](host, port)
    except Exception as e:  # a timeout or a closed connection is a failure
        check(f"{mode}: no exception", False, repr(e))
    sys.exit(1 if FAILS else 0)


if __name__ == "__main__":
    main()
