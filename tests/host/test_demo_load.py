"""`heeldrop demo` beside two CPU-burning processes (issue 13 item 9): the
virtual device and its emulated IMU share one virtual clock, so the load
changes the pace and never the data. The demo checks its own session
against `heeldrop replay` of the same trace and fails when they differ;
here the test checks the downloaded session itself as well (every trace
row, in order; the events replay makes of the trace on the device's
clock)."""
import os
import re
import subprocess
import sys

from heeldrop.demo_device import check_against_replay
from heeldrop.replay import ROOT
from heeldrop.traceio import read_trace

TRACE = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
BURN = "import time\nend = time.time() + 600\nwhile time.time() < end:\n    pass\n"


def test_demo_beside_two_cpu_burners_gives_replays_events(tmp_path):
    burners = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(2)]
    try:
        r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "demo", "--speed", "20", "--dest", str(tmp_path)],
                           capture_output=True, text=True, timeout=900, cwd=ROOT)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    n = len(read_trace(TRACE).t_ms)
    m = re.search(r"check against replay: (\d+) samples and (\d+) events identical", r.stdout)
    assert m and int(m.group(1)) == n, r.stdout[-3000:]
    hdl = [f for f in os.listdir(str(tmp_path)) if f.endswith(".hdl")]
    assert len(hdl) == 1
    ok, why = check_against_replay(TRACE, os.path.join(str(tmp_path), hdl[0]))
    assert ok, why
    assert "reps: 12" in r.stdout


def test_demo_check_fails_on_a_session_that_differs(tmp_path):
    # the check is not a rubber stamp: a session missing its first second
    # (what a loaded machine did before: the chip ran ahead of the
    # firmware) fails it, saying where
    from heelcore.record import LogReader
    from heeldrop.cmd_sim import prepare  # noqa: F401  (the sim's modules are importable)

    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", TRACE, "--speed", "max", "--quiet",
                        "--flash", str(tmp_path)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    from heeldrop import simflash

    path = simflash.session_paths(str(tmp_path))[0]
    ok, why = check_against_replay(TRACE, path)
    assert ok, why
    cut = str(tmp_path / "cut.csv")
    tr = read_trace(TRACE)
    with open(TRACE) as f:
        lines = f.read().splitlines()
    body = [i for i, x in enumerate(lines) if x and not x.startswith("#")]
    with open(cut, "w") as f:
        f.write("\n".join(lines[:body[0] + 1] + lines[body[0] + 101:]) + "\n")  # 100 rows fewer at the start
    assert len(read_trace(cut).t_ms) == len(tr.t_ms) - 100
    ok, why = check_against_replay(cut, path)
    assert not ok and "samples" in why, why
    assert LogReader(open(path, "rb").read()).samples()
