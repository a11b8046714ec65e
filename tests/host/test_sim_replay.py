"""The board computes what replay computes: `heeldrop sim` of a synth trace
(the firmware in the MicroPython unix port, the emulated chip, the flash)
and `heeldrop replay` of the same trace find the same calibration and the
same reps, at several rates and on every chip family.

The trace's own sensor scale is drawn from the envelope (synth: gyro +-250 to
+-2000 deg/s, accel +-2 to +-16 g); the sim once fed those counts to the chip
as if they were at +-500 deg/s / +-4 g, so a trace recorded at +-1000 deg/s
turned the foot half as fast on the board: 0 reps and calibration_failed
('not about one axis') where replay found 10.

The chip samples the trace's motion at its own ODR (sim.runner.Samples:
sample k reads row k x trace rate / ODR, between rows by integer
interpolation, allocation-free): before, an LSM6DS at 52/104 Hz or a
QMI8658 at 56/112.1 Hz saw a 50/100 Hz trace's motion 4 or 12 % faster
(seed 2 at 50 Hz on the LSM6DSOX: a hold 1.08 s short; seed 8 on the
QMI8658: 5.8 s short; both strict xfails then).

Not yet equal, and not listed: the rows a recorder dropped (the envelope
drops up to 2 %) are still fed back to back (sample k = row k, the contract
of the demo's check and the parity tests), so the board sees the foot jump
and move up to 2 % faster where replay sees gaps: seed 1 at 200 Hz on the
MPU-6500, the first rep's start 0.9 s apart; seed 6 at 200 Hz, a hold 1.1 s
short; seed 4 at 100 Hz on the LSM6DSOX, 3 reps where replay finds 2. Filling
them in (tried: all of those agree then) changes that contract.

Exact equality is not expected here (test_firmware_app's parity tests check
the firmware's events against replay of its own log line for line): the chip
quantises at its own range and samples on its own grid (between the trace's
rows; replay sees the recorder's jittered times). So: the same calibration
stages, the same number of reps, depths within 1 deg and holds within 1 s
(bounce counts can differ where the jitter falls in a hold).
"""
import json
import os
import subprocess
import sys

import pytest

from heeldrop import simflash
from heeldrop.replay import ROOT, run_engine
from heeldrop.traceio import read_trace
from heelcore.events import to_json
from heelcore.record import LogReader

SECONDS = 75  # the first reps of each trace, to keep the test cheap

CASES = [  # (seed, rate, chip): trace scales drawn by synth, printed on failure
    (1, 100, "mpu6050"),  # +-1000 deg/s: 0 reps before (the scale)
    (7, 25, "mpu6050"),
    (1, 100, "lsm6ds3"),
    (2, 50, "lsm6dsox"),  # 52 Hz: a hold 1.08 s short before the chip's pace
    (8, 50, "qmi8658"),  # 56.05 Hz: a hold 5.8 s short before
]


def short_trace(tmp_path, seed, rate):
    full = tmp_path / "full.csv"
    subprocess.run([sys.executable, "-m", "heeldrop.cli", "synth", "--scenario", "realistic_good", "--seed",
                    str(seed), "--rate", str(rate), "-o", str(full), "-q"], check=True, cwd=ROOT)
    out = tmp_path / "trace.csv"
    with open(full) as f, open(out, "w") as g:
        for line in f:
            if line[0].isdigit() and int(line.split(",", 1)[0]) > SECONDS * 1000:
                break
            g.write(line)
    return str(out)


def sim_events(trace, flash, chip):
    r = subprocess.run([sys.executable, "-m", "heeldrop.cli", "sim", "--trace", trace, "--speed", "max",
                        "--flash", flash, "--quiet", "--imu", chip], capture_output=True, text=True,
                       timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    files = simflash.session_paths(flash)
    assert len(files) == 1, files
    with open(files[0], "rb") as f:
        log = LogReader(f.read())
    return [json.loads(e) for e in log.events()], log.header["rate_hz"]


def calibration(evs):
    return [(e["type"], e.get("stage")) for e in evs if e["type"].startswith("calibrat")]


def reps(evs):
    return [e for e in evs if e["type"] == "rep_end"]


@pytest.mark.parametrize("seed,rate,chip", CASES)
def test_sim_finds_what_replay_finds(tmp_path, seed, rate, chip):
    trace = short_trace(tmp_path, seed, rate)
    meta = read_trace(trace).meta
    scales = "trace at +-%s deg/s, +-%s g" % (meta.get("gyro_range_dps"), meta.get("accel_range_g"))
    rp = [json.loads(to_json(e)) for e in run_engine(read_trace(trace))]
    fw, _odr = sim_events(trace, str(tmp_path / "flash"), chip)
    assert reps(rp), "replay found no rep in %s: choose another seed" % trace
    assert calibration(fw) == calibration(rp), scales
    assert len(reps(fw)) == len(reps(rp)), scales
    for a, b in zip(reps(fw), reps(rp)):
        assert abs(a["depth_deg"] - b["depth_deg"]) <= 1.0, (scales, a, b)
        assert abs(a["hold_s"] - b["hold_s"]) <= 1.0, (scales, a, b)
