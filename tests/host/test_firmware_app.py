"""The device firmware (firmware/app.py, link.py, the drivers, the log) run
for real in the MicroPython unix port on the sim board (heeldrop sim),
checked from CPython:

- parity: for corpus traces, the events in the firmware's session log equal
  `heeldrop replay` of the log converted to CSV (`heeldrop convert`), line
  for line (a subset here, every trace in test_parity_all_corpus);
- stalls of 150 ms every second lose no sample; longer ones are logged gaps;
- an I2C error or an unplugged IMU gives the fault cue, GAP records and a
  session that goes on, every sample before and after intact;
- a 30-minute session under a 96 KB data heap;
- a log cut at any byte converts up to its last whole record;
- garbage on the serial input, then commands (download, delete), then Ctrl-C.

Run directly for the figures: .venv/bin/python tests/host/test_firmware_app.py
"""
import argparse
import concurrent.futures
import os
import random
import re
import select
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "firmware", "lib"))

from heelcore import proto  # noqa: E402
from heelcore.events import to_json  # noqa: E402
from heelcore.record import LogReader  # noqa: E402
from heeldrop import cmd_sim, simflash  # noqa: E402
from heeldrop.cmd_convert import log_to_trace  # noqa: E402
from heeldrop.replay import run_engine, to_counts  # noqa: E402
from heeldrop.synth.corpus import ensure_corpus  # noqa: E402
from heeldrop.traceio import read_trace, write_trace  # noqa: E402

CORPUS = os.path.join(ROOT, "build", "corpus")
# scenarios x rates (25..500 Hz), the side-switching session included
SUBSET = (
    "001_ideal_right_25hz", "004_realistic_good_left_50hz", "005_realistic_good_right_500hz",
    "008_realistic_good_left_100hz", "013_too_fast_right_25hz", "016_bounce_mild_left_50hz",
    "023_no_hold_right_100hz", "027_snap_up_right_100hz", "033_roll_out_right_50hz",
    "037_inward_roll_right_25hz", "040_twist_left_50hz", "044_slip_midset_left_100hz",
    "049_uncalibrated_bias_right_25hz", "052_shoe_mount_left_50hz", "057_fatigue_tremor_right_50hz",
    "061_mixed_faults_right_25hz", "064_shuffle_left_50hz", "069_walk_to_step_right_50hz",
    "073_session_left_25hz",
)
WORKERS = max(2, min(4, os.cpu_count() or 2))


@pytest.fixture(scope="module")
def corpus():
    return ensure_corpus(CORPUS)


def sim(trace, flash, *extra, timeout=600):
    """heeldrop sim --speed max --quiet; returns the CompletedProcess."""
    cmd = [sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max",
           "--flash", str(flash), "--quiet"] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def end_line(r):
    m = re.search(r"sim: end samples=(\d+) lost=(\d+) gaps=(\d+) faults=(\d+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    return [int(x) for x in m.groups()]


def session_files(flash):
    """The session logs on the sim's flash image, copied out (host paths)."""
    return simflash.session_paths(str(flash))


def read_log(path):
    with open(path, "rb") as f:
        return LogReader(f.read())


def replay_of_log(path, csv_path):
    """`heeldrop convert` of the log (the CSV written as the command writes
    it), the recorded side switches added as side_switch_ms, then `heeldrop
    replay`: its JSON lines."""
    r = read_log(path)
    tr, _notes = log_to_trace(r, path, argparse.Namespace(from_zero=False, accel_lsb_per_g=None,
                                                          gyro_lsb_per_dps=None))
    if r.sides():
        tr.meta["side_switch_ms"] = ",".join(str(t) for _side, t in r.sides())
    write_trace(csv_path, tr)
    return [to_json(e) for e in run_engine(read_trace(csv_path))]


def parity(name, tmp):
    trace = os.path.join(CORPUS, name + ".csv")
    flash = os.path.join(str(tmp), name)
    r = sim(trace, flash)
    if r.returncode != 0:
        return name, "sim failed: " + r.stderr[-1500:]
    files = session_files(flash)
    if len(files) != 1:
        return name, "expected one session, got %r" % files
    fw = read_log(files[0]).events()
    fw = [x.decode() if isinstance(x, bytes) else x for x in fw]
    rp = replay_of_log(files[0], os.path.join(flash, "converted.csv"))
    if fw != rp:
        for i, (a, b) in enumerate(zip(fw, rp)):
            if a != b:
                return name, "line %d differs:\n firmware %s\n replay   %s" % (i + 1, a, b)
        return name, "firmware logged %d events, replay printed %d" % (len(fw), len(rp))
    samples, lost, gaps, _faults = end_line(r)
    tr = read_trace(trace)
    n = len(tr.t_ms)
    if lost and float(tr.meta.get("sample_rate_hz", 100)) <= FLASH_SAFE_HZ:
        return name, "samples %d of %d, lost %d" % (samples, n, lost)
    # an MPU-6050 FIFO overflow drops bytes the chip does not count: what a
    # gap lost is the clock's count of sample periods (exact only while the
    # chip's and the board's clocks agree on the phase): one either way a gap
    if (lost and not gaps) or abs(samples + lost - n) > gaps:
        return name, "samples %d + lost %d of %d (gaps %d)" % (samples, lost, n, gaps)
    return name, None


# The rates at which no sample may be lost with the default flash (45 ms
# erases) on the Pico's cost model. At 1 kHz a sample costs 0.85 ms of a
# Pico's CPU (85 %) and the log's erases another 13 % (corpus 031: 110
# erases, 5.5 s of 42 s): at ~98 % busy, a pass that must write and sync
# two blocks (the staging buffer full: 3 times in that trace) outlasts the
# MPU-6050's 85 ms FIFO, or not, by where the erases fall on the sample
# grid, which moves with any change of the code's size (its import time).
# There the test asks that every sample is read or booked lost in a gap,
# nothing silently dropped (main passed lost == 0 there by that phase: the
# same run lost 120 samples from another checkout), each overflow's count
# within one sample (055: 77,841 read + 214 booked for 78,054 rows).
FLASH_SAFE_HZ = 500


# name -> why it failed (None: equal), once a session: test_parity_all_corpus
# checks every trace, the subset's from test_parity_subset's run
_PARITY = {}


def run_parity(names, tmp):
    todo = [n for n in names if n not in _PARITY]
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        _PARITY.update(ex.map(lambda n: parity(n, tmp), todo))
    return [(n, _PARITY[n]) for n in names if _PARITY[n]]


def test_parity_subset(corpus, tmp_path):
    names = [n for n in SUBSET if n in corpus]
    assert len(names) >= 12
    bad = run_parity(names, tmp_path)
    assert not bad, "\n".join("%s: %s" % b for b in bad)


def test_parity_all_corpus(corpus, tmp_path):
    # every corpus trace (25..1000 Hz), ~2-3 minutes
    bad = run_parity(corpus, tmp_path)
    assert not bad, "\n".join("%s: %s" % b for b in bad)


# ---------------------------------------------------------------- stalls


# The ODR each emulated chip runs at for a trace's rate (its driver picks
# the nearest the chip has): LSM6DS 104 / 52 Hz, QMI8658 7174.4 Hz / 2**k
_ODR = {("lsm6dsox", 100): (104, 1), ("lsm6ds3", 100): (104, 1), ("lsm6dsox", 50): (52, 1),
        ("lsm6ds3", 50): (52, 1), ("qmi8658", 100): (71744, 640), ("qmi8658", 50): (71744, 1280)}


def chip_samples(n, rate, imu):
    """The samples a chip makes over a trace of n rows at rate Hz: it samples
    the trace's motion at its own ODR (sim.runner.Samples), so
    ceil(n * ODR / rate) of them (n on an MPU-6050/6500)."""
    num, den = _ODR.get((imu, int(rate)), (int(rate), 1))
    return -(-n * num // (int(rate) * den))


def samples_match_trace(path, trace):
    """Every logged sample equals the trace row of its sequence number."""
    c = to_counts(read_trace(trace))
    s = read_log(path).samples()
    wrong = [x[0] for x in s if tuple(x[2:]) != c[x[0]][1:]]
    return s, wrong


@pytest.mark.parametrize("name", ["008_realistic_good_left_100hz", "022_no_hold_left_200hz"])
def test_stall_150ms_every_second_loses_nothing(corpus, tmp_path, name):
    trace = os.path.join(CORPUS, name + ".csv")
    r = sim(trace, tmp_path, "--stall", "150")
    assert r.returncode == 0, r.stderr
    samples, lost, gaps, faults = end_line(r)
    n = len(read_trace(trace).t_ms)
    assert (samples, lost, gaps, faults) == (n, 0, 0, 0)
    path = session_files(tmp_path)[0]
    s, wrong = samples_match_trace(path, trace)
    assert [x[0] for x in s] == list(range(n)) and not wrong
    assert read_log(path).gaps() == []


@pytest.mark.parametrize("imu", ["mpu6500", "lsm6dsox", "lsm6ds3", "qmi8658"])
def test_other_imus_with_stalls(corpus, tmp_path, imu):
    # each emulated chip, probed and driven through its own FIFO; the LSM6DS
    # and QMI8658 run at their nearest ODR (104 / 112.1 Hz), with their scales
    trace = os.path.join(CORPUS, "008_realistic_good_left_100hz.csv")
    r = sim(trace, tmp_path, "--imu", imu, "--stall", "150")
    assert r.returncode == 0, r.stderr
    n = chip_samples(len(read_trace(trace).t_ms), 100, imu)
    assert end_line(r) == [n, 0, 0, 0]
    rd = read_log(session_files(tmp_path)[0])
    assert [x[0] for x in rd.samples()] == list(range(n))
    assert rd.header["imu"] != "MPU-6050" and rd.header["accel_lsb_per_g"] > 0
    assert any('"rep_end"' in (e.decode() if isinstance(e, bytes) else e) for e in rd.events())


def test_stall_longer_than_the_fifo_is_a_logged_gap(corpus, tmp_path):
    # 1 s stalls at 100 Hz overflow the MPU-6050's 85-sample FIFO: never
    # silent. The lost counts are exact here because every read comes
    # mid-way between samples; flash erases (--erase-ms 0: none) delay reads
    # to any phase, and a count after an overflow is then the MCU clock's
    # estimate, which can be one sample off.
    trace = os.path.join(CORPUS, "008_realistic_good_left_100hz.csv")
    r = sim(trace, tmp_path, "--stall", "1000", "--erase-ms", "0")
    assert r.returncode == 0, r.stderr
    samples, lost, gaps, _ = end_line(r)
    path = session_files(tmp_path)[0]
    rd = read_log(path)
    g = rd.gaps()
    assert gaps > 0 and g and all(x[2] == "fifo_overflow" for x in g)
    n = len(read_trace(trace).t_ms)
    assert samples + lost == n and sum(x[1] for x in g) == lost
    s, wrong = samples_match_trace(path, trace)
    assert not wrong and len(s) == samples


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("inject,reason", [("i2c@5", "i2c_error"), ("unplug@5+2", "sensor_unplugged")])
def test_sensor_fault_mid_session(corpus, tmp_path, inject, reason):
    trace = os.path.join(CORPUS, "000_ideal_left_100hz.csv")
    cmd = [sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max",
           "--flash", str(tmp_path), "--inject", inject]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    samples, lost, gaps, faults = end_line(r)
    assert faults == 1 and gaps == 1 and lost > 0
    # the sensor_fault cue: its 1760 Hz tone at the first FIFO read after 5 s
    # (the app reads every 100 ms: 5.000-5.199 s)
    assert re.search(r"\[\s+5\.[01]\d\d s\] BUZZ 1760 Hz", r.stdout), r.stdout[:3000]
    files = session_files(tmp_path)
    assert len(files) == 1  # one session, resumed
    rd = read_log(files[0])
    g = rd.gaps()
    assert g[0][1] == 0 and g[0][2] == reason  # the marker written when the fault began
    assert sum(x[1] for x in g) == lost and all(x[2] == reason for x in g)
    n = len(read_trace(trace).t_ms)
    s, wrong = samples_match_trace(files[0], trace)
    assert not wrong and len(s) == samples == n - lost
    first = g[-1][0]
    assert [x[0] for x in s] == list(range(first)) + list(range(first + lost, n))
    assert rd.records[-1][0] == "end"
    # and the engine kept going: the events still equal replay of the log
    fw = [x.decode() if isinstance(x, bytes) else x for x in rd.events()]
    assert fw == replay_of_log(files[0], str(tmp_path / "c.csv"))


def test_flash_full_stops_logging_keeps_coaching(corpus, tmp_path):
    # ~27 KB of log on a 64 KB littlefs (16 blocks: 4 of metadata, 3 of
    # reserve file, 8 KB kept free): logging stops after about 9 KB
    trace = os.path.join(CORPUS, "008_realistic_good_left_100hz.csv")
    r = sim(trace, tmp_path, "--flash-kb", "64")
    assert r.returncode == 0, r.stderr
    samples, lost, _, _ = end_line(r)
    assert samples == len(read_trace(trace).t_ms) and lost == 0
    rd = read_log(session_files(tmp_path)[0])
    assert 0 < len(rd.samples()) < samples  # stopped early, but cleanly readable
    assert any("flash_low" in str(n) for n in rd.notes()) or rd.records[-1][0] == "end"


# ---------------------------------------------------------------- memory


def test_30_minute_session_under_96k_heap(tmp_path):
    # the demo session (6 min, 100 Hz) five times and a bit: 30 minutes, 60 reps
    tr = read_trace(os.path.join(ROOT, "tests", "traces", "demo_session.csv"))
    cols = {k: [] for k in ("t_ms", "ax", "ay", "az", "gx", "gy", "gz")}
    t = 0
    while t < 30 * 60 * 1000:
        for i in range(len(tr.t_ms)):
            if t >= 30 * 60 * 1000:
                break
            t += 10
            cols["t_ms"].append(t)
            for k in ("ax", "ay", "az", "gx", "gy", "gz"):
                cols[k].append(getattr(tr, k)[i])
    path = str(tmp_path / "long.csv")
    write_trace(path, cols, {"sample_rate_hz": 100, "side": "left"})
    assert t >= 30 * 60 * 1000
    r = sim(path, tmp_path / "flash", "--heap", "96k", timeout=900)
    assert r.returncode == 0 and "MemoryError" not in r.stderr + r.stdout, r.stderr[-3000:]
    assert "out of memory" not in r.stdout
    samples, lost, _, _ = end_line(r)
    assert samples == len(cols["t_ms"]) and lost == 0
    assert "engine_errors=0" in r.stdout
    m = re.search(r"data_heap=(\d+)", r.stdout)
    assert m and int(m.group(1)) == 96 * 1024
    log = session_files(tmp_path / "flash")[0]
    rd = read_log(log)
    assert len(rd.samples()) == samples and rd.records[-1][0] == "end"
    fw = [x.decode() if isinstance(x, bytes) else x for x in rd.events()]
    assert fw == replay_of_log(log, str(tmp_path / "c.csv"))


# ---------------------------------------------------------------- power cut


def test_log_cut_at_any_byte_converts_to_its_last_whole_record(corpus, tmp_path):
    trace = os.path.join(CORPUS, "023_no_hold_right_100hz.csv")
    r = sim(trace, tmp_path)
    assert r.returncode == 0, r.stderr
    path = session_files(tmp_path)[0]
    with open(path, "rb") as f:
        data = f.read()
    full = LogReader(data)
    all_s = full.samples()
    all_e = full.events()
    # every byte of the first 4 KB (header, first blocks), around every 7th
    # record boundary, and 400 random cuts
    cuts = set(range(0, min(len(data), 4096)))
    cuts.add(len(data))  # the whole file: every sample
    rng = random.Random(5)
    cuts.update(rng.randrange(len(data)) for _ in range(400))
    cuts.add(len(data))  # the whole file too (the last record may lie after every random cut)
    i = data.find(b"\xe7\x5a")
    k = 0
    while i >= 0:
        if k % 7 == 0:
            cuts.update((i - 1, i, i + 1))
        k += 1
        i = data.find(b"\xe7\x5a", i + 1)
    args = argparse.Namespace(from_zero=False, accel_lsb_per_g=None, gyro_lsb_per_dps=None)
    prev = 0
    for cut in sorted(c for c in cuts if 0 <= c <= len(data)):
        rd = LogReader(data[:cut])
        s = rd.samples()
        assert s == all_s[:len(s)], cut
        assert rd.events() == all_e[:len(rd.events())], cut
        assert len(s) >= prev  # never fewer samples from more bytes
        prev = len(s)
        if rd.header is not None:
            tr, _ = log_to_trace(rd, path, args)
            assert len(tr.t_ms) == len(s)
    assert prev == len(all_s)


# ---------------------------------------------------------------- serial


def frames_until(proc, dec, pred, timeout=20.0):
    """Read the device's stdout until pred(frame) holds; returns the frames."""
    got = []
    end = time.time() + timeout
    fd = proc.stdout.fileno()
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            if proc.poll() is not None:
                break
            continue
        data = os.read(fd, 65536)
        if not data:
            break
        for f in dec.feed(data):
            got.append(f)
            if pred(f):
                return got
    raise AssertionError("no matching frame in %.0f s (got %d frames)" % (timeout, len(got)))


def test_serial_garbage_commands_download_and_ctrl_c(corpus, tmp_path):
    trace = os.path.join(CORPUS, "023_no_hold_right_100hz.csv")
    info = cmd_sim.prepare(trace, str(tmp_path))
    args = argparse.Namespace(heap="96k", speed="max", imu="mpu6050", side=None, stall=0, inject="",
                              flash_kb=0, quiet=True)
    flash = str(tmp_path / "flash")
    os.makedirs(flash)
    cmd = cmd_sim.runner_command(args, info, flash, serial=True) + ["--keep"]
    proc = subprocess.Popen(cmd, env=cmd_sim.sim_env(), cwd=flash, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dec = proto.FrameDecoder()
    seq = [0]

    def send(raw):
        proc.stdin.write(raw)
        proc.stdin.flush()

    def command(name, args=None, req=None):
        req = req if req is not None else 100 + seq[0]
        seq[0] += 1
        send(proto.encode_frame(proto.T_CMD, seq[0], proto.cmd_payload(req, name, args)))
        fr = frames_until(proc, dec, lambda f: f.type in (proto.T_REPLY, proto.T_CHUNK)
                          and f.payload[0] | (f.payload[1] << 8) == req)
        return fr[-1], fr

    try:
        hello = frames_until(proc, dec, lambda f: f.type == proto.T_HELLO)[-1]
        h = proto.parse_json(hello.payload)
        assert h["protocol"] == 1 and h["imu"] == "MPU-6050" and h["accel_lsb_per_g"] == 8192
        # garbage: REPL text, random bytes (no Ctrl-C), cut and corrupt frames
        rng = random.Random(1)
        junk = bytes(b for b in rng.randbytes(5000) if b != 3)
        good = proto.encode_frame(proto.T_CMD, 1, proto.cmd_payload(7, "hello"))
        send(b">>> print('hi')\r\n" + junk + good[:9] + bytes([good[9] ^ 0x55]) + good[10:] + good[:12])
        f, _ = command("hello")
        assert proto.parse_reply(f.payload)[1] == proto.OK
        f, _ = command("nonsense")
        assert proto.parse_reply(f.payload)[1] == proto.E_UNKNOWN_CMD
        f, _ = command("config_set", {"hold_target_s": 500})
        req, st, res = proto.parse_reply(f.payload)
        assert st == proto.E_BAD_ARGS and "hold_target_s" in res["message"]
        f, _ = command("config_set", {"hold_target_s": 20, "cue_style": "quiet"})
        assert proto.parse_reply(f.payload)[2] == {"changed": ["hold_target_s", "cue_style"]}
        assert b'"hold_target_s": 20' in simflash.read_file(flash, "/heeldrop.json")
        f, _ = command("set_clock", {"utc": "2026-11-24T06:40:00Z"})
        assert proto.parse_reply(f.payload)[2] == {"utc": "2026-11-24T06:40:00Z"}
        # wait for the end of the trace (session closed, device idle)
        frames_until(proc, dec, lambda f: f.type == proto.T_STATUS
                     and proto.parse_json(f.payload)["phase"] == "idle", timeout=120)
        f, _ = command("list_sessions")
        sessions = proto.parse_reply(f.payload)[2]["sessions"]
        assert len(sessions) == 1 and sessions[0]["complete"] and sessions[0]["side"] == "right"
        sid, size = sessions[0]["id"], sessions[0]["size"]
        # download in chunks, resuming at the length kept
        got = b""
        while True:
            f, _ = command("read_session", {"id": sid, "offset": len(got), "length": 1000})
            assert f.type == proto.T_CHUNK
            c = proto.parse_chunk(f.payload)
            assert c["ok"] and c["total"] == size and c["offset"] == len(got)
            if not c["data"]:
                break
            got += c["data"]
        with open(session_files(flash)[0], "rb") as fh:
            assert got == fh.read()
        f, _ = command("read_session", {"id": sid, "offset": size + 5, "length": 10})
        assert proto.parse_reply(f.payload)[1] == proto.E_RANGE
        f, _ = command("free_space")
        fs = proto.parse_reply(f.payload)[2]
        assert fs["sessions"] == 1 and fs["free_kb"] > 0
        f, _ = command("start", {"side": "left"})
        new = proto.parse_reply(f.payload)[2]["session"]
        assert new == sid + 1
        f, _ = command("delete_session", {"id": new})
        assert proto.parse_reply(f.payload)[1] == proto.E_BUSY
        f, _ = command("stop")
        assert proto.parse_reply(f.payload)[2]["session"] == new
        f, _ = command("delete_session", {"id": sid})
        assert proto.parse_reply(f.payload)[2] == {"deleted": sid}
        f, _ = command("delete_session", {"id": sid})
        assert proto.parse_reply(f.payload)[1] == proto.E_NOT_FOUND
        assert dec.bad_frames == 0
        # Ctrl-C: the app closes its log and ends
        send(b"\x03")
        assert proc.wait(20) == 0
        assert "stopped by Ctrl-C" in proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    import tempfile

    names = ensure_corpus(CORPUS)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.time()
        bad = run_parity(names, d)
        print("parity: %d of %d corpus traces equal replay (%.0f s)" % (len(names) - len(bad), len(names),
                                                                        time.time() - t0))
        for b in bad:
            print("  %s: %s" % b)


def test_pty_looks_like_a_board_to_pyserial_and_mpremote(tmp_path):
    serial = pytest.importorskip("serial")
    trace = os.path.join(ROOT, "tests", "traces", "walk_to_step_left.csv")
    flash = str(tmp_path / "flash")
    proc = subprocess.Popen([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "4",
                             "--flash", flash, "--pty", "--quiet", "--raw-kb", "0"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"serial port (\S+) = (/tmp/heeldrop-sim-\d+)", line)
        assert m, line + proc.stderr.read()
        link = m.group(2)
        assert os.path.realpath(link) == m.group(1)
        port = serial.Serial(link, 115200, timeout=0.2)
        dec = proto.FrameDecoder()
        port.write(proto.encode_frame(proto.T_CMD, 1, proto.cmd_payload(9, "hello")))
        seen = {}
        samples = 0
        end = time.time() + 10
        while time.time() < end and not (samples >= 50 and proto.T_REPLY in seen):
            for f in dec.feed(port.read(4096)):
                seen[f.type] = seen.get(f.type, 0) + 1
                if f.type == proto.T_SAMPLES:
                    samples += len(proto.parse_samples(f.payload))
        port.close()
        assert seen.get(proto.T_REPLY) == 1 and samples >= 50 and dec.bad_frames == 0, seen
        # mpremote: Ctrl-C stops the app, the REPL answers on the same port
        mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
        r = subprocess.run([mpremote, "connect", link, "resume", "fs", "ls", "sessions"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "s0001.hdl" in r.stdout, r.stdout + r.stderr
        r = subprocess.run([mpremote, "connect", link, "resume", "fs", "cp", ":sessions/s0001.hdl",
                            str(tmp_path / "dl.hdl")], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        with open(str(tmp_path / "dl.hdl"), "rb") as f:
            rd = LogReader(f.read())
        assert rd.records[-1][0] == "end" and rd.samples()  # closed cleanly by the Ctrl-C
    finally:
        proc.terminate()
        proc.wait(10)
    assert not os.path.lexists(link)  # the relay cleaned up on SIGTERM


def test_no_imu_at_boot_then_plugged_in(tmp_path):
    # CPython, the same firmware modules: the sensor answers only after 1 s;
    # the session log opens then, with the chip and its scales in the header
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    import app as appmod
    from cues import Cues
    from drivers import probe
    from logstore import SessionStore
    from sim import chips
    from sim.i2cbus import FakeI2C

    clock = [0]  # us
    bus = FakeI2C()
    chip = bus.attach(chips.MPU6050Chip())
    bus.unplug(chip.addr)

    def find():
        imu = probe(bus, clock_us=lambda: clock[0] & 0x3FFFFFFF)
        imu.configure(100)
        return imu

    def idle(ms):
        clock[0] += ms * 1000
        for d in list(bus._devs.values()):
            d.advance_to(clock[0])

    store = SessionStore(str(tmp_path / "sessions"), 1024, lambda p: (4096, 4096, 1000, 900, 900, 0, 0, 0, 0, 255))
    from heelcore.config import Config

    a = appmod.App(None, Config(side="right"), {"cue_style": "quiet"}, Cues(None, None, "quiet"), None, store,
                   None, lambda: clock[0] // 1000, idle, "test", find)
    a.sensor_ok = False
    a._fault(OSError(19, "no IMU answered"), a.now())
    a.start()
    assert a.log is None and a.running
    for _ in range(200):  # 1 s without a sensor
        a.loop_once()
    bus.replug(chip.addr)
    chip.now_us = clock[0]
    for _ in range(400):
        a.loop_once()
    assert a.sensor_ok and a.samples > 100 and a.log is not None
    res = a.stop()
    logs = sorted(p for p in os.listdir(str(tmp_path / "sessions")) if p.startswith("s") and p.endswith(".hdl"))
    assert len(logs) == 1, logs
    rd = read_log(str(tmp_path / "sessions" / logs[0]))  # CPython: the store on a host folder
    assert rd.header["imu"] == "MPU-6050" and rd.header["accel_lsb_per_g"] == 8192
    assert rd.header["side"] == "right" and len(rd.samples()) == res["samples"] > 100


# ---------------------------------------------------------------- boot timing, busy loop, long options


def timing_line(r):
    m = re.search(r"sim: timing (.*)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr[-2000:]
    return {k: float(v) for k, v in (x.split("=") for x in m.group(1).split())}


@pytest.mark.parametrize("imu", ["mpu6050", "lsm6dsox", "qmi8658"])
def test_start_up_work_keeps_the_read_period_and_cue_latency(corpus, tmp_path, imu):
    # A Pico spends ~650 ms between configuring the IMU and entering the loop
    # (imports, the session store). The sim charges the board's import time
    # by .mpy size (the default cost model) and 1 s more of start-up work
    # here: the FIFO reads must keep their period (one a 100 ms engine tick)
    # and a cue must follow its sample by about half a period plus the
    # read's processing (a bounce, cued mid-tick, by up to a read period).
    # Before the fix: reads every ~660 ms and a 404 ms median latency with
    # the imports alone, every sample lost with the extra second.
    # The chip's sample clock runs on through the start-up, so the first
    # sample after the FIFO reset comes at any phase of a period: the same
    # at four start-up lengths a quarter period apart (the firmware takes
    # the phase from the first sample; before, a sample clock based on the
    # FIFO reset put the median latency at 17-33 ms at 50 Hz by the phase,
    # against 25 allowed, and CI's checkout path moved the import time, so
    # the phase, into the failing range).
    trace = os.path.join(CORPUS, "016_bounce_mild_left_50hz.csv" if imu == "mpu6050"
                         else "008_realistic_good_left_100hz.csv")
    rate = read_trace(trace).meta.get("sample_rate_hz", 100)
    per = 1000.0 / rate
    n = chip_samples(len(read_trace(trace).t_ms), rate, imu)

    def one(k):
        d = tmp_path / str(k)
        r = sim(trace, d, "--startup-ms", str(1000 + int(k * per / 4)), "--imu", imu)
        return k, d, r

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        runs = list(ex.map(one, range(4)))
    for k, d, r in runs:
        assert r.returncode == 0, r.stderr
        samples, lost, gaps, faults = end_line(r)
        assert (samples, lost, gaps, faults) == (n, 0, 0, 0), k
        t = timing_line(r)
        assert t["import_ms"] > 500  # the board's import time was charged
        design = t["design_read_period_ms"]
        assert abs(t["read_period_ms"] - design) <= 0.1 * design, (k, t)
        assert abs(t["read_period_mean_ms"] - design) <= 0.1 * design, (k, t)
        assert t["events_timed"] > 10
        assert t["latency_ms_median"] <= per / 2 + 15, (k, t)  # 15 ms: a read of 10-12 samples at 0.85 ms
        assert t["latency_ms_max"] <= design + per + 15, (k, t)
    # and the events are still replay's
    d = runs[0][1]
    rd = read_log(session_files(d)[0])
    fw = [x.decode() if isinstance(x, bytes) else x for x in rd.events()]
    assert fw == replay_of_log(session_files(d)[0], str(d / "c.csv"))


@pytest.mark.parametrize("imu,inject", [("mpu6050", "glitch@10"), ("mpu6050", "unplug@3+0.05"),
                                        ("lsm6dsox", "unplug@3+0.1"), ("qmi8658", "unplug@3+0.1"),
                                        ("lsm6dsox", "glitch@10"), ("qmi8658", "i2c@5")])
def test_no_busy_loop_after_a_glitch_or_short_unplug(corpus, tmp_path, imu, inject):
    # A read that finds nothing after a glitch or a recovery used to set the
    # next read to a time already past: the loop spun (14,000 FIFO reads in
    # 200 ms; at --speed max the sim never ended). Count the passes and
    # reads over the session: about 10 reads and 20 passes a second.
    trace = os.path.join(CORPUS, "000_ideal_left_100hz.csv")
    r = sim(trace, tmp_path, "--imu", imu, "--inject", inject, timeout=300)
    assert r.returncode == 0, r.stderr
    samples, lost, gaps, faults = end_line(r)
    t = timing_line(r)
    secs = float(re.search(r"t_ms=(\d+)", r.stdout).group(1)) / 1000
    assert t["reads"] / secs < 15 and t["passes"] / secs < 40, (t, secs)
    # every sample the chip made is read or booked lost (the LSM6DSOX and
    # QMI8658 at 104 / 112.1 Hz: the slots that pass while a chip is away
    # are on its own grid)
    assert samples + lost == chip_samples(len(read_trace(trace).t_ms), 100, imu)


def test_no_spin_on_an_empty_read_counted_in_cpython(tmp_path):
    # the same in CPython, pass by pass: a glitched FIFO count (discarded,
    # FIFO emptied) must not make the loop read again at once
    sys.path.insert(0, os.path.join(ROOT, "firmware"))
    import app as appmod
    from cues import Cues
    from drivers import probe
    from heelcore.config import Config
    from sim import chips
    from sim.i2cbus import FakeI2C

    clock = [0]  # us
    bus = FakeI2C()
    chip = bus.attach(chips.MPU6050Chip())

    def tick():
        for d in bus._devs.values():
            d.advance_to(clock[0])

    def idle(ms):
        clock[0] += ms * 1000
        tick()

    imu = probe(bus, clock_us=lambda: clock[0] & 0x3FFFFFFF)
    imu.configure(100)
    a = appmod.App(imu, Config(side="left"), {"cue_style": "quiet"}, Cues(None, None, "quiet"), None, None,
                   None, lambda: (clock[0] // 1000) & 0x3FFFFFFF, idle, "test", None, None,
                   lambda: clock[0] & 0x3FFFFFFF)
    a.start()
    a.begin_sampling()

    def run_for(ms):
        end = clock[0] + ms * 1000
        r0, p0 = a.reads, a.passes
        while clock[0] < end:
            a.loop_once()
            clock[0] += 20  # a pass takes time on a board (and here, or a spin would never end)
            tick()
        return a.reads - r0, a.passes - p0

    run_for(2000)
    chip.glitch(0x72, 0x1F, 2)  # two impossible FIFO counts: the driver discards
    reads, passes = run_for(200)
    assert a.lost > 0 and a.gaps == 1
    assert reads <= 4 and passes <= 10, (reads, passes)
    reads, passes = run_for(1000)
    assert 8 <= reads <= 12 and passes <= 25, (reads, passes)


def test_inject_spec_of_256_characters_or_more(corpus, tmp_path):
    # the bundled MicroPython dies on an argument of 256 bytes or more
    # ("FATAL: uncaught NLR"): long values reach the runner in a file
    spec = ",".join("i2c@%g" % (2 + 0.5 * i) for i in range(40))
    assert len(spec) >= 256
    trace = os.path.join(CORPUS, "000_ideal_left_100hz.csv")
    r = sim(trace, tmp_path, "--inject", spec)
    assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-1000:]
    samples, lost, gaps, faults = end_line(r)
    assert faults == 40 and samples + lost == len(read_trace(trace).t_ms)


@pytest.mark.parametrize("imu", ["mpu6050", "mpu6500", "lsm6ds3", "lsm6dsox", "qmi8658"])
def test_every_sample_counted_once_through_i2c_faults(corpus, tmp_path, imu):
    # 40 bus errors, each recovered: every sample of the trace is either
    # read or booked lost, none twice, at any phase of the sample period.
    # The chip sampled on through the error; the driver counts what the
    # FIFO reset drops from the FIFO's level (or the QMI8658's sample
    # counter). Before: from the clock, rounded, off by one every few
    # faults: samples + lost was 8196-8197 (MPU-6050, QMI8658) and
    # 8204-8216 (LSM6DS3/DSOX) for 8195 rows, by the start-up's phase.
    spec = ",".join("i2c@%g" % (2 + 0.5 * i) for i in range(40))
    trace = os.path.join(CORPUS, "000_ideal_left_100hz.csv")
    n = chip_samples(len(read_trace(trace).t_ms), 100, imu)

    def one(ms):
        return ms, sim(trace, tmp_path / str(ms), "--inject", spec, "--imu", imu, "--startup-ms", str(ms))

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as ex:
        runs = list(ex.map(one, (0, 5, 7)))
    for ms, r in runs:
        assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-1000:]
        samples, lost, gaps, faults = end_line(r)
        assert (faults, gaps, samples + lost) == (40, 40, n), (ms, samples, lost)
