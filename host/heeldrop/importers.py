"""Load IMU recordings from other formats into a Trace (g, deg/s, t_ms).

    from heeldrop.importers import load_any
    tr = load_any("tests/data/uci-pt-exercises/s1/e1/u2/test.txt")
    tr.meta  # {'source_format': 'uci-pt-exercises', 'sample_rate_hz': 25, 'side': 'right', ...}

load_any(path, skip_bad=False, side=None) sniffs the format from the first
line:

- trace CSV (docs/TRACE-CSV.md), read by heeldrop.traceio;
- "ipol-foot-gait": Xsens export of the IPOL gait data set. Line 1
  `Acquisition frequency: 100 Hz`, line 2 a tab-separated header
  `PacketCounter Acc_X Acc_Y Acc_Z Gyr_X Gyr_Y Gyr_Z Mag_X Mag_Y Mag_Z`, then
  samples. t_ms comes from PacketCounter and the frequency, so dropped
  packets show up as gaps in t_ms (the real files have 0 to 80 of them) and
  a 16-bit counter wrap is followed;
- "uci-pt-exercises": the UCI physical therapy exercises data set.
  Semicolon-separated, header `time index;acc_x;acc_y;acc_z;gyr_x;...;mag_z`,
  25 Hz, t = 0.04 * (n - 1) s for time index n (fractional n allowed).

Units. Both data sets give acceleration in m/s^2 (divided here by
9.80665 to get g) and angular rate in rad/s (converted to deg/s). The gyro
unit was checked on the real files, not taken on trust: (1) integrating the
largest IPOL foot gyro axis over each labelled swing phase of 1-1_rf gives
65 to 76 degrees of foot rotation, the textbook swing excursion (as deg/s it
would be about 1 degree); peaks of 12 to 14.5 on the largest axes mean 700 to
830 deg/s, normal for a foot in swing. (2) Integrating UCI s1/e1/u2 gyr_z
over the first rep gives about 80 degrees of shank tilt, matching the 70 to
85 degrees the data set describes for a knee extension. (3) At rest both
read about 0.01, i.e. 0.6 deg/s of noise, plausible for an Xsens gyro.
Quiet standing gives |a| = 10.2 to 10.3 m/s^2 (1.04 to 1.05 g) on the IPOL
feet and 9.76 m/s^2 on the UCI shank.

meta: source_format, sample_rate_hz, imu, mount and, when the path says
it, side (IPOL `_lf`/`_rf` = left/right foot; UCI `u1`/`u2` = left/right
lower shank). Columns not used (Mag_*, PacketCounter, time index) are kept in
trace.extra as text. Errors are heeldrop.traceio.TraceError, one line
`PATH:LINE: message`; skip_bad=True skips and counts bad sample lines as
read_trace does.
"""
import math
import os
import re
import statistics

from heeldrop.traceio import Trace, TraceError, decode_text, parse_meta_value, read_trace

STANDARD_GRAVITY = 9.80665  # m/s^2 per g
DEG_PER_RAD = 180.0 / math.pi

FORMATS = ("trace-csv", "ipol-foot-gait", "uci-pt-exercises")

_IPOL_FIRST = re.compile(r"\s*Acquisition frequency\s*:\s*([0-9]+(?:\.[0-9]*)?)\s*Hz\s*$", re.IGNORECASE)
_IPOL_COLS = ("Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z")
_UCI_COLS = ("acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z")
_UCI_RATE_HZ = 25
_ATTRS = ("ax", "ay", "az", "gx", "gy", "gz")
_SCALES = (1.0 / STANDARD_GRAVITY,) * 3 + (DEG_PER_RAD,) * 3


class _Bad(Exception):
    pass


def sniff(path):
    """The format name of the file at path (one of FORMATS), from its first
    non-blank line. Anything not recognised is taken as a trace CSV, whose
    reader then says what is wrong."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise TraceError(path, 0, "cannot read file: %s" % (e.strerror or e)) from None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for line in text.splitlines():
        s = line.strip()
        if not s:
            continue
        if _IPOL_FIRST.match(s) or s.lower().startswith("acquisition frequency"):
            return "ipol-foot-gait"
        if s.lower().startswith("time index;"):
            return "uci-pt-exercises"
        return "trace-csv"
    return "trace-csv"


def load_any(path, skip_bad=False, side=None):
    """Load a recording in any known format as a Trace (see module docstring).
    side, if given ('left' or 'right'), overrides what the path says."""
    fmt = sniff(path)
    if fmt == "ipol-foot-gait":
        tr = load_ipol(path, skip_bad=skip_bad)
    elif fmt == "uci-pt-exercises":
        tr = load_uci(path, skip_bad=skip_bad)
    else:
        tr = read_trace(path, skip_bad=skip_bad)
        tr.meta.setdefault("source_format", "trace-csv")
        if "sample_rate_hz" not in tr.meta:
            rate = _estimate_rate(tr.t_ms)
            if rate:
                tr.meta["sample_rate_hz"] = rate
    if side is not None:
        tr.meta["side"] = parse_meta_value("side", side)
    return tr


def _estimate_rate(t_ms):
    """Nominal rate (Hz) from the median sample interval, or None."""
    d = [b - a for a, b in zip(t_ms, t_ms[1:]) if b > a]
    if not d:
        return None
    rate = round(1000.0 / statistics.median(d), 1)
    return int(rate) if rate.is_integer() else rate


def side_from_path(path):
    """'left', 'right' or None from a data set file name: IPOL `_lf`/`_rf`
    (foot), UCI `u1`/`u2` (left/right lower shank, as a folder or a name part)."""
    parts = os.path.normpath(os.fspath(path)).split(os.sep)
    base = os.path.splitext(parts[-1])[0].lower()
    if re.search(r"(^|[_\-.])lf$", base):
        return "left"
    if re.search(r"(^|[_\-.])rf$", base):
        return "right"
    for part in reversed([base] + [p.lower() for p in parts[:-1]]):
        if re.search(r"(^|[_\-.])u1([_\-.]|$)", part):
            return "left"
        if re.search(r"(^|[_\-.])u2([_\-.]|$)", part):
            return "right"
    return None


def _read_lines(path, skip_bad):
    """(lines without line ends, set of line numbers holding bytes that are not UTF-8)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TraceError(path, 0, "cannot read file: %s" % (e.strerror or e)) from None
    text, bad = decode_text(data, path, skip_bad)
    text = text.lstrip("\ufeff")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    return lines, bad


def _number(text, column):
    try:
        v = float(text)
    except ValueError:
        if not text:
            raise _Bad("column %r: empty value" % column) from None
        hint = ""
        if "," in text:
            try:
                float(text.replace(",", "."))
                hint = " (decimal comma? use '.')"
            except ValueError:
                pass
        raise _Bad("column %r: not a number: %r%s" % (column, text[:40], hint)) from None
    if not math.isfinite(v):
        raise _Bad("column %r: %s is not allowed (value %r)" % (column, "NaN" if math.isnan(v) else "infinity", text))
    return v


def _parse_table(path, lines, header_idx, sep, time_col, cols, to_ms, skip_bad, bad_bytes, tr):
    """Parse a separated table whose header is lines[header_idx] into tr.
    time_col: the time column's name; cols: the 6 data columns (ax..gz
    order); to_ms(value) -> int t_ms (may raise _Bad)."""
    header_line = header_idx + 1
    header = [h.strip() for h in lines[header_idx].split(sep)]
    seen = {}
    for i, h in enumerate(header):
        if h in seen:
            raise TraceError(path, header_line, "duplicate column %r (columns %d and %d)" % (h, seen[h] + 1, i + 1))
        seen[h] = i
    missing = [c for c in (time_col,) + tuple(cols) if c not in seen]
    if missing:
        raise TraceError(path, header_line, "missing column%s %s (expected a %s-separated header with %s)" % (
            "s" if len(missing) > 1 else "", ", ".join(repr(m) for m in missing),
            "tab" if sep == "\t" else repr(sep), ", ".join((time_col,) + tuple(cols))))
    n = len(header)
    ti = seen[time_col]
    idx = [seen[c] for c in cols]
    extra = [(h, i) for i, h in enumerate(header) if h not in cols]
    out = [[] for _ in range(7)]
    ext = {h: [] for h, _ in extra}
    last_t = None
    for k in range(header_idx + 1, len(lines)):
        line = lines[k]
        if not line.strip():
            continue
        ln = k + 1
        try:
            if ln in bad_bytes:
                raise _Bad("not UTF-8 text")
            fields = [f.strip() for f in line.split(sep)]
            if len(fields) != n:
                raise _Bad("expected %d fields (as in the header), got %d" % (n, len(fields)))
            t = to_ms(_number(fields[ti], time_col))
            vals = [_number(fields[i], c) * s for i, c, s in zip(idx, cols, _SCALES)]
            if last_t is not None and t < last_t:
                raise _Bad("time goes backwards: %s %s gives t_ms=%d after t_ms=%d" % (
                    time_col, fields[ti], t, last_t))
        except _Bad as e:
            if not skip_bad:
                raise TraceError(path, ln, str(e)) from None
            tr.skipped += 1
            tr.bad_lines.append((ln, str(e)))
            continue
        if hasattr(to_ms, "commit"):
            to_ms.commit()
        last_t = t
        out[0].append(t)
        for j in range(6):
            out[j + 1].append(vals[j])
        for h, i in extra:
            ext[h].append(fields[i])
    if not out[0]:
        if tr.skipped:
            raise TraceError(path, header_line, "no samples left after skipping %d bad lines" % tr.skipped)
        raise TraceError(path, header_line, "header but no samples")
    tr.t_ms = out[0]
    for j, a in enumerate(_ATTRS):
        setattr(tr, a, out[j + 1])
    tr.extra = ext
    return tr


def _first_line(lines, path, what):
    for i, ln in enumerate(lines):
        if ln.strip():
            return i
    raise TraceError(path, 1, "empty file: expected %s" % what)


class _PacketClock:
    """PacketCounter -> t_ms, following a 16-bit wrap (Xsens counters wrap
    at 65536). State changes only on commit(), so a skipped line leaves
    it alone."""

    WRAP = 65536

    def __init__(self, rate_hz):
        self.rate = rate_hz
        self.first = None
        self.prev = None
        self.offset = 0
        self._pending = None

    def __call__(self, value):
        if not float(value).is_integer() or value < 0:
            raise _Bad("PacketCounter must be a whole number, got %r" % value)
        c = int(value)
        offset = self.offset
        if self.prev is not None and c + offset < self.prev:
            if self.prev - (c + offset) > self.WRAP // 2:
                offset += self.WRAP
            else:
                raise _Bad("time goes backwards: PacketCounter %d after %d" % (c, self.prev - offset))
        first = c if self.first is None else self.first
        self._pending = (first, c + offset, offset)
        return int(round((c + offset - first) * 1000.0 / self.rate))

    def commit(self):
        self.first, self.prev, self.offset = self._pending


def load_ipol(path, skip_bad=False):
    """Load an IPOL gait data set file (Xsens text export) as a Trace."""
    path = os.fspath(path)
    lines, bad = _read_lines(path, skip_bad)
    i = _first_line(lines, path, "'Acquisition frequency: 100 Hz'")
    if i + 1 in bad:
        raise TraceError(path, i + 1, "not UTF-8 text")
    m = _IPOL_FIRST.match(lines[i])
    if not m:
        raise TraceError(path, i + 1, "expected 'Acquisition frequency: N Hz', got %r" % lines[i].strip()[:60])
    rate = float(m.group(1))
    if not rate > 0:
        raise TraceError(path, i + 1, "acquisition frequency must be positive, got %r" % m.group(1))
    rate = int(rate) if rate.is_integer() else rate
    h = i + 1
    while h < len(lines) and not lines[h].strip():
        h += 1
    if h >= len(lines):
        raise TraceError(path, i + 1, "no header row after the acquisition frequency line")
    if h + 1 in bad:
        raise TraceError(path, h + 1, "not UTF-8 text")
    tr = Trace(path=path, meta={"source_format": "ipol-foot-gait", "sample_rate_hz": rate,
                                "imu": "xsens-mtw-awinda", "mount": "foot-dorsum"})
    side = side_from_path(path)
    if side:
        tr.meta["side"] = side
    return _parse_table(path, lines, h, "\t", "PacketCounter", _IPOL_COLS, _PacketClock(rate), skip_bad, bad, tr)


def load_uci(path, skip_bad=False):
    """Load a UCI physical therapy exercises data set file (25 Hz) as a Trace."""
    path = os.fspath(path)
    lines, bad = _read_lines(path, skip_bad)
    h = _first_line(lines, path, "a header 'time index;acc_x;...'")
    if h + 1 in bad:
        raise TraceError(path, h + 1, "not UTF-8 text")
    period_ms = 1000.0 / _UCI_RATE_HZ

    def to_ms(n):
        if n < 1:
            raise _Bad("time index must be 1 or more, got %r" % n)
        return int(round((n - 1) * period_ms))

    tr = Trace(path=path, meta={"source_format": "uci-pt-exercises", "sample_rate_hz": _UCI_RATE_HZ,
                                "imu": "xsens-mtx", "mount": "lower-shank"})
    side = side_from_path(path)
    if side:
        tr.meta["side"] = side
    return _parse_table(path, lines, h, ";", "time index", _UCI_COLS, to_ms, skip_bad, bad, tr)
