"""A Pico's RAM in the sim (heeldrop sim --board-ram pico, on the 32-bit
single-float port of `make unix32`): the firmware's .mpy code and its data
share one 246 KB heap, as on an RP2040, with the sessions on littlefs (its
objects and caches in that heap too). Issue 11's goal: through a session
and its download the largest free block never drops below 16 KB.

The demo session (6 minutes) stands for the 30 minutes `make bench` runs
(firmware_min_largest_free_block_bytes): after boot the heap holds the code
and the session's buffers, and what the loop allocates is collected each
second, so a leak in the loop, the sim's own objects in the heap or a
kept string show within minutes (before this test: 10.6 KB on this run;
43.6 KB before the engine's round 1, 13.5 KB after it, 11.1 KB after its second round, as over
the 30 minutes: the goal is an xfail(strict) until it is met again). The board's clock
starts 3.7 s before ticks_us wraps (and past 2**30 us), so the sim's own
bookkeeping runs in the ranges where a 32-bit port would make heap objects
of its ints: the run fails (SimAllocError) if any of it allocates in the
board's heap (sim_allocs)."""
import os
import re
import subprocess
import sys

import pytest

from heeldrop.replay import ROOT

MP32 = os.path.join(ROOT, "build", "unix32", "micropython")
DEMO = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
GOAL = 16 * 1024


def _fields(out, prefix):
    m = re.search(r"^%s(.*)$" % re.escape(prefix), out, re.M)
    assert m, out[-3000:]
    return dict(x.split("=", 1) for x in m.group(1).split() if "=" in x)


@pytest.fixture(scope="module")
def pico_run(tmp_path_factory):
    """The demo session and its download on a Pico's heap (one run for the
    tests below): (sim: end fields, sim: ram fields)."""
    assert os.path.exists(MP32), "%s missing: run `make unix32`" % MP32
    d = tmp_path_factory.mktemp("pico")
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", DEMO, "--speed", "max", "--quiet",
                        "--flash", str(d), "--board-ram", "pico", "--download", "--clock-start-ms", "1070000"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    return _fields(out, "sim: end "), _fields(out, "sim: ram ")


def test_pico_heap_runs_a_session_and_its_download(pico_run):
    end, ram = pico_run
    assert end["lost"] == "0" and int(end["reps"]) >= 10, end
    # the session came over the link whole, equal to the file on the flash
    assert ram["download_ok"] == "1" and int(ram["download_bytes"]) > 100000, ram
    assert ram["sim_allocs"] == "0", ram
    # the code is in the heap: about 150 KB of it (bytecode and armv6m
    # machine code) before any data
    assert int(ram["after_boot_used"]) > 150000 and int(ram["native_code_bytes"]) > 40000, ram


# The goal is not met since the engine's round 1 (merged from main): the
# code after boot grew from 184 KB to 212 KB of the 238 KB the firmware
# gets (armv6m machine code 49 -> 63 KB: heelcore.fusion 19.3 KB, reps
# 13.7 KB; bytecode of the engine +12 KB, link +9 KB, cues +5 KB): 9.4 KB.
# probe() loading only the found chip's driver and the sim dropping its
# board file as a board does: 16.0 KB after boot, 13.5 KB at worst; the
# engine's second round: 13.7 KB after boot, 11.1 KB at worst, when
# the engine holds its second sign hypothesis (a Reps and its 1.3 KB
# array, ~9 s at the start of each side) at the end of the heap.
@pytest.mark.xfail(strict=True, reason="issue 11: measured min largest free block 11.1 KB (demo and make "
                                       "bench's 30 min), goal >= 16 KB")
def test_pico_heap_keeps_16kb_through_a_session_and_its_download(pico_run):
    end, ram = pico_run
    assert int(ram["min_largest_free_block"]) >= GOAL, ram


def test_the_sim_loads_the_firmware_compiled_as_deploy_compiles_it(tmp_path):
    # The same .mpy bytes a board gets from `heeldrop deploy` (module names
    # included: each is a string in the heap), so the sim's heap holds what
    # the board's holds. Before: the sim's .mpy named each module by its
    # full path on this computer (longer strings, another layout).
    from heeldrop import cmd_deploy, cmd_sim

    sim = cmd_sim.build_firmware(str(tmp_path / "sim"), "armv6m")
    built = cmd_deploy.compile_all("armv6m", str(tmp_path / "deploy"))
    mpys = [f for f in built if f.endswith(".mpy")]
    assert len(mpys) > 15
    for rel in mpys:
        under_lib = rel[len("lib/"):] if rel.startswith("lib/") else rel
        with open(os.path.join(str(tmp_path / "deploy"), rel), "rb") as f:
            want = f.read()
        with open(os.path.join(sim, under_lib), "rb") as f:
            assert f.read() == want, rel


def test_the_sims_import_cost_does_not_depend_on_the_checkout_path(tmp_path, monkeypatch):
    # The sim charges a board's import time by the .mpy sizes of the
    # modules (cmd_sim.mpy_sizes): the time the firmware's first sample
    # comes, and so its phase, follows from it. A source name in the .mpy
    # that held the checkout's path made CI (another clone path) run other
    # timings than this machine (import_ms 2747 there). The firmware
    # compiled from a copy under a path 150 characters longer gives the
    # same bytes.
    import shutil
    import tempfile

    from heeldrop import cmd_sim

    here = cmd_sim.build_firmware(str(tmp_path / "a"), "armv6m")
    # under a short temporary folder: mpy-cross refuses a long source path
    # ("name too long"), and pytest's tmp_path is longer in some runs (-n 2:
    # .../popen-gw1/...): the 150 characters added, not pytest's, are tested
    short = tempfile.mkdtemp(prefix="hd")
    try:
        deep = os.path.join(short, "x" * 150, "firmware")
        shutil.copytree(cmd_sim.FIRMWARE, deep, ignore=shutil.ignore_patterns("__pycache__"))
        monkeypatch.setattr(cmd_sim, "FIRMWARE", deep)
        there = cmd_sim.build_firmware(str(tmp_path / "b"), "armv6m")
    finally:
        shutil.rmtree(short)
    n = 0
    for dirpath, _dirs, files in os.walk(here):
        for f in files:
            if f.endswith(".mpy"):
                rel = os.path.relpath(os.path.join(dirpath, f), here)
                with open(os.path.join(here, rel), "rb") as x, open(os.path.join(there, rel), "rb") as y:
                    assert x.read() == y.read(), rel
                n += 1
    assert n > 15
