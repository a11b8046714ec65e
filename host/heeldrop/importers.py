"""Load IMU recordings from other formats into a Trace (g, deg/s, t_ms).

    from heeldrop.importers import load_any
    tr = load_any("tests/data/uci-pt-exercises/s1/e1/u2/test.txt")
    tr.meta  # {'source_format': 'uci-pt-exercises', 'sample_rate_hz': 25, 'side': 'right', ...}

load_any(path, skip_bad=False, side=None) sniffs the format from the first
line (open_any: the same as a stream read a block at a time, so memory does
not grow with the file; heeldrop replay and report use it):

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

from heeldrop.traceio import Trace, TraceError, open_trace, parse_meta_value, read_trace

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


def open_any(path, skip_bad=False, side=None):
    """Like load_any, but as a stream read a block at a time (memory does not grow
    with the file): a heeldrop.traceio.TraceStream for a trace CSV (its sample
    rate is not estimated), a TableStream for the two data set formats. Both
    have meta, blocks(), skipped, bad_lines, pos and size; heeldrop.replay reads
    them; close() them when done."""
    fmt = sniff(path)
    if fmt == "ipol-foot-gait":
        st = open_ipol(path, skip_bad=skip_bad)
    elif fmt == "uci-pt-exercises":
        st = open_uci(path, skip_bad=skip_bad)
    else:
        st = open_trace(path, skip_bad=skip_bad, extra=False)
        st.meta.setdefault("source_format", "trace-csv")
    if side is not None:
        try:
            st.meta["side"] = parse_meta_value("side", side)
        except ValueError:
            st.close()
            raise
    return st


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


MAX_LINE_BYTES = 1 << 20
BLOCK_SAMPLES = 5000


class _Lines:
    """The lines of a file, numbered, read as they are needed: next() gives (number,
    text) with line ends and a leading byte order mark removed, text None for a line
    that is not UTF-8 (with skip_bad; without it that is a TraceError), None at the end."""

    def __init__(self, path, skip_bad):
        self.path = path
        self.skip_bad = skip_bad
        try:
            self.f = open(path, "rb")
        except OSError as e:
            raise TraceError(path, 0, "cannot read file: %s" % (e.strerror or e)) from None
        try:
            self.size = os.fstat(self.f.fileno()).st_size
        except OSError:
            self.size = None
        self.pos = 0
        self.n = 0

    def next(self):
        try:
            raw = self.f.readline(MAX_LINE_BYTES + 1)
        except OSError as e:
            raise TraceError(self.path, self.n, "cannot read file: %s" % (e.strerror or e)) from None
        if not raw:
            return None
        self.n += 1
        self.pos += len(raw)
        if len(raw) > MAX_LINE_BYTES:
            raise TraceError(self.path, self.n, "a line longer than %d bytes: not a data set file" % MAX_LINE_BYTES)
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if not self.skip_bad:
                raise TraceError(self.path, self.n, "not UTF-8 text (byte 0x%02x)" % raw[e.start]) from None
            return self.n, None
        if self.n == 1:
            text = text.lstrip("\ufeff")
        return self.n, text.rstrip("\r")

    def next_nonblank(self, what_if_none):
        """The next line with something on it; what_if_none(line number) raises at the end."""
        while True:
            got = self.next()
            if got is None:
                what_if_none(self.n)
            if got[1] is None or got[1].strip():
                return got

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


class TableStream:
    """A data set file (IPOL or UCI) read a block of samples at a time, like
    heeldrop.traceio.TraceStream: meta, blocks(), skipped, bad_lines, samples,
    first_t, last_t, pos and size, collect() -> Trace, close()."""

    def __init__(self, lines, meta, header_line, header, sep, time_col, cols, to_ms):
        path = lines.path
        self.lines = lines
        self.path = path
        self.meta = meta
        self.skip_bad = lines.skip_bad
        self.skipped = 0
        self.bad_lines = []
        self.samples = 0
        self.first_t = None
        self.last_t = None
        self.header_line = header_line
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
        self.n = len(header)
        self.sep = sep
        self.time_col = time_col
        self.cols = cols
        self.ti = seen[time_col]
        self.idx = [seen[c] for c in cols]
        self.extra = [(h, i) for i, h in enumerate(header) if h not in cols]
        self.to_ms = to_ms

    @property
    def pos(self):
        return self.lines.pos

    @property
    def size(self):
        return self.lines.size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self.lines.close()

    def blocks(self):
        """Yield (t_ms, ax, ay, az, gx, gy, gz, extra) lists of up to BLOCK_SAMPLES samples."""
        path, n, sep, ti, idx, to_ms = self.path, self.n, self.sep, self.ti, self.idx, self.to_ms
        time_col, cols = self.time_col, self.cols
        last_t = None
        while True:
            out = [[] for _ in range(7)]
            ext = {h: [] for h, _ in self.extra}
            while len(out[0]) < BLOCK_SAMPLES:
                got = self.lines.next()
                if got is None:
                    break
                ln, line = got
                if line is not None and not line.strip():
                    continue
                try:
                    if line is None:
                        raise _Bad("not UTF-8 text")
                    fields = [f.strip() for f in line.split(sep)]
                    if len(fields) != n:
                        raise _Bad("expected %d fields (as in the header), got %d" % (n, len(fields)))
                    t = to_ms(_number(fields[ti], time_col))
                    vals = [_number(fields[i], c) * sc for i, c, sc in zip(idx, cols, _SCALES)]
                    if last_t is not None and t < last_t:
                        raise _Bad("time goes backwards: %s %s gives t_ms=%d after t_ms=%d" % (
                            time_col, fields[ti], t, last_t))
                except _Bad as e:
                    if not self.skip_bad:
                        raise TraceError(path, ln, str(e)) from None
                    self.skipped += 1
                    if len(self.bad_lines) < 1000:
                        self.bad_lines.append((ln, str(e)))
                    continue
                if hasattr(to_ms, "commit"):
                    to_ms.commit()
                last_t = t
                out[0].append(t)
                for j in range(6):
                    out[j + 1].append(vals[j])
                for h, i in self.extra:
                    ext[h].append(fields[i])
            if not out[0]:
                break
            if self.first_t is None:
                self.first_t = out[0][0]
            self.last_t = out[0][-1]
            self.samples += len(out[0])
            yield out + [ext]
        if not self.samples:
            if self.skipped:
                raise TraceError(path, self.header_line, "no samples left after skipping %d bad lines" % self.skipped)
            raise TraceError(path, self.header_line, "header but no samples")

    def collect(self):
        tr = Trace(meta=self.meta, path=self.path)
        dst = (tr.t_ms, tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz)
        ext = {h: [] for h, _ in self.extra}
        for b in self.blocks():
            for d, src in zip(dst, b):
                d.extend(src)
            for h, vals in b[7].items():
                ext[h].extend(vals)
        tr.extra = ext
        tr.skipped = self.skipped
        tr.bad_lines = self.bad_lines
        return tr


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


def open_ipol(path, skip_bad=False):
    """An IPOL gait data set file (Xsens text export) as a TableStream."""
    path = os.fspath(path)
    lines = _Lines(path, skip_bad)
    try:
        def empty(n):
            raise TraceError(path, 1, "empty file: expected 'Acquisition frequency: 100 Hz'")

        ln, first = lines.next_nonblank(empty)
        if first is None:
            raise TraceError(path, ln, "not UTF-8 text")
        m = _IPOL_FIRST.match(first)
        if not m:
            raise TraceError(path, ln, "expected 'Acquisition frequency: N Hz', got %r" % first.strip()[:60])
        rate = float(m.group(1))
        if not rate > 0:
            raise TraceError(path, ln, "acquisition frequency must be positive, got %r" % m.group(1))
        rate = int(rate) if rate.is_integer() else rate

        def no_header(n, _ln=ln):
            raise TraceError(path, _ln, "no header row after the acquisition frequency line")

        h, header = lines.next_nonblank(no_header)
        if header is None:
            raise TraceError(path, h, "not UTF-8 text")
        meta = {"source_format": "ipol-foot-gait", "sample_rate_hz": rate, "imu": "xsens-mtw-awinda",
                "mount": "foot-dorsum"}
        side = side_from_path(path)
        if side:
            meta["side"] = side
        return TableStream(lines, meta, h, [x.strip() for x in header.split("\t")], "\t", "PacketCounter",
                           _IPOL_COLS, _PacketClock(rate))
    except BaseException:
        lines.close()
        raise


def load_ipol(path, skip_bad=False):
    """Load an IPOL gait data set file (Xsens text export) as a Trace."""
    with open_ipol(path, skip_bad) as st:
        return st.collect()


def open_uci(path, skip_bad=False):
    """A UCI physical therapy exercises data set file (25 Hz) as a TableStream."""
    path = os.fspath(path)
    lines = _Lines(path, skip_bad)
    try:
        def empty(n):
            raise TraceError(path, 1, "empty file: expected a header 'time index;acc_x;...'")

        h, header = lines.next_nonblank(empty)
        if header is None:
            raise TraceError(path, h, "not UTF-8 text")
        period_ms = 1000.0 / _UCI_RATE_HZ

        def to_ms(n):
            if n < 1:
                raise _Bad("time index must be 1 or more, got %r" % n)
            return int(round((n - 1) * period_ms))

        meta = {"source_format": "uci-pt-exercises", "sample_rate_hz": _UCI_RATE_HZ, "imu": "xsens-mtx",
                "mount": "lower-shank"}
        side = side_from_path(path)
        if side:
            meta["side"] = side
        return TableStream(lines, meta, h, [x.strip() for x in header.split(";")], ";", "time index", _UCI_COLS,
                           to_ms)
    except BaseException:
        lines.close()
        raise


def load_uci(path, skip_bad=False):
    """Load a UCI physical therapy exercises data set file (25 Hz) as a Trace."""
    with open_uci(path, skip_bad) as st:
        return st.collect()
