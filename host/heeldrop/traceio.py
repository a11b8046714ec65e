"""Read and write trace CSV files (docs/TRACE-CSV.md).

    from heeldrop.traceio import read_trace, open_trace, write_trace, iter_samples, TraceError

    tr = read_trace("walk.csv")               # raises TraceError on bad input
    tr = read_trace("walk.csv", skip_bad=True)  # skips bad sample lines, counts them
    for t, ax, ay, az, gx, gy, gz in iter_samples(tr):
        ...
    with open_trace("day.csv") as st:         # any length: a block at a time
        for t_ms, ax, ay, az, gx, gy, gz, extra in st.blocks():
            ...
    write_trace("out.csv", tr, {"sample_rate_hz": 100, "side": "left"})

Units: t_ms integer milliseconds since the start, accelerations in g, angular
rates in degrees per second, in the sensor's own axes.

Error policy: every problem in the input is a TraceError whose str() is one
line `PATH:LINE: message` (LINE is 1-based; 0 means the file as a whole, e.g.
it cannot be opened). With skip_bad=True, bad *sample* lines (wrong field
count, non-numeric, NaN/inf, non-integer t_ms, time going backwards, bytes
that are not UTF-8) are skipped and counted in `trace.skipped` and listed in
`trace.bad_lines` as (line, message); problems with the metadata or the header,
and a file left with no samples, still raise. Blank lines are ignored.
Bad arguments to write_trace (a programming error, not bad input) raise
ValueError.

Blocks: the file is read BLOCK_BYTES (256 KB, about 5 000 lines) at a time,
cut at a line end; read_trace collects the blocks. Metadata and header are
read and checked first. Errors and line numbers are those of a whole read
whatever the block size (tested down to 1 byte); an error in a later block is
raised when that block is reached. bad_lines keeps the first 1 000.

Speed: each block is parsed column-wise through C-level map(float, ...) and
falls back to a per-line pass (which finds the exact line and message) only
when the fast pass sees a problem; a 1 kHz, 10 minute trace (600 000 lines,
34 MB) reads in about 2.5 s (the cyclic GC is paused meanwhile: with it, 5 s).
A block with bad lines costs a second, slower pass.
"""
import csv
import gc
import io
import math
import operator
import os
import re

from heeldrop.errors import UserError

# Required columns in the order they are written, and the Trace attribute of each.
COLUMNS = ("t_ms", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
ATTRS = ("t_ms", "ax", "ay", "az", "gx", "gy", "gz")
HEADER = ",".join(COLUMNS)

# Known metadata keys (contract order). Unknown keys are kept as strings.
META_KEYS = ("sample_rate_hz", "side", "imu", "board", "firmware", "started", "variant")
SIDES = ("left", "right")
VARIANTS = ("straight-knee", "bent-knee")

_META_RE = re.compile(r"#\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*=(.*)$")
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*\Z")
_INT_RE = re.compile(r"\s*[+-]?[0-9]+\s*\Z")
_FLOAT_RE = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*\Z")


class TraceError(UserError):
    """Bad trace input. str() is one line: `PATH:LINE: message`."""

    def __init__(self, path, line, message):
        self.path = os.fspath(path) if path is not None else "<trace>"
        self.line = int(line)
        self.message = _one_line(message)
        super().__init__("%s:%d: %s" % (self.path, self.line, self.message))

    def __str__(self):
        return "%s:%d: %s" % (self.path, self.line, self.message)

    def __reduce__(self):
        return (TraceError, (self.path, self.line, self.message))


class Trace:
    """One recording: meta dict, t_ms (list of int), ax..gz (lists of float),
    extra (column -> list of str), skipped (int), bad_lines (list of
    (line, message)), path."""

    def __init__(self, t_ms=None, ax=None, ay=None, az=None, gx=None, gy=None, gz=None,
                 meta=None, extra=None, path=None):
        self.t_ms = list(t_ms or [])
        self.ax = list(ax or [])
        self.ay = list(ay or [])
        self.az = list(az or [])
        self.gx = list(gx or [])
        self.gy = list(gy or [])
        self.gz = list(gz or [])
        self.meta = dict(meta or {})
        self.extra = dict(extra or {})
        self.skipped = 0
        self.bad_lines = []
        self.path = path

    def __len__(self):
        return len(self.t_ms)

    def close(self):
        """Nothing to close (a TraceStream has a file): the two can be used alike."""

    def __repr__(self):
        return "<Trace %s: %d samples, %d skipped, meta=%r>" % (
            self.path, len(self.t_ms), self.skipped, self.meta)


def iter_samples(trace):
    """Yield (t_ms, ax, ay, az, gx, gy, gz) per sample."""
    return zip(trace.t_ms, trace.ax, trace.ay, trace.az, trace.gx, trace.gy, trace.gz)


def _one_line(text):
    return " ".join(str(text).splitlines()) if ("\n" in str(text) or "\r" in str(text)) else str(text)


def _show(text, limit=40):
    """A field's text, quoted and safe to put on one line."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)


def parse_meta_value(key, value):
    """Validate and convert one metadata value (str). Returns the stored value;
    raises ValueError with a message for a bad known key."""
    if key == "sample_rate_hz":
        try:
            rate = float(value)
        except ValueError:
            raise ValueError("sample_rate_hz must be a number, got %s" % _show(value)) from None
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError("sample_rate_hz must be a positive number, got %s" % _show(value))
        return int(rate) if rate.is_integer() else rate
    if key == "side" and value not in SIDES:
        raise ValueError("side must be 'left' or 'right', got %s" % _show(value))
    if key == "variant" and value not in VARIANTS:
        raise ValueError("variant must be 'straight-knee' or 'bent-knee', got %s" % _show(value))
    return value


# ---------------------------------------------------------------- reading

# Names other loggers use, for the "rename it" hint. Keys are normalised
# (lower case, letters and digits only).
def _aliases():
    al = {}
    for name in ("t", "time", "timestamp", "ms", "timems", "tms", "millis", "timestampms"):
        al[name] = "t_ms"
    for axis in "xyz":
        for pat in ("a%s", "acc%s", "accel%s", "acceleration%s", "a%sg", "acc%sg", "accel%sg", "%sa", "%sacc"):
            al[pat % axis] = "a%s_g" % axis
        for pat in ("g%s", "gyr%s", "gyro%s", "gyroscope%s", "w%s", "omega%s", "g%sdps", "gyr%sdps",
                    "gyro%sdps", "%sg", "%sgyro", "rot%s", "gyrodps%s"):
            al[pat % axis] = "g%s_dps" % axis
    return al


_ALIASES = _aliases()
_UNITS = {"t": "integer milliseconds", "a": "g", "g": "degrees per second"}


def _norm(name):
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _missing_message(missing, header):
    found = {}
    for h in header:
        target = h.lower() if h.lower() in COLUMNS else _ALIASES.get(_norm(h))
        if target in missing and target not in found:
            found[target] = h
    msg = "missing column%s %s" % ("s" if len(missing) > 1 else "", ", ".join(repr(m) for m in missing))
    hints = ["rename %r to %r (values in %s)" % (found[m], m, _UNITS[m[0]]) for m in missing if m in found]
    if hints:
        msg += "; " + "; ".join(hints)
    else:
        msg += "; the header must name %s (other loggers' columns may be renamed to these: t in ms, " \
               "acceleration in g, angular rate in deg/s)" % HEADER
    if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return "the header uses %s as separator; the trace CSV uses commas: expected %r" % (
            "';'" if ";" in header[0] else "tabs", HEADER)
    return msg


def _float_ok(s):
    # Stricter than float(): no underscores, no non-ASCII digits, no words.
    return _FLOAT_RE.match(s) is not None


class _Bad(Exception):
    pass


def _parse_row(row, n, idx, names, names_row=None):
    """Slow path for one row: returns (t, [6 floats]) or raises _Bad(message)."""
    if len(row) != n:
        if row and row[0].lstrip().startswith("#"):
            raise _Bad("comment or metadata line after the header ('# key=value' lines go before the header)")
        raise _Bad("expected %d fields (as in the header), got %d" % (n, len(row)))
    if [f.strip() for f in row] == names_row:
        raise _Bad("a second header row (were two files joined?)")
    s = row[idx[0]]
    if _INT_RE.match(s):
        t = int(s)
    else:
        st = s.strip()
        if _float_ok(st) or st.lower() in ("nan", "inf", "-inf", "+inf", "infinity", "-infinity"):
            raise _Bad("t_ms must be an integer number of milliseconds, got %s" % _show(s))
        raise _Bad("column 't_ms': not a number: %s" % _show(s))
    vals = []
    for k in range(1, 7):
        s = row[idx[k]]
        if _float_ok(s):
            vals.append(float(s))
            continue
        try:
            v = float(s)
        except ValueError:
            v = None
        if v is not None and (math.isnan(v) or math.isinf(v)) and s.strip().isascii():
            raise _Bad("column %r: %s is not allowed (value %s)" % (
                names[k], "NaN" if math.isnan(v) else "infinity", _show(s)))
        if not s.strip():
            raise _Bad("column %r: empty value" % names[k])
        raise _Bad("column %r: not a number: %s" % (names[k], _show(s)))
    return t, vals


def read_trace(path, skip_bad=False):
    """Read a trace CSV file into a Trace (all samples in lists). See the module docstring.
    For a file of any size, open_trace reads it a block at a time instead."""
    with open_trace(path, skip_bad=skip_bad) as st:
        return st.collect()


def parse_trace(data, path="<trace>", skip_bad=False):
    """Parse trace CSV bytes (or str). Same rules as read_trace."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="surrogateescape")
    with TraceStream(io.BytesIO(data), path, skip_bad=skip_bad) as st:
        return st.collect()


def open_trace(path, skip_bad=False, block_bytes=None, extra=True):
    """A TraceStream over the file at path: metadata and header read and
    checked at once, samples a block at a time (memory independent of the
    file's length)."""
    path = os.fspath(path)
    try:
        f = open(path, "rb")
    except OSError as e:
        raise TraceError(path, 0, "cannot read file: %s" % (e.strerror or e)) from None
    try:
        return TraceStream(f, path, skip_bad=skip_bad, block_bytes=block_bytes, extra=extra, owns=True)
    except BaseException:
        f.close()
        raise


def decode_text(data, path, skip_bad, first_line=1):
    """(text, set of 1-based line numbers holding bytes that are not UTF-8).

    Without skip_bad the first such byte is a TraceError naming its line;
    with it, those lines are listed and the text decoded with replacements.
    first_line: the line number of data's first line."""
    try:
        return data.decode("utf-8"), set()
    except UnicodeDecodeError as e:
        if not skip_bad:
            line = data.count(b"\n", 0, e.start) + first_line
            raise TraceError(path, line, "not UTF-8 text (byte 0x%02x)" % data[e.start]) from None
    bad = set()
    for i, raw in enumerate(data.split(b"\n")):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.add(i + first_line)
    return data.decode("utf-8", errors="replace"), bad


BLOCK_BYTES = 1 << 18       # samples are parsed this many bytes at a time (about 5 000 lines)
MAX_HEAD_BYTES = 1 << 20    # metadata and header must fit in this
MAX_LINE_BYTES = 1 << 20    # a longer line is not a trace line
KEEP_BAD_LINES = 1000       # bad_lines keeps the first ones; skipped counts them all


class TraceStream:
    """A trace CSV read a block at a time.

        with open_trace("big.csv", skip_bad=True) as st:
            st.meta                        # checked, as read_trace gives it
            for t, ax, ay, az, gx, gy, gz, extra in st.blocks():
                ...                        # lists of one block's samples (extra: column -> list of str)
            st.samples, st.skipped, st.bad_lines, st.first_t, st.last_t

    The same rules and messages as read_trace, line numbers counted over the
    whole file; an error in a later block is raised when that block is read.
    pos and size (bytes) tell how far it has got, for a progress bar.
    """

    def __init__(self, f, path="<trace>", skip_bad=False, block_bytes=None, extra=True, owns=False):
        self.f = f
        self.path = path
        self.skip_bad = skip_bad
        self.block_bytes = block_bytes or BLOCK_BYTES
        self.want_extra = extra
        self.owns = owns
        self.skipped = 0
        self.bad_lines = []
        self.samples = 0
        self.first_t = None
        self.last_t = None
        self.pos = 0
        self._finished = False
        try:
            self.size = os.fstat(f.fileno()).st_size
        except (AttributeError, OSError, io.UnsupportedOperation):
            self.size = len(f.getbuffer()) if hasattr(f, "getbuffer") else None
        self._read_head()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.owns and self.f is not None:
            self.f.close()
        self.f = None

    def _read(self, n):
        try:
            data = self.f.read(n)
        except OSError as e:
            raise TraceError(self.path, 0, "cannot read file: %s" % (e.strerror or e)) from None
        self.pos += len(data)
        return data

    # ---- metadata and header
    def _read_head(self):
        path = self.path
        step = min(65536, self.block_bytes)
        data = self._read(step)
        eof = False
        while True:
            # decode whole lines only (a read may end inside a character)
            cut = len(data) if eof else max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
            got = self._parse_head(data[:cut], eof)
            if got is not None:
                break
            if len(data) >= MAX_HEAD_BYTES:
                raise TraceError(path, 1, "no header row in the first %d bytes: not a trace CSV" % MAX_HEAD_BYTES)
            more = self._read(step)
            eof = not more
            data += more
        self.meta, self.header, self.header_line, body_at = got
        self._rest = data[body_at:]
        self._eof = eof
        self._line = self.header_line  # lines consumed so far
        seen = {}
        for i, h in enumerate(self.header):
            seen[h] = i
        self._seen = seen
        self._n = len(self.header)
        self._idx = [seen[c] for c in COLUMNS]
        self.extra_names = [h for h in self.header if h not in COLUMNS]

    def _parse_head(self, data, complete):
        """(meta, header list, header line, byte offset of the body) or None when more bytes are needed."""
        path = self.path
        text, bad_byte_lines = decode_text(data, path, self.skip_bad)
        bom = 1 if text.startswith("\ufeff") else 0  # spreadsheets write a byte order mark
        if complete and not text[bom:].strip():
            raise TraceError(path, 1, "empty file: expected a header row %r and samples" % HEADER)
        f = io.StringIO(text[bom:], newline="")
        meta = {}
        lineno = 0
        consumed = bom
        while True:
            raw = f.readline()
            if not raw:
                if not complete:
                    return None
                raise TraceError(path, lineno, "no header row: expected %r after the metadata lines" % HEADER)
            if not complete and (not raw.endswith(("\n", "\r")) or (raw.endswith("\r") and f.tell() == len(text) - bom)):
                return None  # the line (or its \r\n) goes on in the next read
            lineno += 1
            consumed += len(raw)
            s = raw.strip()
            if not s:
                continue
            if lineno in bad_byte_lines:
                raise TraceError(path, lineno, "not UTF-8 text (before the samples)")
            if s.startswith("#"):
                if s.strip("#").strip() == "":
                    continue
                m = _META_RE.match(s)
                if not m:
                    raise TraceError(path, lineno, "bad metadata line %s: expected '# key=value'" % _show(s))
                key, value = m.group(1), m.group(2).strip()
                if key in meta:
                    raise TraceError(path, lineno, "duplicate metadata key %r" % key)
                try:
                    meta[key] = parse_meta_value(key, value)
                except ValueError as e:
                    raise TraceError(path, lineno, str(e)) from None
                continue
            header_line = lineno
            header_text = raw
            break
        try:
            header = [h.strip() for h in next(csv.reader([header_text]))]
        except (csv.Error, StopIteration) as e:
            raise TraceError(path, header_line, "bad header row: %s" % e) from None
        if all(_float_ok(h) for h in header):
            raise TraceError(path, header_line, "no header row: the first line holds numbers; expected %r" % HEADER)
        seen = {}
        for i, h in enumerate(header):
            if h in seen:
                raise TraceError(path, header_line, "duplicate column %r (columns %d and %d)" % (h, seen[h] + 1, i + 1))
            seen[h] = i
        missing = [c for c in COLUMNS if c not in seen]
        if missing:
            raise TraceError(path, header_line, _missing_message(missing, header))
        # every line up to here decoded cleanly, so its UTF-8 length is its length in bytes
        return meta, header, header_line, len(text[:consumed].encode("utf-8"))

    # ---- samples
    def _next_block(self):
        """The next run of whole lines (bytes) or None at the end."""
        buf = self._rest
        while not self._eof and len(buf) < self.block_bytes:
            more = self._read(self.block_bytes)
            if not more:
                self._eof = True
                break
            buf += more
        if not buf:
            self._rest = b""
            return None
        if self._eof:
            self._rest = b""
            return buf
        while True:
            cut = buf.rfind(b"\n") + 1 or buf.rfind(b"\r") + 1
            if cut:
                self._rest = buf[cut:]
                return buf[:cut]
            if len(buf) > MAX_LINE_BYTES:
                raise TraceError(self.path, self._line + 1, "a line longer than %d bytes: not a trace CSV" % MAX_LINE_BYTES)
            more = self._read(self.block_bytes)
            if not more:
                self._eof = True
                self._rest = b""
                return buf
            buf += more

    def blocks(self):
        """Yield (t_ms, ax, ay, az, gx, gy, gz, extra) lists per block; raises TraceError as read_trace would."""
        gc_was_enabled = gc.isenabled()
        try:
            while True:
                data = self._next_block()
                if data is None:
                    break
                # The cyclic GC is paused while a block's rows exist: tens of thousands of
                # small row lists would make it run over and over (3x slower).
                gc.disable()
                try:
                    got = self._parse_block(data)
                finally:
                    if gc_was_enabled:
                        gc.enable()
                if got is not None and got[0]:
                    t = got[0]
                    if self.first_t is None:
                        self.first_t = t[0]
                    self.last_t = t[-1]
                    self.samples += len(t)
                    yield got
        finally:
            if gc_was_enabled:
                gc.enable()
        self._finished = True
        if not self.samples:
            if self.skipped:
                raise TraceError(self.path, self.header_line, "no samples left after skipping %d bad lines"
                                 % self.skipped)
            raise TraceError(self.path, self.header_line, "header but no samples")

    def _bad(self, line, message):
        if not self.skip_bad:
            raise TraceError(self.path, line, message)
        self.skipped += 1
        if len(self.bad_lines) < KEEP_BAD_LINES:
            self.bad_lines.append((line, message))

    def _parse_block(self, data):
        path = self.path
        first = self._line + 1  # line number of the block's first line
        text, bad_byte_lines = decode_text(data, path, self.skip_bad, first_line=first)
        n = self._n
        idx = self._idx
        # Fast path: read every row at C speed, convert column-wise. Only when
        # something is off (odd field counts, blank or multi-line rows, bad
        # values, time going backwards) re-read line by line to find the line
        # and the message.
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            rows = list(reader)
            clean = True
        except csv.Error:
            rows, clean = [], False
        nlines = reader.line_num
        if clean and rows and not bad_byte_lines and nlines == len(rows) and set(map(len, rows)) == {n}:
            cols = _fast_columns(rows, n, idx)
            if cols is not None and (self.last_t is None or cols[0][0] >= self.last_t):
                self._line += nlines
                extra = {}
                if self.want_extra and self.extra_names:
                    tcols = list(zip(*rows))
                    for name in self.extra_names:
                        extra[name] = list(tcols[self._seen[name]])
                return cols + [extra]
        del rows

        # Slow path: line by line, exact messages.
        out = ([], [], [], [], [], [], [])
        ext = {name: [] for name in self.extra_names} if self.want_extra else {}
        ext_idx = [(name, self._seen[name]) for name in self.extra_names] if self.want_extra else []
        last_t = self.last_t
        reader = csv.reader(io.StringIO(text, newline=""))
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raise TraceError(path, first + reader.line_num - 1, "bad CSV: %s" % e) from None
            ln = first + reader.line_num - 1
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if len(row) == n and not "".join(row).strip():
                continue  # a row of empty fields (",,,,,,"), as spreadsheets write
            try:
                if ln in bad_byte_lines:
                    raise _Bad("not UTF-8 text")
                t, vals = _parse_row(row, n, idx, COLUMNS, self.header)
                if last_t is not None and t < last_t:
                    raise _Bad("time goes backwards: t_ms=%d after t_ms=%d" % (t, last_t))
            except _Bad as e:
                self._bad(ln, str(e))
                continue
            last_t = t
            out[0].append(t)
            for k in range(6):
                out[k + 1].append(vals[k])
            for name, i in ext_idx:
                ext[name].append(row[i])
        self._line += reader.line_num
        if not out[0]:
            return None
        return list(out) + [ext]

    @property
    def done(self):
        """The whole file has been read (blocks() ran to its end)."""
        return self._eof and not self._rest and self._finished

    def drain(self):
        """Read what is left (counting samples and bad lines), keeping nothing."""
        if not self.done:
            for _ in self.blocks():
                pass

    def collect(self):
        """All the samples in one Trace (lists); the file's extra columns kept as text."""
        tr = Trace(meta=self.meta, path=self.path)
        cols = (tr.t_ms, tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz)
        ext = {name: [] for name in self.extra_names} if self.want_extra else {}
        for block in self.blocks():
            for dst, src in zip(cols, block):
                dst.extend(src)
            for name, vals in block[7].items():
                ext[name].extend(vals)
        tr.extra = ext
        tr.skipped = self.skipped
        tr.bad_lines = self.bad_lines
        return tr


def _fast_columns(rows, n, idx):
    """Convert all rows column-wise; None if anything is off (then the slow
    path finds the line and the message)."""
    tcols = list(zip(*rows))
    res = []
    for k, i in enumerate(idx):
        col = tcols[i]
        joined = "".join(col)
        if "_" in joined or not joined.isascii():
            return None
        try:
            if k == 0:
                vals = list(map(int, col))
            else:
                vals = list(map(float, col))
        except ValueError:
            return None
        if k > 0 and not all(map(math.isfinite, vals)):
            return None
        res.append(vals)
    t = res[0]
    if not all(map(operator.le, t, t[1:])):
        return None
    return res


# ---------------------------------------------------------------- writing

def _columns_of(obj):
    """(list of 7 sequences, extra dict) from a Trace-like object or a dict
    keyed by attribute names (t_ms, ax, ...) or column names (ax_g, ...)."""
    if hasattr(obj, "t_ms") and not isinstance(obj, dict):
        return [getattr(obj, a) for a in ATTRS], dict(getattr(obj, "extra", None) or {})
    if not isinstance(obj, dict):
        raise ValueError("write_trace: expected a Trace or a dict of columns, got %s" % type(obj).__name__)
    cols = []
    used = set()
    for a, c in zip(ATTRS, COLUMNS):
        if a in obj and c in obj and a != c:
            raise ValueError("write_trace: both %r and %r given" % (a, c))
        key = a if a in obj else c
        if key not in obj:
            raise ValueError("write_trace: missing column %r" % c)
        used.add(key)
        cols.append(obj[key])
    extra = dict(obj.get("extra") or {})
    used.add("extra")
    unknown = [k for k in obj if k not in used]
    if unknown:
        raise ValueError("write_trace: unknown columns %s (put extra columns under 'extra')" % unknown)
    return cols, extra


def _meta_text(key, value):
    if isinstance(value, float) and value.is_integer():
        return "%d" % value
    if isinstance(value, float):
        return repr(value)
    return str(value)


def format_trace(trace_or_columns, meta=None):
    """The trace CSV text (str) that write_trace writes."""
    cols, extra = _columns_of(trace_or_columns)
    if meta is None:
        meta = getattr(trace_or_columns, "meta", None) or {}
    n = len(cols[0])
    for c, name in zip(cols, COLUMNS):
        if len(c) != n:
            raise ValueError("write_trace: column %r has %d values, t_ms has %d" % (name, len(c), n))
    for name, c in extra.items():
        if name in COLUMNS or not isinstance(name, str) or not name or any(ch in name for ch in ",\r\n\""):
            raise ValueError("write_trace: bad extra column name %r" % (name,))
        if len(c) != n:
            raise ValueError("write_trace: extra column %r has %d values, t_ms has %d" % (name, len(c), n))

    out = []
    for key, value in meta.items():
        if value is None:
            continue
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValueError("write_trace: bad metadata key %r" % (key,))
        text = _meta_text(key, value)
        if "\n" in text or "\r" in text or text != text.strip():
            raise ValueError("write_trace: metadata %r: value must be one line without outer spaces" % key)
        try:
            parse_meta_value(key, text)
        except ValueError as e:
            raise ValueError("write_trace: %s" % e) from None
        out.append("# %s=%s\n" % (key, text))

    t = cols[0]
    ts = []
    last = None
    for v in t:
        try:
            iv = int(v)
        except (ValueError, OverflowError, TypeError):
            iv = None
        if iv is None or iv != v:
            raise ValueError("write_trace: t_ms must be integers, got %r" % (v,))
        if last is not None and iv < last:
            raise ValueError("write_trace: t_ms goes backwards (%d after %d)" % (iv, last))
        last = iv
        ts.append("%d" % iv)
    strs = [ts]
    for k in range(1, 7):
        c = cols[k]
        if not all(map(math.isfinite, c)):
            raise ValueError("write_trace: column %r holds NaN or infinity" % COLUMNS[k])
        fmt = "%.5f" if k < 4 else "%.3f"
        zero = fmt % 0.0
        negzero = "-" + zero
        s = [fmt % v for v in c]
        if negzero in s:
            s = [zero if x == negzero else x for x in s]
        strs.append(s)

    header = list(COLUMNS)
    if extra:
        header += list(extra)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(zip(*strs, *[[("" if x is None else str(x)) for x in c] for c in extra.values()]))
        out.append(buf.getvalue())
    else:
        out.append(HEADER + "\n")
        out.append("".join(map("%s,%s,%s,%s,%s,%s,%s\n".__mod__, zip(*strs))))
    return "".join(out)


def write_trace(path, trace_or_columns, meta=None):
    """Write a trace CSV file: metadata lines, the header, then one line per
    sample (accel 5 decimals, gyro 3). meta defaults to trace.meta. The output
    is byte-for-byte deterministic. Writes to PATH.tmp and renames, so a
    reader never sees half a file."""
    text = format_trace(trace_or_columns, meta)
    path = os.fspath(path)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)
    return path
