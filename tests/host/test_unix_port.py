"""Run every shared test under the MicroPython unix port (never skipped)."""
import glob
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
SHARED = sorted(glob.glob(os.path.join(ROOT, "tests", "shared", "test_*.py")))


def test_micropython_is_installed():
    # A missing unix port is a failure, not a skip: `make setup` installs it.
    assert os.path.exists(MICROPYTHON), "MicroPython unix port missing: run `make setup`"


@pytest.mark.parametrize("path", SHARED, ids=[os.path.basename(p) for p in SHARED])
def test_shared_file_under_unix_port(path):
    r = subprocess.run(
        [MICROPYTHON, "-X", "heapsize=16m", os.path.join(ROOT, "tests", "run_unix.py"), path],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    out = r.stdout + r.stderr
    m = re.search(r"unix-port: (\d+) passed, (\d+) failed", out)
    assert m, out
    assert r.returncode == 0 and int(m.group(2)) == 0 and int(m.group(1)) > 0, out
