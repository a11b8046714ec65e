"""heeldrop convert and heeldrop events on good, cut-off, damaged and wrong files."""
import json
import os
import sys

import pytest

from heelcore.record import GAP_FIFO_OVERFLOW, LogWriter
from heeldrop.cli import main
from heeldrop.traceio import read_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "shared"))
import recsynth  # noqa: E402

HEADER = {
    "firmware": "0.1.0", "board": "pico", "imu": "mpu6050", "rate_hz": 100,
    "accel_lsb_per_g": 8192, "gyro_lsb_per_dps": 65.5, "side": "left",
    "started": "2026-11-24T06:00:00Z",
}
EVENTS = [
    '{"type": "calibrated", "t_ms": 2000, "rep": 0, "level_tilt_deg": 1.5, "axis": [0, 1, 0]}',
    '{"type": "rep_start", "t_ms": 3100, "rep": 1, "onset_ms": 3000}',
    '{"type": "rep_end", "t_ms": 9000, "rep": 1, "depth_deg": 19.5}',
]
T0 = (1 << 30) - 2500  # the tick counter wraps during the session


def make_log(path, n=1000, header=HEADER, close=True):
    buf = bytearray()
    w = LogWriter(buf.extend, header, block_samples=50)
    ev = iter(EVENTS)
    for s in recsynth.iter_samples(n):
        i = s[0]
        if 400 <= i < 412:
            if i == 400:
                w.add_gap(400, 12, GAP_FIFO_OVERFLOW)
            continue
        w.add_sample(s[0], (T0 + s[1]) % (1 << 30), *s[2:])
        if i in (200, 310, 900):
            w.add_event(next(ev))
    if close:
        w.close(0)
    with open(path, "wb") as f:
        f.write(buf)
    return bytes(buf)


def test_convert_writes_the_trace_contract(tmp_path, capsys):
    log = tmp_path / "0007.hdl"
    make_log(log)
    assert main(["convert", str(log), "--to", "csv"]) == 0
    err = capsys.readouterr().err
    assert "device lost 12 samples in 1 gap (fifo_overflow)" in err
    tr = read_trace(str(tmp_path / "0007.csv"))
    assert tr.meta["sample_rate_hz"] == 100 and tr.meta["side"] == "left" and tr.meta["imu"] == "mpu6050"
    assert tr.meta["board"] == "pico" and tr.meta["firmware"] == "0.1.0"
    assert tr.meta["started"] == "2026-11-24T06:00:00Z"
    assert len(tr.t_ms) == 988
    # the device's clock, unwrapped across the tick wrap
    assert tr.t_ms[0] == T0 and tr.t_ms[-1] == T0 + 9990 and tr.t_ms[-1] > 1 << 30
    assert tr.t_ms[400] - tr.t_ms[399] == 130  # the gap shows as missing timestamps
    assert main(["convert", str(log), "--from-zero", "-o", str(tmp_path / "z.csv")]) == 0
    z = read_trace(str(tmp_path / "z.csv"))
    assert z.t_ms[0] == 0 and z.t_ms[-1] == 9990 and z.ax == tr.ax
    S = recsynth.samples(1000)
    assert abs(tr.ax[0] - S[0][2] / 8192) < 1e-5 and abs(tr.gy[0] - S[0][6] / 65.5) < 1e-3


def test_convert_to_stdout_and_output_option(tmp_path, capsys):
    log = tmp_path / "s.hdl"
    make_log(log, n=100)
    assert main(["convert", str(log), "-o", "-"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# sample_rate_hz=100\n") and "t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps" in out
    assert main(["convert", str(log), "-o", str(tmp_path / "x.csv")]) == 0
    assert len(read_trace(str(tmp_path / "x.csv")).t_ms) == 100


def test_events_prints_the_recorded_lines(tmp_path, capsys):
    log = tmp_path / "s.hdl"
    make_log(log)
    assert main(["events", str(log)]) == 0
    cap = capsys.readouterr()
    assert cap.out.splitlines() == EVENTS
    assert cap.err == ""
    for line in cap.out.splitlines():
        json.loads(line)
    assert main(["events", str(log), "--type", "rep_end"]) == 0
    assert capsys.readouterr().out.splitlines() == EVENTS[2:]


def test_cut_off_log_converts_what_is_there(tmp_path, capsys):
    log = tmp_path / "cut.hdl"
    data = make_log(log, close=False)
    with open(log, "wb") as f:
        f.write(data[:len(data) * 3 // 4])
    assert main(["convert", str(log)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "cut.hdl: cut off: the last" in err[0] and "recovered" in err[0]
    tr = read_trace(str(tmp_path / "cut.csv"))
    assert 500 < len(tr.t_ms) < 988
    assert main(["events", str(log)]) == 0
    cap = capsys.readouterr()
    assert cap.out.splitlines() == EVENTS[:2]
    assert "cut off" in cap.err and len(cap.err.strip().splitlines()) == 1


def test_damaged_log_skips_only_the_bad_record(tmp_path, capsys):
    log = tmp_path / "bad.hdl"
    data = bytearray(make_log(log))
    data[len(data) // 2] ^= 0xFF
    with open(log, "wb") as f:
        f.write(data)
    assert main(["convert", str(log)]) == 0
    err = capsys.readouterr().err
    assert "damaged bytes skipped in 1 place" in err
    n = len(read_trace(str(tmp_path / "bad.csv")).t_ms)
    assert 988 - 50 <= n < 988


@pytest.mark.parametrize("content", [b"", b"t_ms,ax_g\n0,1\n", b"\x00" * 100, b"HDLG\x09rest"])
def test_not_a_session_log_exits_2_with_one_line(tmp_path, capsys, content):
    p = tmp_path / "x.bin"
    p.write_bytes(content)
    for cmd in ("convert", "events"):
        assert main([cmd, str(p)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(p) in err[0], err


def test_missing_file_and_folder(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "nope.hdl")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert main(["events", str(tmp_path)]) == 2
    assert "folder" in capsys.readouterr().err


def test_header_without_scales_needs_options(tmp_path, capsys):
    log = tmp_path / "noscale.hdl"
    make_log(log, n=60, header={"rate_hz": 100, "imu": "lsm6ds3"})
    assert main(["convert", str(log)]) == 2
    assert "--accel-lsb-per-g" in capsys.readouterr().err
    assert main(["convert", str(log), "--accel-lsb-per-g", "4098", "--gyro-lsb-per-dps", "28.57"]) == 0
    tr = read_trace(str(tmp_path / "noscale.csv"))
    assert abs(tr.az[0] - recsynth.samples(1)[0][4] / 4098) < 1e-5


def test_refuses_to_overwrite_the_log(tmp_path, capsys):
    log = tmp_path / "s.csv"
    make_log(log, n=60)
    assert main(["convert", str(log)]) == 2
    assert "overwrite" in capsys.readouterr().err
