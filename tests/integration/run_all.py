"""run_all — runs every tests/integration/test_*.py file and ends with one
line "N passed, N failed" (the format CI parses). Quiet on success: only
failures, errors and skip reasons are printed in full. Exit status 1 when
anything failed. Usage: /usr/bin/python3 tests/integration/run_all.py [-v] [pattern]
CBTEST_TIMES=N lists the N slowest test classes; CBTEST_DATAPLANE=dpdk runs
every cachebox on the DPDK plane (see cbtest and tests/dpdk/run_integration_dpdk.sh).
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cbtest  # noqa: E402  (needs HERE on the path)


class TimedResult(unittest.TextTestResult):
    """Adds up wall time per test class: its tests plus the gap before each
    (setUpClass of a new class, the fixtures of the tests)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.class_times = {}
        self._mark = self._start = time.time()

    def _cls(self, test):
        return test.id().rpartition('.')[0]

    def startTest(self, test):
        now = time.time()
        k = self._cls(test)
        self.class_times[k] = self.class_times.get(k, 0.0) + now - self._mark
        self._start = now
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        now = time.time()
        k = self._cls(test)
        self.class_times[k] = self.class_times.get(k, 0.0) + now - self._start
        self._mark = now


def main():
    verbose = '-v' in sys.argv
    args = [a for a in sys.argv[1:] if a != '-v']
    pattern = args[0] if args else 'test_*.py'
    suite = unittest.TestLoader().discover(HERE, pattern=pattern, top_level_dir=HERE)
    cbtest.apply_dpdk_pending(suite)
    t0 = time.time()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if verbose else 1,
                                     buffer=True, resultclass=TimedResult).run(suite)
    # CBTEST_TIMES=N: the N slowest test classes (where the suite's time goes).
    slowest = int(os.environ.get('CBTEST_TIMES', '0') or 0)
    for k, v in sorted(result.class_times.items(), key=lambda kv: -kv[1])[:slowest]:
        print('time: %7.1fs %s' % (v, k))
    for test, reason in result.skipped:
        print('skipped: %s: %s' % (test.id(), reason))
    # A test whose subtests fail several times still counts once.
    failed = {getattr(t, 'test_case', t).id() for t, _ in result.failures + result.errors}
    bad = len(failed) + len(result.unexpectedSuccesses)
    passed = result.testsRun - bad - len(result.skipped)
    print('integration (%s plane): %d tests in %.1fs, %d skipped'
          % (cbtest.DATAPLANE, result.testsRun, time.time() - t0, len(result.skipped)))
    print('%d passed, %d failed' % (passed, bad))
    return 0 if bad == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
