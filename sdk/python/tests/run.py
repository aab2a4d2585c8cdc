#!/usr/bin/env python3
"""Runs the SDK's tests as a user would meet the package: installed by pip in a fresh venv.

    python3 sdk/python/tests/run.py [--trx FILE] [--unit-only] [--here]

1. makes a venv (``--system-site-packages``, for setuptools where only the system has it) in a
   temporary folder and ``pip install --no-build-isolation --no-index`` the package into it;
2. runs the unit tests (tests/test_*.py, a local fake API) and the integration tests
   (tests/integration, a real server process: the Release build) with that venv's Python;
3. prints ``python: N passed, N failed, N skipped`` and, with ``--trx``, writes those counts as a TRX
   file, which scripts/test adds to its totals. Exit status 0 only when nothing failed.

``--here`` skips the venv and runs with this interpreter (the source tree's package when run from
sdk/python). ``--unit-only`` leaves the integration tests out.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from xml.sax.saxutils import quoteattr

TESTS = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(TESTS)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trx", help="write the counts to this TRX file")
    parser.add_argument("--unit-only", action="store_true", help="leave the integration tests out")
    parser.add_argument("--here", action="store_true", help="run with this interpreter, without a venv")
    args = parser.parse_args()
    if args.here:
        return run_tests(args.trx, args.unit_only)

    venv = tempfile.mkdtemp(prefix="strata-pysdk-venv-")
    try:
        started = time.monotonic()
        subprocess.run([builder_python(), "-m", "venv", "--system-site-packages", venv], check=True)
        python = os.path.join(venv, "bin", "python")
        # From a copy: a build leaves build/ and *.egg-info behind, and a stale build/ could ship old files.
        source = os.path.join(venv, "source")
        shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index",
                        "--no-build-isolation", source], check=True)
        print(f"python: installed {PACKAGE} in a fresh venv ({time.monotonic() - started:.1f} s)", flush=True)
        command = [python, os.path.abspath(__file__), "--here"] + (["--trx", args.trx] if args.trx else []) \
            + (["--unit-only"] if args.unit_only else [])
        # From a neutral folder, so that the source tree's package cannot shadow the installed one.
        return subprocess.run(command, cwd=venv, env=dict(os.environ, STRATA_SDK_TEST_VENV="1")).returncode
    except subprocess.CalledProcessError as e:
        print(f"python: could not set up the venv: {e}", file=sys.stderr)
        if args.trx:
            write_trx(args.trx, 0, 1, 0)
        print("python: 0 passed, 1 failed, 0 skipped")
        return 1
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def builder_python() -> str:
    """An interpreter that can build the package offline: setuptools with a wheel builder (setuptools 70.1
    or later, or the ``wheel`` package: Debian's python3-setuptools and python3-wheel)."""
    check = ("import setuptools, importlib.util, sys; v = tuple(int(p) for p in setuptools.__version__.split('.')[:2]); "
             "sys.exit(0 if v >= (70, 1) or importlib.util.find_spec('wheel') else 1)")
    for candidate in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(candidate) and subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return sys.executable


def run_tests(trx: str | None, unit_only: bool) -> int:
    # The tests import their helpers (fake_api, integration.server) from the tests folder.
    sys.path.insert(0, TESTS)
    loader = unittest.TestLoader()
    if unit_only:
        names = sorted(f[:-3] for f in os.listdir(TESTS) if f.startswith("test_") and f.endswith(".py"))
        suite = loader.loadTestsFromNames(names)
    else:  # the integration package too
        suite = loader.discover(TESTS, pattern="test_*.py", top_level_dir=TESTS)
    result = unittest.TextTestRunner(verbosity=1, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    for test, reason in result.skipped:
        print(f"python: skipped {test.id()}: {reason}")
    if trx:
        write_trx(trx, passed, failed, skipped)
    print(f"python: {passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 0 if failed == 0 else 1


def write_trx(path: str, passed: int, failed: int, skipped: int) -> None:
    """A TRX file holding the counts (the part scripts/test reads)."""
    total = passed + failed + skipped
    outcome = "Failed" if failed else "Completed"
    with open(path, "w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="utf-8"?>\n'
                f'<TestRun id={quoteattr(str(uuid.uuid4()))} name="strata-python-sdk" '
                'xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">\n'
                f'  <ResultSummary outcome="{outcome}">\n'
                f'    <Counters total="{total}" executed="{passed + failed}" passed="{passed}" failed="{failed}" '
                f'error="0" timeout="0" aborted="0" inconclusive="0" notExecuted="{skipped}" />\n'
                '  </ResultSummary>\n</TestRun>\n')


if __name__ == "__main__":
    sys.exit(main())
