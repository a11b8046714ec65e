"""heeldrop.traceio: the trace CSV contract (docs/TRACE-CSV.md)."""
import math
import os
import pickle
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heeldrop.errors import UserError
from heeldrop.traceio import (
    COLUMNS, HEADER, Trace, TraceError, format_trace, iter_samples, read_trace, write_trace,
)

ROW = "0,0.01210,-0.02002,0.99103,0.153,-0.305,0.061"
EXAMPLE = (
    "# sample_rate_hz=100\n# side=left\n# imu=mpu6050\n" + HEADER + "\n"
    "0,0.01210,-0.02002,0.99103,0.153,-0.305,0.061\n"
    "10,0.01190,-0.01980,0.99150,0.122,-0.290,0.076\n"
)


def put(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", newline="")
    return str(p)


def body(*rows, header=HEADER, meta=""):
    return meta + header + "\n" + "".join(r + "\n" for r in rows)


def ok_row(t, gx="0.1"):
    return "%d,0.0,0.0,1.0,%s,0.0,0.0" % (t, gx)


# ------------------------------------------------------------ the happy path

def test_contract_example(tmp_path):
    tr = read_trace(put(tmp_path, EXAMPLE))
    assert tr.meta == {"sample_rate_hz": 100, "side": "left", "imu": "mpu6050"}
    assert tr.t_ms == [0, 10]
    assert tr.ax == [0.0121, 0.0119] and tr.az == [0.99103, 0.9915]
    assert tr.gx == [0.153, 0.122] and tr.gz == [0.061, 0.076]
    assert tr.extra == {} and tr.skipped == 0 and tr.bad_lines == []
    assert len(tr) == 2 and tr.path.endswith("t.csv")
    assert all(isinstance(t, int) for t in tr.t_ms)
    assert list(iter_samples(tr))[1] == (10, 0.0119, -0.0198, 0.9915, 0.122, -0.29, 0.076)


def test_columns_in_any_order_and_extra_columns_kept(tmp_path):
    text = ("temp_c,gz_dps,t_ms,note,az_g,ay_g,ax_g,gy_dps,gx_dps\n"
            "21.5,3,0,hello,1,2,0.5,4,5\n"
            "21.6,-3,7,\"a, b\",1.5,2.5,0.25,-4,-5\n")
    tr = read_trace(put(tmp_path, text))
    assert tr.t_ms == [0, 7]
    assert tr.ax == [0.5, 0.25] and tr.ay == [2.0, 2.5] and tr.az == [1.0, 1.5]
    assert tr.gx == [5.0, -5.0] and tr.gy == [4.0, -4.0] and tr.gz == [3.0, -3.0]
    assert tr.extra == {"temp_c": ["21.5", "21.6"], "note": ["hello", "a, b"]}


def test_extra_columns_survive_the_slow_path(tmp_path):
    text = "t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps,q\n0,0,0,1,0,0,0,a\n5,0,0,1,0,0,0\n9,0,0,1,0,0,0,c\n"
    tr = read_trace(put(tmp_path, text), skip_bad=True)
    assert tr.t_ms == [0, 9] and tr.extra == {"q": ["a", "c"]} and tr.skipped == 1


def test_header_names_may_carry_spaces_crlf_and_bom(tmp_path):
    text = "\ufeff# side=right\r\n t_ms , ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\r\n0,0,0,1,0,0,0\r\n\r\n10,0,0,1,0,0,0\r\n"
    tr = read_trace(put(tmp_path, text))
    assert tr.t_ms == [0, 10] and tr.meta == {"side": "right"}


def test_blank_lines_and_empty_rows_are_ignored(tmp_path):
    text = "\n# side=left\n\n" + HEADER + "\n0,0,0,1,0,0,0\n\n,,,,,,\n10,0,0,1,0,0,0\n\n"
    tr = read_trace(put(tmp_path, text))
    assert tr.t_ms == [0, 10] and tr.skipped == 0


def test_equal_timestamps_and_gaps_are_allowed(tmp_path):
    tr = read_trace(put(tmp_path, body(ok_row(0), ok_row(10), ok_row(10), ok_row(35))))
    assert tr.t_ms == [0, 10, 10, 35]


def test_numbers_in_exponent_and_signed_forms(tmp_path):
    tr = read_trace(put(tmp_path, body("+5,1e-3,-2.5E+1,.5,5.,0,-0")))
    assert tr.t_ms == [5] and tr.ax == [0.001] and tr.ay == [-25.0] and tr.az == [0.5] and tr.gx == [5.0]


def test_metadata_unknown_keys_kept_and_known_keys_parsed(tmp_path):
    meta = ("# sample_rate_hz=104.5\n#variant = bent-knee\n# started=2026-11-24T06:00:00Z\n"
            "# operator=Ann Lee\n# empty=\n#\n")
    tr = read_trace(put(tmp_path, body(ok_row(0), meta=meta)))
    assert tr.meta == {"sample_rate_hz": 104.5, "variant": "bent-knee", "started": "2026-11-24T06:00:00Z",
                       "operator": "Ann Lee", "empty": ""}


# ------------------------------------------------------------ errors: exact line, file name, one line

H = HEADER
ERRORS = [
    # (name, text, line, words that must be in the message)
    ("empty file", "", 1, ["empty file"]),
    ("blank file", "\n\n  \n", 1, ["empty file"]),
    ("metadata only", "# side=left\n# imu=x\n", 2, ["no header"]),
    ("numbers without header", ROW + "\n", 1, ["no header"]),
    ("header without samples", "# side=left\n" + H + "\n\n", 2, ["header but no samples"]),
    ("missing column", "t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps\n" + "0,0,0,1,0,0\n", 1, ["missing column", "'gz_dps'"]),
    ("missing, renamable", "time,acc_x,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + ROW + "\n", 1,
     ["'t_ms'", "'ax_g'", "rename 'time' to 't_ms'", "rename 'acc_x' to 'ax_g'", "in g"]),
    ("missing, gyro alias", "t_ms,ax_g,ay_g,az_g,gyro_x,gy_dps,gz_dps\n" + ROW + "\n", 1,
     ["rename 'gyro_x' to 'gx_dps'", "degrees per second"]),
    ("missing, wrong case", "t_ms,AX_G,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + ROW + "\n", 1, ["rename 'AX_G' to 'ax_g'"]),
    ("semicolons", H.replace(",", ";") + "\n" + ROW.replace(",", ";") + "\n", 1, ["';'", "commas"]),
    ("duplicate column", H + ",ay_g\n" + ROW + ",0\n", 1, ["duplicate column 'ay_g'"]),
    ("duplicate extra column", H + ",x,x\n" + ROW + ",1,2\n", 1, ["duplicate column 'x'"]),
    ("non-numeric", body(ok_row(0), "10,0.1,zero,1,0,0,0"), 3, ["'ay_g'", "not a number", "'zero'"]),
    ("non-numeric t", body(ok_row(0), "ten,0.1,0,1,0,0,0"), 3, ["'t_ms'", "not a number", "'ten'"]),
    ("empty value", body(ok_row(0), "10,0.1,0,1,0,,0"), 3, ["'gy_dps'", "empty"]),
    ("underscore digits", body(ok_row(0), "10,1_000,0,1,0,0,0"), 3, ["'ax_g'", "not a number"]),
    ("NaN", body(ok_row(0), ok_row(10), ok_row(20, gx="NaN")), 4, ["'gx_dps'", "NaN"]),
    ("nan lower", body(ok_row(0), "10,nan,0,1,0,0,0"), 3, ["'ax_g'", "NaN"]),
    ("inf", body(ok_row(0), ok_row(10, gx="inf")), 3, ["'gx_dps'", "infinity"]),
    ("-Infinity", body(ok_row(0), "10,0,0,-Infinity,0,0,0"), 3, ["'az_g'", "infinity"]),
    ("t not integer", body(ok_row(0), "10.5,0,0,1,0,0,0"), 3, ["t_ms", "integer", "'10.5'"]),
    ("t written as float", body("0.0,0,0,1,0,0,0"), 2, ["t_ms", "integer"]),
    ("time backwards", body(ok_row(0), ok_row(10), ok_row(20), ok_row(15)), 5,
     ["backwards", "t_ms=15", "t_ms=20"]),
    ("too few fields", body(ok_row(0), "10,0,0,1,0,0"), 3, ["expected 7 fields", "got 6"]),
    ("too many fields", body(ok_row(0), ok_row(10) + ",9"), 3, ["expected 7 fields", "got 8"]),
    ("second header row", body(ok_row(0), H, ok_row(10)), 3, ["second header row"]),
    ("comment after header", body(ok_row(0), "# side=left", ok_row(10)), 3, ["before the header"]),
    ("bad side", "# side=both\n" + body(ok_row(0)), 1, ["side", "'left' or 'right'", "'both'"]),
    ("bad rate", "# side=left\n# sample_rate_hz=fast\n" + body(ok_row(0)), 2, ["sample_rate_hz", "number"]),
    ("zero rate", "# sample_rate_hz=0\n" + body(ok_row(0)), 1, ["sample_rate_hz", "positive"]),
    ("bad variant", "# variant=bouncy\n" + body(ok_row(0)), 1, ["variant"]),
    ("bad metadata line", "# side: left\n" + body(ok_row(0)), 1, ["metadata", "key=value"]),
    ("duplicate metadata", "# side=left\n# side=right\n" + body(ok_row(0)), 2, ["duplicate metadata key 'side'"]),
    ("line numbers count blank lines", "\n# imu=x\n\n" + H + "\n\n" + ok_row(0) + "\n\n" + "5,x,0,1,0,0,0\n", 8,
     ["'ax_g'"]),
]


@pytest.mark.parametrize("name,text,line,words", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_name_file_line_and_problem(tmp_path, name, text, line, words):
    path = put(tmp_path, text, name="bad trace.csv")
    with pytest.raises(TraceError) as ei:
        read_trace(path)
    e = ei.value
    s = str(e)
    assert "\n" not in s and "\r" not in s, s
    assert s == "%s:%d: %s" % (path, line, e.message), s
    assert e.path == path and e.line == line, s
    for w in words:
        assert w in e.message, (w, s)
    assert isinstance(e, UserError)  # the CLI prints it as one line


def test_not_utf8_is_an_error_with_its_line(tmp_path):
    path = put(tmp_path, (body(ok_row(0), ok_row(10))).encode() + b"20,0,0,1,\xff\xfe,0,0\n")
    with pytest.raises(TraceError) as ei:
        read_trace(path)
    assert ei.value.line == 4 and "UTF-8" in ei.value.message and str(ei.value).startswith(path + ":4: ")


def test_not_utf8_in_header_is_fatal_even_when_skipping(tmp_path):
    path = put(tmp_path, b"t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\xe9\n" + ROW.encode() + b"\n")
    with pytest.raises(TraceError) as ei:
        read_trace(path, skip_bad=True)
    assert ei.value.line == 1


def test_missing_file_is_a_trace_error(tmp_path):
    path = str(tmp_path / "nope.csv")
    with pytest.raises(TraceError) as ei:
        read_trace(path)
    assert str(ei.value).startswith(path + ":0: cannot read file")


def test_trace_error_attributes_and_pickle():
    e = TraceError("a.csv", 7, "bad\nthing")
    assert str(e) == "a.csv:7: bad thing" and (e.path, e.line, e.message) == ("a.csv", 7, "bad thing")
    e2 = pickle.loads(pickle.dumps(e))
    assert str(e2) == str(e)


# ------------------------------------------------------------ skip_bad

def test_skip_bad_counts_and_lists_bad_lines(tmp_path):
    text = body(
        ok_row(0),            # line 2
        "10,0,x,1,0,0,0",     # 3 non-numeric
        ok_row(20),           # 4
        "30,0,0,1,0,0",       # 5 field count
        ok_row(40, gx="nan"),  # 6 NaN
        "50.5,0,0,1,0,0,0",   # 7 t not integer
        ok_row(15),           # 8 backwards (after 20): dropped
        ok_row(60),           # 9
        "",                   # 10 blank, not counted
        ok_row(70),           # 11
    )
    path = put(tmp_path, text)
    with pytest.raises(TraceError) as ei:
        read_trace(path)
    assert ei.value.line == 3
    tr = read_trace(path, skip_bad=True)
    assert tr.t_ms == [0, 20, 60, 70]
    assert len(tr.ax) == len(tr.gz) == 4
    assert tr.skipped == 5
    assert [ln for ln, _ in tr.bad_lines] == [3, 5, 6, 7, 8]
    assert "backwards" in tr.bad_lines[-1][1]
    assert all("\n" not in m for _, m in tr.bad_lines)


def test_skip_bad_non_utf8_line(tmp_path):
    path = put(tmp_path, body(ok_row(0)).encode() + b"10,0,0,1,\xff,0,0\n" + ok_row(20).encode() + b"\n")
    tr = read_trace(path, skip_bad=True)
    assert tr.t_ms == [0, 20] and tr.skipped == 1 and tr.bad_lines[0][0] == 3


def test_skip_bad_does_not_skip_header_problems(tmp_path):
    for text in ("t_ms,ax_g\n0,0\n", "# side=up\n" + body(ok_row(0)), ""):
        with pytest.raises(TraceError):
            read_trace(put(tmp_path, text), skip_bad=True)


def test_skip_bad_with_nothing_left_is_an_error(tmp_path):
    with pytest.raises(TraceError) as ei:
        read_trace(put(tmp_path, "# a=b\n" + body("x,0,0,1,0,0,0", "y,0,0,1,0,0,0")), skip_bad=True)
    assert ei.value.line == 2 and "no samples" in ei.value.message


# ------------------------------------------------------------ writing

def test_write_format_is_the_contract(tmp_path):
    cols = {"t_ms": [0, 10], "ax": [0.0121, 0.0119], "ay": [-0.02002, -0.0198], "az": [0.99103, 0.9915],
            "gx": [0.153, 0.122], "gy": [-0.305, -0.29], "gz": [0.061, 0.076]}
    p = str(tmp_path / "o.csv")
    write_trace(p, cols, {"sample_rate_hz": 100, "side": "left", "imu": "mpu6050"})
    with open(p, "rb") as f:
        assert f.read().decode() == EXAMPLE


def test_write_accepts_column_names_and_trace(tmp_path):
    cols = {c: [1, 2] if c == "t_ms" else [0.5, -0.5] for c in COLUMNS}
    p1, p2 = str(tmp_path / "a.csv"), str(tmp_path / "b.csv")
    write_trace(p1, cols, {"side": "right"})
    tr = read_trace(p1)
    write_trace(p2, tr)  # meta defaults to the trace's
    assert open(p1, "rb").read() == open(p2, "rb").read()
    assert tr.meta == {"side": "right"}


def test_write_rounds_and_never_writes_negative_zero():
    text = format_trace({"t_ms": [0], "ax": [-1e-9], "ay": [1.234565], "az": [2 / 3],
                         "gx": [-0.0004], "gy": [123.4567], "gz": [-0.0]}, {})
    assert text.splitlines()[1] == "0,0.00000,1.23456,0.66667,0.000,123.457,0.000" or \
        text.splitlines()[1] == "0,0.00000,1.23457,0.66667,0.000,123.457,0.000"
    assert "-0.0" not in text


def test_write_keeps_extra_columns_quoted(tmp_path):
    tr = Trace([0, 5], [0] * 2, [0] * 2, [1] * 2, [0] * 2, [0] * 2, [0] * 2,
               extra={"note": ["a, b", 'say "hi"'], "n": [1, 2]})
    p = str(tmp_path / "x.csv")
    write_trace(p, tr, {})
    back = read_trace(p)
    assert back.extra == {"note": ["a, b", 'say "hi"'], "n": ["1", "2"]}
    assert open(p).readline().strip() == HEADER + ",note,n"


@pytest.mark.parametrize("cols,meta,words", [
    ({"t_ms": [0, 1], "ax": [0, 0]}, {}, "missing column"),
    ({**{a: [0.0, 0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [5, 4]}, {}, "backwards"),
    ({**{a: [0.0, float("nan")] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0, 1]}, {}, "NaN"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0.5]}, {}, "integers"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0, 1]}, {}, "values"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0]}, {"side": "up"}, "side"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0]}, {"bad key": 1}, "key"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0]}, {"k": "a\nb"}, "one line"),
    ({**{a: [0.0] for a in ("ax", "ay", "az", "gx", "gy", "gz")}, "t_ms": [0], "typo": [1]}, {}, "unknown"),
])
def test_write_refuses_what_the_reader_would_reject(cols, meta, words):
    with pytest.raises(ValueError) as ei:
        format_trace(cols, meta)
    assert words in str(ei.value)


def test_write_is_atomic_and_deterministic(tmp_path):
    cols = {a: [0.1 * i for i in range(50)] for a in ("ax", "ay", "az", "gx", "gy", "gz")}
    cols["t_ms"] = list(range(0, 500, 10))
    p = str(tmp_path / "d.csv")
    write_trace(p, cols, {"side": "left"})
    first = open(p, "rb").read()
    write_trace(p, cols, {"side": "left"})
    assert open(p, "rb").read() == first
    assert os.listdir(str(tmp_path)) == ["d.csv"]


# ------------------------------------------------------------ round trip (hypothesis)

finite = st.floats(allow_nan=False, allow_infinity=False)
sample = st.tuples(st.integers(0, 5000), finite, finite, finite, finite, finite, finite)
meta_key = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True).filter(
    lambda k: k not in ("sample_rate_hz", "side", "variant"))
meta_value = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=20).map(
    str.strip)
known = st.fixed_dictionaries({}, optional={
    "sample_rate_hz": st.one_of(st.integers(1, 4000), st.floats(0.5, 4000.0)),
    "side": st.sampled_from(["left", "right"]),
    "variant": st.sampled_from(["straight-knee", "bent-knee"]),
})


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(sample, min_size=1, max_size=40), unknown=st.dictionaries(meta_key, meta_value, max_size=4),
       known_meta=known)
def test_round_trip(tmp_path_factory, rows, unknown, known_meta):
    t = 0
    cols = {a: [] for a in ("t_ms", "ax", "ay", "az", "gx", "gy", "gz")}
    for r in rows:
        t += r[0]
        cols["t_ms"].append(t)
        for a, v in zip(("ax", "ay", "az", "gx", "gy", "gz"), r[1:]):
            cols[a].append(v)
    meta = dict(known_meta)
    meta.update(unknown)
    d = tmp_path_factory.mktemp("rt")
    p1, p2 = str(d / "a.csv"), str(d / "b.csv")
    write_trace(p1, cols, meta)
    tr = read_trace(p1)
    assert tr.t_ms == cols["t_ms"]
    for a, decimals in (("ax", 5), ("ay", 5), ("az", 5), ("gx", 3), ("gy", 3), ("gz", 3)):
        for got, want in zip(getattr(tr, a), cols[a]):
            assert math.isfinite(got)
            assert abs(got - want) <= 0.5 * 10 ** -decimals + abs(want) * 1e-15, (a, got, want)
    want_meta = {k: (v if k in known_meta else str(v)) for k, v in meta.items()}
    assert tr.meta == want_meta
    # Writing what was read gives the same bytes.
    write_trace(p2, tr)
    assert open(p1, "rb").read() == open(p2, "rb").read()


# ------------------------------------------------------------ speed

def test_read_speed_100k_lines(tmp_path):
    n = 100_000  # 100 s at 1 kHz; the 10 minute trace takes about 6 times this
    cols = {a: [((i * 7919) % 2000) / 1000.0 - 1.0 for i in range(n)] for a in ("ax", "ay", "az")}
    cols.update({a: [((i * 104729) % 100000) / 100.0 - 500.0 for i in range(n)] for a in ("gx", "gy", "gz")})
    cols["t_ms"] = list(range(n))
    p = str(tmp_path / "big.csv")
    write_trace(p, cols, {"sample_rate_hz": 1000})
    t0 = time.perf_counter()
    tr = read_trace(p)
    dt = time.perf_counter() - t0
    assert len(tr) == n
    assert dt < 2.5, "reading %d lines took %.2f s" % (n, dt)


# ------------------------------------------------------------ reading a block at a time

def _outcome(path, skip_bad, block_bytes=None):
    """(columns, extra, skipped, bad_lines) or ('error', line, message)."""
    from heeldrop.traceio import open_trace
    try:
        with open_trace(path, skip_bad=skip_bad, block_bytes=block_bytes) as st:
            tr = st.collect()
    except TraceError as e:
        return ("error", e.line, e.message)
    return ([tr.t_ms, tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz], tr.extra, tr.skipped, tr.bad_lines, tr.meta)


STREAM_CASES = [text for _n, text, _l, _w in ERRORS] + [
    EXAMPLE,
    EXAMPLE.replace("\n", "\r\n"),
    EXAMPLE.replace("\n", "\r"),
    "\ufeff" + EXAMPLE,
    body(ok_row(0), "", ok_row(10), ",,,,,,", ok_row(20), "10,0,x,1,0,0,0", ok_row(30), ok_row(25), ok_row(40)),
    HEADER + ",note\n" + "".join(ok_row(10 * i) + ",n%d\n" % i for i in range(40)),
    "# side=left\n\n# imu=x\n" + HEADER + "\n" + "".join(ok_row(10 * i) + "\n" for i in range(300)) + "3000,0,0,1",
]


@pytest.mark.parametrize("k", range(len(STREAM_CASES)))
def test_a_stream_reads_the_same_at_any_block_size(tmp_path, k):
    """Block boundaries anywhere (even inside a line, a \\r\\n or the header) change nothing:
    the same samples, the same error at the same line."""
    text = STREAM_CASES[k]
    path = put(tmp_path, text)
    for skip_bad in (False, True):
        want = _outcome(path, skip_bad)
        for block in (1, 2, 7, 64, 1000):
            assert _outcome(path, skip_bad, block) == want, (block, skip_bad, text[:80])


def test_a_stream_across_blocks_finds_time_going_backwards_and_bad_bytes(tmp_path):
    rows = [ok_row(10 * i) for i in range(2000)]
    rows[1500] = ok_row(10)
    path = put(tmp_path, body(*rows))
    from heeldrop.traceio import open_trace
    with pytest.raises(TraceError) as ei:
        with open_trace(path, block_bytes=4096) as st:
            st.collect()
    assert ei.value.line == 1502 and "backwards" in ei.value.message
    data = body(*[ok_row(10 * i) for i in range(2000)]).encode()
    cut = data.index(b"\n15000,") + 4
    path = put(tmp_path, data[:cut] + b"\xff" + data[cut + 1:])
    with pytest.raises(TraceError) as ei:
        with open_trace(path, block_bytes=4096) as st:
            st.collect()
    assert ei.value.line == 1502 and "UTF-8" in ei.value.message


def _write_rows(path, n):
    with open(path, "w") as f:
        f.write("# sample_rate_hz=100\n" + HEADER + "\n")
        for i in range(0, n, 1000):
            f.write("".join("%d,0.01,-0.02,0.99,0.153,-0.305,0.061\n" % (10 * j) for j in range(i, min(n, i + 1000))))


def test_a_stream_reads_a_file_of_any_length_in_the_same_memory(tmp_path):
    """Peak memory (tracemalloc) reading 30 000 and 120 000 lines a block at a time: the same,
    within 25 %. read_trace, which keeps every sample, needs about 4 times as much for 4 times the file."""
    import tracemalloc
    from heeldrop.traceio import open_trace

    peaks = []
    for n in (30_000, 120_000):
        p = str(tmp_path / ("t%d.csv" % n))
        _write_rows(p, n)
        tracemalloc.start()
        with open_trace(p, block_bytes=64 << 10) as st:
            got = sum(len(b[0]) for b in st.blocks())
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert got == n and st.samples == n and st.last_t == 10 * (n - 1)
    assert peaks[1] < 1.25 * peaks[0], peaks
