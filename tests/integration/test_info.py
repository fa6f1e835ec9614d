"""INFO side by side with redis-server 7.0: the same commands on both, then
every section's field names compared in order (values may differ), the
per-command and per-error sections as sets, and the section titles each
argument form selects (default, all, everything, several names, unknown
names). cachebox adds server.cachebox_version at the end of # Server, and
its own sections (# Hugepages, # Appliance with per-worker busy/idle time,
# Dataplane) under "everything" only.
"""
import unittest

from cbtest import Server, parse

SECTIONS = ['server', 'clients', 'memory', 'persistence', 'stats', 'replication', 'cpu',
            'modules', 'errorstats', 'cluster', 'keyspace', 'commandstats', 'latencystats']
# Sections whose lines are per command / error code / db: Redis orders them
# by its hash tables, so they compare as sets.
UNORDERED = {'errorstats', 'commandstats', 'latencystats'}
FORMS = [(), ('default',), ('all',), ('everything',), ('server', 'clients'),
         ('CLIENTS', 'server'), ('foo',), ('foo', 'cpu'), ('all', 'commandstats'),
         ('default', 'latencystats'), ('modules',), ('module_list',), ('keyspace', 'cpu'),
         ('server', 'server'), ('commandstats',)]


def names(text):
    out = []
    for line in text.split('\r\n'):
        if line and not line.startswith('#'):
            out.append(line.split(':', 1)[0])
    return out


def titles(text):
    return [line for line in text.split('\r\n') if line.startswith('# ')]


class InfoSideBySide(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.servers = {k: Server(k) for k in ('cachebox', 'redis')}
        for srv in cls.servers.values():
            c = srv.raw()
            # The same history on both, so the data-driven lines exist on both.
            for cmd in (('SET', 'a', '1'), ('EXPIRE', 'a', '1000'), ('GET', 'a'), ('GET',),
                        ('HSET', 'a', 'f', 'v'), ('SELECT', '3'), ('SET', 'b', '2'),
                        ('CONFIG', 'SET', 'latency-tracking', 'yes')):
                c.cmd(*cmd)
            c.close()

    @classmethod
    def tearDownClass(cls):
        for srv in cls.servers.values():
            srv.cleanup()

    def info(self, kind, *args):
        c = self.servers[kind].raw()
        try:
            return parse(c.cmd('INFO', *args)).decode()
        finally:
            c.close()

    def test_section_fields(self):
        for sec in SECTIONS:
            with self.subTest(section=sec):
                want = names(self.info('redis', sec))
                got = names(self.info('cachebox', sec))
                if sec == 'server':
                    self.assertEqual(got[-1], 'cachebox_version')
                    got = got[:-1]
                # INFO itself is in the stats sections of the later call only.
                if sec in UNORDERED:
                    want = set(want) - {'cmdstat_info', 'latency_percentiles_usec_info'}
                    got = set(got) - {'cmdstat_info', 'latency_percentiles_usec_info'}
                self.assertEqual(got, want)

    def test_forms_select_the_same_sections(self):
        for form in FORMS:
            with self.subTest(form=form):
                want = titles(self.info('redis', *form))
                got = [t for t in titles(self.info('cachebox', *form))
                       if t not in ('# Appliance', '# Hugepages', '# Dataplane', '# Connections')]
                self.assertEqual(got, want)

    def test_appliance_section(self):
        text = self.info('cachebox', 'appliance')
        self.assertEqual(titles(text), ['# Appliance'])
        self.assertIn('io_workers:1\r\n', text)
        self.assertRegex(text, r'worker0:busy_usec=\d+,idle_usec=\d+,busy_perc=\d+\.\d\d,'
                               r'loops=\d+,used_cpu_sys=[\d.]+,used_cpu_user=[\d.]+,'
                               r'connected_clients=\d+,commands_processed=\d+\r\n')
        self.assertIn('# Appliance', self.info('cachebox', 'everything'))
        self.assertNotIn('# Appliance', self.info('cachebox', 'all'))
        self.assertNotIn('# Hugepages', self.info('cachebox', 'all'))
        self.assertNotIn('# Dataplane', self.info('cachebox', 'all'))
        self.assertNotIn('# Appliance', self.info('cachebox'))
        # Redis's used_cpu_* stay in # CPU.
        cpu = names(self.info('cachebox', 'cpu'))
        self.assertIn('used_cpu_sys_main_thread', cpu)

    def test_pubsub_counts_agree(self):
        held = []
        for srv in self.servers.values():
            for cmd in (('SSUBSCRIBE', 'a', 'b'), ('PSUBSCRIBE', 'x*'), ('SUBSCRIBE', 'c', 'd')):
                c = srv.raw()
                c.cmd(*cmd)
                held.append(c)
        try:
            for kind in self.servers:
                text = self.info(kind, 'stats')
                for line in ('pubsub_channels:2', 'pubsub_patterns:1', 'pubsubshard_channels:2'):
                    self.assertIn(line + '\r\n', text, kind)
        finally:
            for c in held:
                c.close()

    def test_values_agree_where_deterministic(self):
        def fields(kind, sec):
            return dict(l.split(':', 1) for l in self.info(kind, sec).split('\r\n')
                        if l and not l.startswith('#'))
        for sec, keys in (('keyspace', ('db0', 'db3')),
                          ('errorstats', ('errorstat_ERR', 'errorstat_WRONGTYPE')),
                          ('replication', ('role', 'connected_slaves', 'master_repl_offset')),
                          ('cluster', ('cluster_enabled',)),
                          ('server', ('redis_version', 'redis_mode', 'arch_bits'))):
            r, cb = fields('redis', sec), fields('cachebox', sec)
            for k in keys:
                if sec == 'keyspace':
                    self.assertEqual(cb[k].split(',')[:2], r[k].split(',')[:2], k)
                else:
                    self.assertEqual(cb[k], r[k], k)


if __name__ == '__main__':
    unittest.main()
