"""LOLWUT's random drawings compared with redis-server 7.0 by structure:
Schotter (VERSION 5) past its first two rows and the skyline (VERSION 6)
are random in Redis too, so the test checks what is fixed: the number of
lines, the characters per line (Braille cells, or colour cells of the four
grays), the credit lines, the reply type per protocol, and that two calls
differ. The deterministic forms are byte-compared in tests/diff/lolwut.cmds."""
import re
import unittest

from cbtest import Server, parse

CELL6 = rb'\x1b\[(?:0;30;40m|0;90;100m|0;37;47m|0;97;107m) \x1b\[0m'


def shape(text):
    lines = text.split(b'\n')
    body, tail = lines[:-2], lines[-2:]
    out = []
    for ln in body:
        if b'\x1b' in ln:
            cells = re.findall(CELL6, ln)
            rest = re.sub(CELL6, b'', ln)
            out.append(('gray', len(cells), rest))
        else:
            chars = ln.decode('utf-8')
            out.append(('braille', len(chars), all(0x2800 <= ord(ch) <= 0x28ff for ch in chars)))
    return out, tail


class LolwutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cb = Server('cachebox')
        cls.rs = Server('redis')

    @classmethod
    def tearDownClass(cls):
        cls.cb.cleanup()
        cls.rs.cleanup()

    def test_random_drawings_have_redis_shape(self):
        cases = [(5,), (5, 40, 3, 7), (5, 1000, 200, 200), (5, 7, 1, 9), (6,), (6, 10, 4),
                 (6, 1, 1), (6, 300, 60), (6, 1000, 1000)]
        for proto in (2, 3):
            with self.cb.raw() as a, self.rs.raw() as b:
                a.cmd('HELLO', proto)
                b.cmd('HELLO', proto)
                for args in cases:
                    with self.subTest(proto=proto, args=args):
                        x = a.cmd('LOLWUT', 'VERSION', *args)
                        y = b.cmd('LOLWUT', 'VERSION', *args)
                        self.assertEqual(x[:1], y[:1])          # '$' or '=' (txt)
                        tx, ty = parse(x), parse(y)
                        tx = getattr(tx, 'text', tx)
                        ty = getattr(ty, 'text', ty)
                        if isinstance(tx, str):
                            tx, ty = tx.encode(), ty.encode()
                        self.assertEqual(len(x), len(y)) if args[0] == 5 else None
                        self.assertEqual(shape(tx), shape(ty))

    def test_random_parts_change(self):
        r = self.cb.redis()
        self.assertNotEqual(r.execute_command('LOLWUT', 'VERSION', 5),
                            r.execute_command('LOLWUT', 'VERSION', 5))
        self.assertNotEqual(r.execute_command('LOLWUT', 'VERSION', 6),
                            r.execute_command('LOLWUT', 'VERSION', 6))
        r.close()


if __name__ == '__main__':
    unittest.main()
