"""heeldrop.importers on the real recordings in tests/data and on small
malformed files.

The real data are vendored in tests/data (see tests/data/README.md: each
data set in its own folder with its licence and attribution). Missing data
is a failure, not a skip: these tests are the only check of the importers
against real sensor files.
"""
import json
import math
import os
import statistics
import sys

import pytest

from heeldrop.importers import (
    DEG_PER_RAD, STANDARD_GRAVITY, load_any, load_ipol, load_uci, side_from_path, sniff,
)
from heeldrop.traceio import TraceError, read_trace, write_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")

# path under DATA -> (format, samples, side, rate)
IPOL = {
    "ipol-foot-gait/GaitData/1-1_lf.txt": 2913,
    "ipol-foot-gait/GaitData/1-1_rf.txt": 2913,
    "ipol-foot-gait/GaitData/2-1_lf.txt": 2924,
    "ipol-foot-gait/GaitData/2-1_rf.txt": 2925,
}
UCI = {}
for _s, _tmpl, _test in (("s1", 2187, 5949), ("s2", 1654, 5526)):
    for _u in ("u1", "u2"):
        UCI["uci-pt-exercises/%s/e1/%s/template_session.txt" % (_s, _u)] = _tmpl
        UCI["uci-pt-exercises/%s/e1/%s/test.txt" % (_s, _u)] = _test
REAL = sorted(list(IPOL) + list(UCI))


def data(rel):
    """Absolute path of a real data file; fails (never skips) when missing."""
    path = os.path.join(DATA, rel)
    if not os.path.isfile(path):
        pytest.fail("real data file missing: %s. The real recordings are expected at %s (tests/data in "
                    "the repository %s); restore them from git." % (rel, DATA, ROOT))
    return path


def test_real_data_folder_is_present():
    assert os.path.isdir(DATA), (
        "real data folder missing: expected %s (tests/data in the repository %s)" % (DATA, ROOT))


def norms(xs, ys, zs):
    return [math.sqrt(x * x + y * y + z * z) for x, y, z in zip(xs, ys, zs)]


def quietest_second(tr):
    """(median |a| in g, max |w| in deg/s) over the 1 s window with the least gyro activity."""
    rate = int(tr.meta["sample_rate_hz"])
    w = norms(tr.gx, tr.gy, tr.gz)
    a = norms(tr.ax, tr.ay, tr.az)
    best = None
    for i in range(0, len(w) - rate, max(1, rate // 4)):
        m = max(w[i:i + rate])
        if best is None or m < best[0]:
            best = (m, i)
    m, i = best
    return statistics.median(a[i:i + rate]), m


@pytest.mark.parametrize("rel", REAL)
def test_real_file_loads_with_counts_rate_and_side(rel):
    tr = load_any(data(rel))
    ipol = rel in IPOL
    assert len(tr) == (IPOL if ipol else UCI)[rel]
    assert tr.skipped == 0
    assert tr.meta["source_format"] == ("ipol-foot-gait" if ipol else "uci-pt-exercises")
    assert tr.meta["sample_rate_hz"] == (100 if ipol else 25)
    left = "_lf" in rel or "/u1/" in rel
    assert tr.meta["side"] == ("left" if left else "right")
    assert len(tr.ax) == len(tr.ay) == len(tr.az) == len(tr.gx) == len(tr.gy) == len(tr.gz) == len(tr)
    assert tr.t_ms[0] == 0
    assert all(b > a for a, b in zip(tr.t_ms, tr.t_ms[1:])), "timestamps must increase"
    period = 10 if ipol else 40
    assert all(t % period == 0 for t in tr.t_ms)
    if ipol:
        # t_ms follows PacketCounter: dropped packets are gaps, not squeezed out.
        counters = [int(float(c)) for c in tr.extra["PacketCounter"]]
        assert tr.t_ms == [(c - counters[0]) * 10 for c in counters]
        assert set(tr.extra) == {"PacketCounter", "Mag_X", "Mag_Y", "Mag_Z"}
    else:
        assert tr.t_ms == [40 * i for i in range(len(tr))]
        assert set(tr.extra) == {"time index", "mag_x", "mag_y", "mag_z"}


@pytest.mark.parametrize("rel", REAL)
def test_real_file_units_are_g_and_dps(rel):
    tr = load_any(data(rel))
    a_med, w_max = quietest_second(tr)
    assert abs(a_med - 1.0) < 0.07, "|a| at rest should be about 1 g, got %.3f" % a_med
    assert w_max < 15.0, "gyro at rest should read a few deg/s, got %.1f" % w_max
    wmax = max(norms(tr.gx, tr.gy, tr.gz))
    amax = max(norms(tr.ax, tr.ay, tr.az))
    if rel in IPOL:
        # A foot in swing turns at several hundred deg/s (as rad/s this would be ~15).
        assert 400 < wmax < 2000, wmax
        assert 1.5 < amax < 16, amax
    elif "/u2/" in rel:
        # The moving shank: knee extension peaks of ~100-300 deg/s.
        assert 80 < wmax < 600, wmax
    else:
        # The still contralateral shank.
        assert wmax < 40, wmax


@pytest.mark.parametrize("rel", sorted(IPOL))
def test_ipol_first_second_is_quiet_standing(rel):
    # Protocol: standing still for 4.6-5.2 s before walking (TrialBoundaries).
    path = data(rel)
    with open(os.path.join(os.path.dirname(path), os.path.basename(path)[:3] + ".json")) as f:
        start = json.load(f)["TrialBoundaries"][0]
    assert start > 100
    tr = load_any(path)
    a = norms(tr.ax[:100], tr.ay[:100], tr.az[:100])
    assert all(abs(x - 1.0) < 0.07 for x in a), (min(a), max(a))
    assert max(norms(tr.gx[:100], tr.gy[:100], tr.gz[:100])) < 10


@pytest.mark.parametrize("rel", ["uci-pt-exercises/s1/e1/u1/test.txt", "uci-pt-exercises/s1/e1/u2/test.txt",
                                 "uci-pt-exercises/s2/e1/u1/test.txt"])
def test_uci_first_second_is_still(rel):
    tr = load_any(data(rel))
    a = norms(tr.ax[:25], tr.ay[:25], tr.az[:25])
    assert all(abs(x - 1.0) < 0.05 for x in a), (min(a), max(a))


def test_conversion_of_first_ipol_row_is_exact():
    tr = load_any(data("ipol-foot-gait/GaitData/1-1_lf.txt"))
    # 0.0  5.090554  0.409101  8.923938  -0.002503  0.008869  -0.017776 ...
    assert tr.ax[0] == pytest.approx(5.090554 / 9.80665, rel=1e-12)
    assert tr.az[0] == pytest.approx(8.923938 / 9.80665, rel=1e-12)
    assert tr.gx[0] == pytest.approx(math.degrees(-0.002503), rel=1e-12)
    assert tr.gz[0] == pytest.approx(math.degrees(-0.017776), rel=1e-12)
    assert STANDARD_GRAVITY == 9.80665 and DEG_PER_RAD == pytest.approx(57.29577951308232)


def test_conversion_of_first_uci_row_is_exact():
    tr = load_any(data("uci-pt-exercises/s1/e1/u1/test.txt"))
    # 1;-9.685645;-1.645149;0.505022;-0.020696;0.009202;-0.008566;...
    assert tr.ax[0] == pytest.approx(-9.685645 / 9.80665, rel=1e-12)
    assert tr.gx[0] == pytest.approx(math.degrees(-0.020696), rel=1e-12)
    assert tr.extra["time index"][:2] == ["1", "2"]


def test_uci_moving_shank_tilts_70_to_90_degrees():
    # Integrating gyr_z over the first rep gives the knee extension's tilt:
    # the check that the gyro really is in rad/s (now deg/s).
    tr = load_any(data("uci-pt-exercises/s1/e1/u2/test.txt"))
    ang, lo, hi = 0.0, 0.0, 0.0
    for w in tr.gz[:400]:
        ang += w * 0.04
        lo, hi = min(lo, ang), max(hi, ang)
    assert 65 < hi - lo < 95, hi - lo


def test_imported_trace_writes_as_trace_csv_and_reads_back(tmp_path):
    tr = load_any(data("uci-pt-exercises/s2/e1/u1/template_session.txt"))
    p = str(tmp_path / "u1.csv")
    write_trace(p, tr, tr.meta)
    back = load_any(p)
    assert back.meta["source_format"] == "uci-pt-exercises"  # kept from the written metadata
    assert back.meta["side"] == "left" and back.meta["sample_rate_hz"] == 25
    assert back.t_ms == tr.t_ms
    assert max(abs(a - b) for a, b in zip(back.ax, tr.ax)) <= 5e-6
    assert max(abs(a - b) for a, b in zip(back.gz, tr.gz)) <= 5e-4
    assert sniff(p) == "trace-csv"


# ------------------------------------------------------------ sniffing and small files

IPOL_HEAD = "Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z\tMag_X\tMag_Y\tMag_Z\n"
UCI_HEAD = "time index;acc_x;acc_y;acc_z;gyr_x;gyr_y;gyr_z;mag_x;mag_y;mag_z\r\n"


def ipol_row(c, gz="0.1"):
    return "%s\t0.0\t0.0\t9.80665\t0.0\t0.0\t%s\t0.1\t0.2\t0.3\n" % (c, gz)


def uci_row(n, az="9.80665"):
    return "%s;0;0;%s;0;%s;0;0.5;0.5;0.1\r\n" % (n, az, "0.5")


def put(tmp_path, name, text):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", newline="")
    return str(p)


def test_sniff_and_trace_csv_passthrough(tmp_path):
    p = put(tmp_path, "a.csv", "t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n0,0,0,1,0,0,0\n4,0,0,1,0,0,0\n"
                               "8,0,0,1,0,0,0\n")
    assert sniff(p) == "trace-csv"
    tr = load_any(p)
    assert tr.meta == {"source_format": "trace-csv", "sample_rate_hz": 250}
    assert sniff(put(tmp_path, "b.txt", IPOL_HEAD)) == "ipol-foot-gait"
    assert sniff(put(tmp_path, "c.txt", UCI_HEAD)) == "uci-pt-exercises"


def test_ipol_units_gaps_and_counter_wrap(tmp_path):
    p = put(tmp_path, "9-9_rf.txt", IPOL_HEAD + ipol_row("65533.0") + ipol_row("65535.0", gz="-1")
            + ipol_row("0.0") + ipol_row("2.0"))
    tr = load_any(p)
    assert tr.t_ms == [0, 20, 30, 50]
    assert tr.az == [1.0] * 4
    assert tr.gz[1] == pytest.approx(-57.29577951308232)
    assert tr.meta["side"] == "right" and tr.meta["sample_rate_hz"] == 100


def test_ipol_other_rate(tmp_path):
    p = put(tmp_path, "x.txt", IPOL_HEAD.replace("100 Hz", "60 Hz") + ipol_row("10") + ipol_row("13"))
    tr = load_any(p)
    assert tr.t_ms == [0, 50] and tr.meta["sample_rate_hz"] == 60 and "side" not in tr.meta


def test_uci_fractional_time_index(tmp_path):
    p = put(tmp_path, "s1_u2_test.txt", UCI_HEAD + uci_row(1) + uci_row("1.5") + uci_row(3))
    tr = load_any(p)
    assert tr.t_ms == [0, 20, 80]
    assert tr.meta["side"] == "right"
    assert tr.gy[0] == pytest.approx(math.degrees(0.5))


def test_side_from_path_and_override(tmp_path):
    assert side_from_path("GaitData/1-1_lf.txt") == "left"
    assert side_from_path("GaitData/1-1_rf.txt") == "right"
    assert side_from_path("s1/e1/u1/test.txt") == "left"
    assert side_from_path("s1/e1/u2/test.txt") == "right"
    assert side_from_path("s1/e1/u3/test.txt") is None
    assert side_from_path("walk.txt") is None
    p = put(tmp_path, "1-1_lf.txt", IPOL_HEAD + ipol_row("0"))
    assert load_any(p, side="right").meta["side"] == "right"


BAD = [
    # (file name, text, line, words)
    ("empty.txt", "", 1, ["empty"]),
    ("ipol_badrate.txt", "Acquisition frequency: fast\n", 1, ["Acquisition frequency"]),
    ("ipol_nohead.txt", "Acquisition frequency: 100 Hz\n\n", 1, ["no header"]),
    ("ipol_missing.txt", "Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\n", 2,
     ["missing column 'Gyr_Z'"]),
    ("ipol_dup.txt", IPOL_HEAD.replace("Mag_Z", "Acc_X") + ipol_row(0), 2, ["duplicate column 'Acc_X'"]),
    ("ipol_nosamples.txt", IPOL_HEAD, 2, ["no samples"]),
    ("ipol_nonnum.txt", IPOL_HEAD + ipol_row(0) + ipol_row(1, gz="x1"), 4, ["'Gyr_Z'", "not a number", "'x1'"]),
    ("ipol_nan.txt", IPOL_HEAD + ipol_row(0) + ipol_row(1, gz="nan"), 4, ["'Gyr_Z'", "NaN"]),
    ("ipol_count.txt", IPOL_HEAD + ipol_row(0) + "1\t0\t0\n", 4, ["expected 10 fields", "got 3"]),
    ("ipol_back.txt", IPOL_HEAD + ipol_row(5) + ipol_row(6) + ipol_row(4), 5, ["backwards", "PacketCounter 4"]),
    ("ipol_halfcount.txt", IPOL_HEAD + ipol_row(0) + ipol_row("1.5"), 4, ["PacketCounter", "whole number"]),
    ("uci_missing.txt", "time index;acc_x;acc_y;acc_z;gyr_x;gyr_y\r\n", 1, ["missing column 'gyr_z'"]),
    ("uci_nosamples.txt", UCI_HEAD + "\r\n", 1, ["no samples"]),
    ("uci_nonnum.txt", UCI_HEAD + uci_row(1) + uci_row(2) + uci_row(3, az="9,8"), 4,
     ["'acc_z'", "not a number: '9,8'", "decimal comma"]),
    ("uci_count.txt", UCI_HEAD + uci_row(1) + "2;0;0;9.8\r\n", 3, ["expected 10 fields", "got 4"]),
    ("uci_text.txt", UCI_HEAD + uci_row(1) + uci_row(2, az="g"), 3, ["'acc_z'", "not a number"]),
    ("uci_inf.txt", UCI_HEAD + uci_row(1, az="-inf"), 2, ["'acc_z'", "infinity"]),
    ("uci_back.txt", UCI_HEAD + uci_row(1) + uci_row(3) + uci_row(2), 4, ["backwards"]),
    ("uci_zero.txt", UCI_HEAD + uci_row(0), 2, ["time index"]),
    ("uci_bytes.txt", UCI_HEAD.encode() + b"1;0;0;9.8;0;0;0;0;0;\xff\r\n", 2, ["UTF-8"]),
]


@pytest.mark.parametrize("name,text,line,words", BAD, ids=[b[0] for b in BAD])
def test_malformed_files_give_one_line_errors(tmp_path, name, text, line, words):
    p = put(tmp_path, name, text)
    with pytest.raises(TraceError) as ei:
        load_any(p)
    e = ei.value
    s = str(e)
    assert "\n" not in s and s == "%s:%d: %s" % (p, line, e.message), s
    assert e.line == line, s
    for w in words:
        assert w in e.message, (w, s)


def test_skip_bad_in_imported_formats(tmp_path):
    p = put(tmp_path, "u.txt", UCI_HEAD + uci_row(1) + uci_row(2, az="x") + uci_row(3) + uci_row(2) + uci_row(5)
            + "6;0;0\r\n")
    tr = load_any(p, skip_bad=True)
    assert tr.t_ms == [0, 80, 160]
    assert tr.skipped == 3 and [ln for ln, _ in tr.bad_lines] == [3, 5, 7]
    q = put(tmp_path, "i.txt", IPOL_HEAD + ipol_row(0) + ipol_row(1, gz="bad") + ipol_row(2) + ipol_row(1)
            + ipol_row(3))
    tr = load_ipol(q, skip_bad=True)
    assert tr.t_ms == [0, 20, 30] and tr.skipped == 2


def test_direct_loaders_match_load_any():
    p = data("uci-pt-exercises/s2/e1/u2/template_session.txt")
    assert load_uci(p).gz == load_any(p).gz
    q = data("ipol-foot-gait/GaitData/2-1_rf.txt")
    assert load_ipol(q).t_ms == load_any(q).t_ms


def test_read_trace_rejects_foreign_formats_with_a_hint(tmp_path):
    p = put(tmp_path, "u.txt", UCI_HEAD + uci_row(1))
    with pytest.raises(TraceError) as ei:
        read_trace(p)
    assert ei.value.line == 1 and "';'" in ei.value.message


def test_missing_data_fails_with_the_expected_location(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "DATA", str(tmp_path / "nowhere"), raising=True)
    with pytest.raises(pytest.fail.Exception) as ei:
        data("ipol-foot-gait/GaitData/1-1_lf.txt")
    assert "nowhere" in str(ei.value) and "tests/data" in str(ei.value)


def test_streams_give_the_same_samples_and_events_as_whole_reads():
    from heeldrop.importers import open_any
    from heeldrop.replay import run_engine
    for rel in (("ipol-foot-gait", "GaitData", "1-1_lf.txt"), ("uci-pt-exercises", "s1", "e1", "u2", "test.txt")):
        p = os.path.join(DATA, *rel)
        whole = load_any(p)
        with open_any(p) as st:
            assert st.meta == whole.meta
            blocks = list(st.blocks())
        assert sum((b[0] for b in blocks), []) == whole.t_ms
        assert sum((b[6] for b in blocks), []) == whole.gz
        with open_any(p) as st:
            assert run_engine(st) == run_engine(whole)


def test_a_data_set_file_of_any_length_is_read_in_the_same_memory(tmp_path):
    import tracemalloc
    from heeldrop.importers import open_any
    head = "time index;acc_x;acc_y;acc_z;gyr_x;gyr_y;gyr_z;mag_x;mag_y;mag_z\n"
    row = "%d;0.1;0.2;9.8;0.01;0.02;0.03;0.1;0.2;0.3\n"
    peaks = []
    for n in (12_000, 48_000):
        p = tmp_path / ("u%d" % n) / "s1" / "e1" / "u2"
        p.mkdir(parents=True)
        f = p / "test.txt"
        with open(str(f), "w") as out:
            out.write(head)
            for i in range(1, n + 1, 1000):
                out.write("".join(row % k for k in range(i, min(n, i + 999) + 1)))
        tracemalloc.start()
        with open_any(str(f)) as st:
            got = sum(len(b[0]) for b in st.blocks())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert got == n
    assert peaks[1] < 1.25 * peaks[0], peaks
