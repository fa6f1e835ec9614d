"""The control port's 409 answers, forced rather than hoped for:
POST /aof/rewrite while a rewrite is asked for or running (a dataset big
enough that the rewrite outlasts two back-to-back requests on one
keep-alive connection), and POST /snapshot while a BGSAVE runs (stretched
with rdb-key-save-delay; the BGSAVE started over RESP, so the control port
sees a save it did not start). Both bodies are Redis's refusal texts as
JSON errors; the same requests succeed once the job is over.
"""
import http.client
import json
import time
import unittest

from test_control import ControlBase, wait_until


class Conn:
    """One keep-alive HTTP/1.1 connection to the control port."""

    def __init__(self, port, token):
        self.h = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        self.auth = {'Authorization': 'Bearer %s' % token}

    def post(self, path):
        self.h.request('POST', path, headers=self.auth)
        r = self.h.getresponse()
        body = r.read()
        self.ctype = r.getheader('Content-Type')
        return r.status, json.loads(body)

    def close(self):
        self.h.close()


class ControlConflicts(ControlBase):
    ARGS = ('--enable-debug-command', 'yes')

    def conn(self, http):
        c = Conn(http.port, http.token)
        self.addCleanup(c.close)
        return c

    def test_aof_rewrite_409_while_one_runs(self):
        s, http, _ = self.start('--appendonly', 'yes', '--aof-use-rdb-preamble', 'no')
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', 300000, 'key', 50)
        c = self.conn(http)
        before = r.info('persistence')['aof_rewrites']
        self.assertEqual(c.post('/aof/rewrite'),
                         (202, {'status': 'Background append only file rewriting started'}))
        st, body = c.post('/aof/rewrite')
        self.assertEqual((st, body),
                         (409, {'error': 'Background append only file rewriting already in progress'}))
        self.assertEqual(c.ctype, 'application/json')
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrites'] == before + 1,
                                   timeout=60))
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrite_in_progress'] == 0))
        self.assertEqual(r.info('persistence')['aof_last_bgrewrite_status'], 'ok')
        # Over: the next one is accepted.
        self.assertEqual(c.post('/aof/rewrite')[0], 202)
        self.assertTrue(wait_until(lambda: r.info('persistence')['aof_rewrites'] == before + 2,
                                   timeout=60))
        self.assertEqual(r.dbsize(), 300000)

    def test_snapshot_409_while_bgsave_runs(self):
        s, http, _ = self.start('--rdb-key-save-delay', '2000')
        r = s.redis()
        r.execute_command('DEBUG', 'POPULATE', 1000, 'key', 10)
        self.assertEqual(r.bgsave(), True)
        c = self.conn(http)
        st, body = c.post('/snapshot')
        self.assertEqual((st, body), (409, {'error': 'Background save already in progress'}))
        self.assertEqual(c.ctype, 'application/json')
        self.assertEqual(r.info('persistence')['rdb_bgsave_in_progress'], 1)
        # Once it is over, the control port starts the next one.
        r.config_set('rdb-key-save-delay', 0)
        self.assertTrue(wait_until(lambda: r.info('persistence')['rdb_bgsave_in_progress'] == 0,
                                   timeout=60))
        self.assertEqual(c.post('/snapshot'), (202, {'status': 'Background saving started'}))
        self.assertTrue(wait_until(lambda: r.info('persistence')['rdb_bgsave_in_progress'] == 0,
                                   timeout=60))
        self.assertEqual(r.info('persistence')['rdb_last_bgsave_status'], 'ok')


if __name__ == '__main__':
    unittest.main()
