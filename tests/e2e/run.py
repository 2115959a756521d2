"""Runs every tests/e2e/test_*.py with unittest and ends with the line 'N passed, N failed, N skipped'; any
failure or skip (none is silent) exits 1.
Usage: python3 tests/e2e/run.py [pattern]   (pattern filters module names, e.g. rest)"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def main():
    pattern = sys.argv[1] if len(sys.argv) > 1 else ""
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in sorted(os.listdir(HERE)):
        if name.startswith("test_") and name.endswith(".py") and pattern in name:
            suite.addTests(loader.loadTestsFromName(name[:-3]))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    # subTest failures are reported per subtest; count each test method once
    failed_ids = {t.id().split(" ")[0] for t, _ in result.failures + result.errors}
    failed = len(failed_ids)
    passed = result.testsRun - failed - len(result.skipped)
    # No silent skips: a skipped test fails the run and says why.
    for t, reason in result.skipped:
        print("e2e: SKIPPED (counts as a failure): %s: %s" % (t.id(), reason))
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, len(result.skipped)))
    sys.exit(0 if failed == 0 and not result.skipped and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
