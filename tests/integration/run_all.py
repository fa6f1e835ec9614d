"""run_all — runs every tests/integration/test_*.py file and ends with one
line "N passed, N failed" (the format CI parses). Quiet on success: only
failures, errors and skip reasons are printed in full. Exit status 1 when
anything failed. Usage: /usr/bin/python3 tests/integration/run_all.py [-v] [pattern]
"""
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    verbose = '-v' in sys.argv
    args = [a for a in sys.argv[1:] if a != '-v']
    pattern = args[0] if args else 'test_*.py'
    suite = unittest.TestLoader().discover(HERE, pattern=pattern, top_level_dir=HERE)
    t0 = time.time()
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if verbose else 1,
                                     buffer=True).run(suite)
    for test, reason in result.skipped:
        print('skipped: %s: %s' % (test.id(), reason))
    bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - bad - len(result.skipped)
    print('integration: %d tests in %.1fs, %d skipped' % (result.testsRun, time.time() - t0,
                                                          len(result.skipped)))
    print('%d passed, %d failed' % (passed, bad))
    return 0 if bad == 0 and result.testsRun > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
