"""Small lies and rough edges (issue 13, item 18): each one checked where it showed.

The device-facing ones run against the virtual device (`heeldrop sim --pty`:
the real firmware in the MicroPython unix port behind a pseudo terminal).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from heeldrop.replay import ROOT
from heeldrop.simproc import SimProcess

EXE = os.path.join(os.path.dirname(sys.executable), "heeldrop")
TRACE = os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv")
DEMO = os.path.join(ROOT, "tests", "traces", "demo_session.csv")


def hd(*argv, env=None, timeout=120):
    return subprocess.run([EXE] + list(argv), capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    flash = str(tmp_path_factory.mktemp("flash"))
    s = SimProcess(TRACE, speed=2, flash=flash).start()
    try:
        yield s
    finally:
        s.stop()


# ---------------------------------------------------------------- the button


def test_side_is_a_short_press_in_the_firmware_the_help_and_the_readmes(tmp_path):
    """What switches side is what the firmware does with a short press; --help said long."""
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    import app as appmod
    from cues import Cues
    from drivers import probe
    from heelcore.config import Config
    from logstore import SessionStore
    from sim import chips
    from sim.i2cbus import FakeI2C

    clock = [0]
    bus = FakeI2C()
    bus.attach(chips.MPU6050Chip())

    def find():
        imu = probe(bus, clock_us=lambda: clock[0] & 0x3FFFFFFF)
        imu.configure(100)
        return imu

    def idle(ms):
        clock[0] += ms * 1000
        for d in list(bus._devs.values()):
            d.advance_to(clock[0])

    store = SessionStore(str(tmp_path / "sessions"), 1024, lambda p: (4096, 4096, 1000, 900, 900, 0, 0, 0, 0, 255))
    a = appmod.App(None, Config(side="left"), {"cue_style": "quiet"}, Cues(None, None, "quiet"), None, store,
                   None, lambda: clock[0] // 1000, idle, "test", find)
    a.start()
    for _ in range(50):
        a.loop_once()
    switches = {}
    for gesture in ("short", "long"):
        before = (a.running, a.eng.side if a.eng else None)
        a._gesture(gesture, a.now())
        switches[gesture] = a.running and before[0] and a.eng.side != before[1]
    assert switches == {"short": True, "long": False}  # the long press stopped the session instead
    assert not a.running

    from heeldrop import cmd_side
    said = re.findall(r"(short|long) press of the button", cmd_side.EPILOG)
    assert said == ["short"], cmd_side.EPILOG
    readme = " ".join(open(os.path.join(ROOT, "README.md"), encoding="utf-8").read().split())
    assert re.search(r"A short press on the button switches side", readme)
    hw = " ".join(open(os.path.join(ROOT, "hardware", "README.md"), encoding="utf-8").read().split())
    assert re.search(r"Short press \(< 1 s\): switch side", hw)


# ---------------------------------------------------------------- config


def test_config_set_rejects_nan_and_infinity_before_sending(capsys):
    from heeldrop.cli import main
    for value in ("Infinity", "-Infinity", "NaN", "1e999"):
        rc = main(["config", "set", "hold_target_s=%s" % value, "--port", "/dev/heeldrop-no-such-port"])
        err = capsys.readouterr().err
        assert rc == 2 and "None" not in err and "not a finite number" in err and value in err, err
        assert len(err.strip().splitlines()) == 1


def test_config_unknown_key_lists_every_known_setting(sim):
    from heelcore.config import SPEC
    r = hd("config", "set", "holdtarget=45", "--port", sim.port)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for k in list(SPEC) + ["cue_style", "sample_rate_hz"]:
        assert k in r.stderr, (k, r.stderr)
    r = hd("config", "get", "--json", "--port", sim.port)
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["cue_style"] in ("full", "quiet", "minimal") and "hold_target_s" in d
    r = hd("config", "set", "cue_style=quiet", "--json", "--port", sim.port)
    assert r.returncode == 0 and json.loads(r.stdout)["changed"] in (["cue_style"], [])


# ---------------------------------------------------------------- the live view


def test_calibration_cues_do_not_repeat_lower_the_heel():
    """Level first (standing still at the top), then the foot axis, learned with the heel already down."""
    from heeldrop.cmd_replay import run as _unused  # noqa: F401  (the same events replay prints)
    from heeldrop.liveview import cue_text
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace
    cal = [e for e in run_engine(read_trace(DEMO)) if e["type"] == "calibrated"]
    stages = [e["stage"] for e in cal]
    k = stages.index("axis")  # the level (re-taken at each still spell before the first drop), then the axis
    assert k >= 1 and set(stages[:k]) == {"level"}, stages
    texts = [cue_text(e) for e in cal[k - 1:k + 1]]
    assert texts[0] != texts[1]
    assert "lower the heel" in texts[0] and "lower" not in texts[1].lower()


def test_the_last_live_frame_keeps_the_side_and_rep_the_session_ended_on():
    import io

    from rich.console import Console

    from heeldrop.liveview import LiveView
    v = LiveView(plain=False, out=io.StringIO())
    v.status({"phase": "top", "side": "left", "rep": 0})
    v.event({"type": "side", "t_ms": 1000, "rep": 0, "side": "right"})
    v.event({"type": "rep_start", "t_ms": 2000, "rep": 7})
    v.event({"type": "rep_end", "t_ms": 9000, "rep": 7, "depth_deg": 20.0, "hold_s": 5.0})
    v.status({"phase": "idle", "side": "left", "rep": 0, "recording": False})  # the device, stopped
    c = Console(record=True, width=100, file=io.StringIO())
    c.print(v._render())
    text = c.export_text()
    assert re.search(r"side\s+right \(at the end of the session\)", text), text
    assert re.search(r"rep\s+7 \(last of the session\)", text), text


# ---------------------------------------------------------------- doctor, ports, sessions


def test_doctor_says_no_battery_figure_and_counts_sessions_in_words(sim):
    r = hd("doctor", "--port", sim.port)
    assert "None" not in r.stdout and "1 sessions" not in r.stdout, r.stdout
    assert re.search(r"battery (\d+%|not measured)", r.stdout), r.stdout
    m = re.search(r"flash: .* free, (\d+) session(s?)\b", r.stdout)
    assert m and (m.group(2) == "") == (m.group(1) == "1"), r.stdout
    j = hd("doctor", "--json", "--port", sim.port)
    d = json.loads(j.stdout)
    assert j.returncode == r.returncode and d["board"]["board"] == "sim" and isinstance(d["problems"], list)


def test_ports_lists_a_running_sim_and_forgets_it_when_it_stops(tmp_path):
    s = SimProcess(TRACE, speed=2, flash=str(tmp_path / "flash")).start()
    try:
        r = hd("ports")
        assert r.returncode == 0 and "virtual devices" in r.stdout and s.port in r.stdout, r.stdout
        link = "/tmp/heeldrop-sim-%d" % s.proc.pid
        assert re.search(r"%s +%s +heeldrop sim" % (link, s.port), r.stdout), r.stdout
        d = json.loads(hd("ports", "--json").stdout)
        assert {"port": link, "pty": s.port, "pid": s.proc.pid} in d["sims"]
        r = hd("sessions", "--json", "--port", link)
        d = json.loads(r.stdout)
        assert r.returncode == 0 and d["board"] == "sim" and isinstance(d["sessions"], list)
    finally:
        s.stop()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and link in hd("ports").stdout:
        time.sleep(0.2)
    assert link not in hd("ports").stdout


def test_a_link_left_by_a_killed_sim_is_not_listed(tmp_path):
    import pty
    from heeldrop.cmd_ports import running_sims
    m, s = pty.openpty()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    links = ["/tmp/heeldrop-sim-%d" % os.getpid(), "/tmp/heeldrop-sim-%d" % dead.pid]
    try:
        for ln in links:
            if os.path.lexists(ln):
                os.unlink(ln)
            os.symlink(os.ttyname(s), ln)
        got = [x[0] for x in running_sims()]
        assert links[0] in got and links[1] not in got
    finally:
        for ln in links:
            if os.path.lexists(ln):
                os.unlink(ln)
        os.close(m)
        os.close(s)


# ---------------------------------------------------------------- --json everywhere it was missing


def test_report_and_evaluate_print_json(tmp_path):
    r = hd("report", DEMO, "--json")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and len(d["reps"]) == 12 and set(d["sides"]) == {"left", "right"}
    assert d["symmetry"]["verdict"] in ("symmetric", "borderline", "meaningful", "too_few")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for ext in (".csv", ".truth.json"):
        shutil.copyfile(DEMO[:-4] + ext, str(corpus / ("demo_session" + ext)))
    (corpus / "index.json").write_text(json.dumps({"traces": [
        {"name": "demo_session", "scenario": "session", "mounting": 0}]}))
    r = hd("evaluate", "--corpus", str(corpus), "--json", "-", "-q", timeout=300)
    d = json.loads(r.stdout)
    assert r.returncode == 0 and d["total"]["reps_true"] == 12, r.stderr


# ---------------------------------------------------------------- make test


def test_make_test_shows_each_file_and_writes_nothing_into_the_repository(tmp_path):
    """The pytest line of `make test`, run on one small file: the file's name and its share done
    are printed (before: dots only, -q), and neither out/ nor .pytest_cache appear."""
    r = subprocess.run(["make", "-n", "test", "PY=" + sys.executable], cwd=ROOT, capture_output=True, text=True)
    line = [x for x in r.stdout.splitlines() if " -m pytest" in x][-1]
    argv = line.split()
    work = tmp_path / "repo"
    (work / "tests" / "host").mkdir(parents=True)
    (work / "tests" / "host" / "test_tiny.py").write_text("def test_a():\n    pass\n\n\ndef test_b():\n    pass\n")
    shutil.copyfile(os.path.join(ROOT, "pyproject.toml"), str(work / "pyproject.toml"))  # its addopts (-q)
    # the tests' conftest prints the file lines when the run is in two processes (-n 2)
    shutil.copyfile(os.path.join(ROOT, "tests", "conftest.py"), str(work / "tests" / "conftest.py"))
    r = subprocess.run(argv + ["tests/host/test_tiny.py"], cwd=str(work), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
    assert re.search(r"^tests/host/test_tiny\.py \.\. +\[100%\]", r.stdout, re.M), r.stdout[-2000:]
    assert "slowest" in r.stdout
    assert not (work / "out").exists() and not (work / ".pytest_cache").exists()
