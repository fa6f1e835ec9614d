#!/usr/bin/env python3
"""gen_commands.py - capture the command table from the oracle.

Starts its own redis-server (7.0) on a free port, asks it COMMAND INFO and
COMMAND DOCS over RESP3 for every command listed in tools/commands.txt, drops
the subcommands cachebox does not implement (re-serialising the RESP3 with the
adjusted counts), and writes:

  dataplane/cmd/commands_gen.c  the cb_command table (metadata + raw replies)
  dataplane/cmd/cmd_procs.c     the name -> handler table (cmd_<name> symbols)

Command metadata is interface, so taking it from the oracle's own answers keeps
COMMAND, COMMAND DOCS, ACL categories and key extraction exact. Raw sockets
rather than a client library: RESP3 types (maps, sets, nulls) must survive.

Usage: python3 tools/gen_commands.py [--redis-server PATH] [--check]
  --check  regenerate in memory and exit 1 if the files on disk differ.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIST = os.path.join(ROOT, "tools", "commands.txt")
OUT_TABLE = os.path.join(ROOT, "dataplane", "cmd", "commands_gen.c")
OUT_PROCS = os.path.join(ROOT, "dataplane", "cmd", "cmd_procs.c")

# COMMAND INFO flag words -> command.h bits.
CMD_FLAGS = {
    "write": "CMD_WRITE", "readonly": "CMD_READONLY", "denyoom": "CMD_DENYOOM",
    "module": "CMD_MODULE", "admin": "CMD_ADMIN", "pubsub": "CMD_PUBSUB",
    "noscript": "CMD_NOSCRIPT", "blocking": "CMD_BLOCKING",
    "loading": "CMD_LOADING", "stale": "CMD_STALE",
    "skip_monitor": "CMD_SKIP_MONITOR", "skip_slowlog": "CMD_SKIP_SLOWLOG",
    "asking": "CMD_ASKING", "fast": "CMD_FAST", "no_auth": "CMD_NO_AUTH",
    "may_replicate": "CMD_MAY_REPLICATE",
    "no_mandatory_keys": "CMD_NO_MANDATORY_KEYS", "no_multi": "CMD_NO_MULTI",
    "movablekeys": "CMD_MOVABLE_KEYS", "allow_busy": "CMD_ALLOW_BUSY",
    "no_async_loading": "CMD_NO_ASYNC_LOADING",
}
# Key spec flag words -> command.h KS_* bits.
KS_FLAGS = {
    "RO": "KS_RO", "RW": "KS_RW", "OW": "KS_OW", "RM": "KS_RM",
    "access": "KS_ACCESS", "update": "KS_UPDATE", "insert": "KS_INSERT",
    "delete": "KS_DELETE", "not_key": "KS_NOT_KEY",
    "incomplete": "KS_INCOMPLETE", "variable_flags": "KS_VARIABLE_FLAGS",
}


# ---------------------------------------------------------------- RESP3 ----

class Node:
    """One RESP3 value: t is the type byte, raw the exact bytes for scalars,
    kids the children for aggregates (maps flat: k, v, k, v ...)."""

    def __init__(self, t, raw=b"", value=None, kids=None):
        self.t, self.raw, self.value, self.kids = t, raw, value, kids

    def ser(self):
        if self.kids is None:
            return self.raw
        n = len(self.kids) // 2 if self.t == "%" else len(self.kids)
        return b"%s%d\r\n" % (self.t.encode(), n) + b"".join(k.ser() for k in self.kids)

    def map(self):
        assert self.t == "%", self.t
        return {self.kids[i].value: self.kids[i + 1] for i in range(0, len(self.kids), 2)}


class Incomplete(Exception):
    pass


def parse(buf, pos=0):
    """Parse one RESP3 value at pos; returns (Node, next pos)."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    t = chr(buf[pos])
    line = buf[pos + 1:end]
    nxt = end + 2
    if t in "+-":
        return Node(t, buf[pos:nxt], line.decode()), nxt
    if t in ":(":
        return Node(t, buf[pos:nxt], int(line)), nxt
    if t in ",#_":
        return Node(t, buf[pos:nxt], line.decode()), nxt
    if t in "$=!":
        n = int(line)
        if n < 0:
            return Node(t, buf[pos:nxt], None), nxt
        if len(buf) < nxt + n + 2:
            raise Incomplete()
        return Node(t, buf[pos:nxt + n + 2], buf[nxt:nxt + n].decode()), nxt + n + 2
    if t in "*~>%|":
        n = int(line)
        if n < 0:
            return Node(t, buf[pos:nxt], None), nxt
        if t in "%|":
            n *= 2
        kids = []
        for _ in range(n):
            k, nxt = parse(buf, nxt)
            kids.append(k)
        if t == "|":
            raise ValueError("attributes are not expected in COMMAND replies")
        return Node(t, kids=kids), nxt
    raise ValueError("unknown RESP3 type %r" % t)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        while True:
            try:
                node, end = parse(self.buf)
            except Incomplete:
                d = self.s.recv(1 << 20)
                if not d:
                    raise RuntimeError("server closed the connection")
                self.buf += d
                continue
            raw = self.buf[:end]
            self.buf = self.buf[end:]
            assert node.ser() == raw, "RESP3 round trip failed"
            if node.t == "-":
                raise RuntimeError("%s: %s" % (" ".join(args), node.value))
            return node


# ---------------------------------------------------------------- oracle ---

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_server(binary, tmp):
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp, "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            c = Conn(port)
            c.call("PING")
            return proc, c
        except (OSError, RuntimeError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


# ------------------------------------------------------------- table ----

class Cmd:
    pass


def read_list():
    tops, subs = [], {}
    with open(LIST) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            line = line.lower()
            if "|" in line:
                parent = line.split("|")[0]
                if parent not in subs:
                    raise SystemExit("%s listed before its parent" % line)
                subs[parent].append(line)
            else:
                tops.append(line)
                subs[line] = []
    return tops, subs


def keyspecs(node):
    out = []
    for spec in node.kids:
        m = spec.map()
        flags = [KS_FLAGS[f.value] for f in m["flags"].kids]
        bs = m["begin_search"].map()
        bsspec = bs["spec"].map()
        if bs["type"].value == "index":
            bs_t, bs_i, bs_kw = 1, bsspec["index"].value, None
        elif bs["type"].value == "keyword":
            bs_t, bs_i, bs_kw = 2, bsspec["startfrom"].value, bsspec["keyword"].value
        else:
            bs_t, bs_i, bs_kw = 0, 0, None
        fk = m["find_keys"].map()
        fkspec = fk["spec"].map()
        if fk["type"].value == "range":
            fk_t = 1
            a = (fkspec["lastkey"].value, fkspec["keystep"].value, fkspec["limit"].value)
        elif fk["type"].value == "keynum":
            fk_t = 2
            a = (fkspec["keynumidx"].value, fkspec["firstkey"].value, fkspec["keystep"].value)
        else:
            fk_t, a = 0, (0, 0, 0)
        out.append((flags, bs_t, bs_i, bs_kw, fk_t) + a)
    return out


def make_cmd(entry, docs_name, docs_map, acl_names):
    c = Cmd()
    k = entry.kids
    c.name = k[0].value
    c.arity = k[1].value
    c.flags = []
    for f in k[2].kids:
        if f.value not in CMD_FLAGS:
            raise SystemExit("%s: unknown command flag %r" % (c.name, f.value))
        c.flags.append(CMD_FLAGS[f.value])
    c.first, c.last, c.step = k[3].value, k[4].value, k[5].value
    c.acl = []
    for a in k[6].kids:
        c.acl.append(acl_names.index(a.value.lstrip("@")))
    c.keyspecs = keyspecs(k[8])
    c.info = entry.ser()
    c.docs = docs_name.ser() + docs_map.ser()
    dm = docs_map.map()
    c.group = dm["group"].value if "group" in dm else None
    c.subs = []
    return c


def capture(binary):
    tops, subs = read_list()
    tmp = tempfile.mkdtemp(prefix="cb_gen_commands_")
    proc, conn = start_server(binary, tmp)
    try:
        conn.call("HELLO", "3")
        version = conn.call("INFO", "server").value
        version = [l for l in version.split("\r\n") if l.startswith("redis_version:")][0]
        acl_names = [n.value for n in conn.call("ACL", "CAT").kids]
        cmds = []
        for name in tops:
            info = conn.call("COMMAND", "INFO", name)
            entry = info.kids[0]
            if entry.t == "_":
                raise SystemExit("oracle does not know %r" % name)
            want = set(subs[name])
            have = {e.kids[0].value for e in entry.kids[9].kids}
            if want - have:
                raise SystemExit("oracle lacks %s" % sorted(want - have))
            # The oracle's subcommand order follows its hash seed, which
            # changes per start; commands.txt order keeps the output stable.
            order = {n: i for i, n in enumerate(subs[name])}
            entry.kids[9].kids = sorted(
                (e for e in entry.kids[9].kids if e.kids[0].value in want),
                key=lambda e: order[e.kids[0].value])

            docs = conn.call("COMMAND", "DOCS", name)
            dname, dmap = docs.kids[0], docs.kids[1]
            subdocs = None
            for i in range(0, len(dmap.kids), 2):
                if dmap.kids[i].value == "subcommands":
                    subdocs = dmap.kids[i + 1]
                    pairs = [subdocs.kids[j:j + 2] for j in range(0, len(subdocs.kids), 2)
                             if subdocs.kids[j].value in want]
                    pairs.sort(key=lambda kv: order[kv[0].value])
                    subdocs.kids = [x for kv in pairs for x in kv]
            c = make_cmd(entry, dname, dmap, acl_names)
            for se in entry.kids[9].kids:
                sname = se.kids[0].value
                sd = subdocs.map()[sname]
                sn = [subdocs.kids[j] for j in range(0, len(subdocs.kids), 2)
                      if subdocs.kids[j].value == sname][0]
                # The parent's nested docs must be what COMMAND DOCS a|b says.
                direct = conn.call("COMMAND", "DOCS", sname)
                assert direct.ser() == b"%1\r\n" + sn.ser() + sd.ser(), sname
                c.subs.append(make_cmd(se, sn, sd, acl_names))
            if want and not c.subs:
                raise SystemExit("%s: no subcommands kept" % name)
            cmds.append(c)
        return version, acl_names, cmds
    finally:
        conn.s.close()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------- output ---

def ident(name):
    return name.replace("|", "_").replace("-", "_")


def c_bytes(data, indent="        "):
    """data as adjacent C string literals, one RESP line or so per line."""
    out, cur = [], ""
    for b in data:
        ch = chr(b)
        if ch == "\\":
            cur += "\\\\"
        elif ch == '"':
            cur += '\\"'
        elif ch == "?":
            cur += "\\?"  # keep trigraphs from ever forming
        elif ch == "\r":
            cur += "\\r"
        elif ch == "\n":
            cur += "\\n"
            if len(cur) > 100:
                out.append(cur)
                cur = ""
        elif 32 <= b < 127:
            cur += ch
        else:
            cur += "\\%03o" % b
    if cur:
        out.append(cur)
    return "\n".join(indent + '"' + s + '"' for s in out)


def c_str(s):
    return "NULL" if s is None else '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit_cmd(c, ksname, subname, parent_ref):
    flags = " | ".join(c.flags) if c.flags else "0"
    acl = " | ".join("(1ull << %d)" % i for i in c.acl) if c.acl else "0"
    lines = [
        "    {",
        "        .name = %s," % c_str(c.name),
        "        .arity = %d," % c.arity,
        "        .flags = %s," % flags,
        "        .first_key = %d, .last_key = %d, .key_step = %d," % (c.first, c.last, c.step),
        "        .acl_categories = %s," % acl,
    ]
    if c.keyspecs:
        lines.append("        .keyspecs = %s, .nkeyspecs = %d," % (ksname, len(c.keyspecs)))
    lines.append("        .group = %s," % c_str(c.group))
    lines.append("        .info_resp3 =\n%s," % c_bytes(c.info, " " * 12))
    lines.append("        .info_len = %d," % len(c.info))
    lines.append("        .docs_resp3 =\n%s," % c_bytes(c.docs, " " * 12))
    lines.append("        .docs_len = %d," % len(c.docs))
    if c.subs:
        lines.append("        .subcommands = %s, .nsub = %d," % (subname, len(c.subs)))
    if parent_ref:
        lines.append("        .parent = %s," % parent_ref)
    lines.append("    },")
    return "\n".join(lines)


def emit_keyspecs(name, specs):
    out = ["static const cb_keyspec %s[] = {" % name]
    for flags, bs_t, bs_i, bs_kw, fk_t, a, b, cc in specs:
        f = " | ".join(flags) if flags else "0"
        out.append("    { .flags = %s, .bs_type = %d, .bs_index = %d, .bs_keyword = %s,"
                   % (f, bs_t, bs_i, c_str(bs_kw)))
        out.append("      .fk_type = %d, .fk_a = %d, .fk_b = %d, .fk_c = %d }," % (fk_t, a, b, cc))
    out.append("};")
    return "\n".join(out)


HEADER = """\
/* commands_gen.c — GENERATED by tools/gen_commands.py; do not edit.
 * Regenerate after changing tools/commands.txt: python3 tools/gen_commands.py
 * Source: the oracle's own COMMAND INFO / COMMAND DOCS answers (RESP3) from
 * %s, with the subcommands cachebox does not implement removed.
 * Holds the metadata of every implemented command and subcommand plus the
 * exact RESP3 bytes COMMAND INFO / COMMAND DOCS send for it; command.c links
 * handlers and ids at start (command_table_init).
 */
"""


def gen_table(version, acl_names, cmds):
    parts = [HEADER % version.replace(":", " "), '#include "command.h"', "", ""]
    parts.append("/* ACL categories as the oracle's ACL CAT lists them; bit i of")
    parts.append(" * cb_command.acl_categories is acl_category_names[i]. */")
    parts.append("const char *const acl_category_names[] = {")
    for n in acl_names:
        parts.append("    %s," % c_str(n))
    parts.append("    NULL,")
    parts.append("};")
    parts.append("const int acl_category_count = %d;" % len(acl_names))
    parts.append("")
    for c in cmds:
        for x in [c] + c.subs:
            if x.keyspecs:
                parts.append(emit_keyspecs("ks_" + ident(x.name), x.keyspecs))
                parts.append("")
    for i, c in enumerate(cmds):
        if not c.subs:
            continue
        parts.append("static cb_command sub_%s[] = {" % ident(c.name))
        for s in c.subs:
            parts.append(emit_cmd(s, "ks_" + ident(s.name), None,
                                  "&command_table_gen[%d]" % i))
        parts.append("    { .name = NULL },")
        parts.append("};")
        parts.append("")
    parts.append("cb_command command_table_gen[] = {")
    for c in cmds:
        parts.append(emit_cmd(c, "ks_" + ident(c.name), "sub_" + ident(c.name), None))
    parts.append("    { .name = NULL },")
    parts.append("};")
    parts.append("const int command_table_gen_count = %d;" % len(cmds))
    return "\n".join(parts) + "\n"


PROCS_HEADER = """\
/* cmd_procs.c — GENERATED by tools/gen_commands.py; do not edit.
 * Regenerate after changing tools/commands.txt: python3 tools/gen_commands.py
 * The name -> handler table command_table_init() links into the command
 * table. Contract for handler authors: command "a" runs cmd_a, subcommand
 * "a|b-c" runs cmd_a_b_c (every '|' and '-' becomes '_'), each a
 * `void cmd_x(cb_client *c)` defined in the file that owns the command.
 * Containers (CLIENT, CONFIG, OBJECT) have no handler: their subcommands run.
 * COMMAND is the exception: with no subcommand it runs cmd_command itself.
 */
"""


def gen_procs(cmds):
    names = []
    for c in cmds:
        if not c.subs or c.name == "command":
            names.append(c.name)
        names += [s.name for s in c.subs]
    out = [PROCS_HEADER, '#include "command.h"', ""]
    for n in names:
        out.append("cb_cmd_proc cmd_%s;" % ident(n))
    out.append("")
    out.append("const cb_cmd_proc_entry cmd_proc_table[] = {")
    for n in names:
        out.append('    { "%s", cmd_%s },' % (n, ident(n)))
    out.append("    { NULL, NULL },")
    out.append("};")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    version, acl_names, cmds = capture(args.redis_server)
    outputs = {OUT_TABLE: gen_table(version, acl_names, cmds), OUT_PROCS: gen_procs(cmds)}
    differ = False
    for path, text in outputs.items():
        if args.check:
            try:
                with open(path) as f:
                    if f.read() != text:
                        differ = True
                        print("out of date: %s" % path)
            except FileNotFoundError:
                differ = True
                print("missing: %s" % path)
        else:
            with open(path, "w") as f:
                f.write(text)
            print("wrote %s" % os.path.relpath(path, ROOT))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
