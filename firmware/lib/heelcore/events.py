# Detector events as one-line JSON, byte-identical on CPython and MicroPython.
#
# The contract (docs/EVENTS.md)
# fixes the types and fields. MicroPython dicts do not keep insertion order
# and its float formatting is not CPython's, so events are written here with
# a fixed key order and numbers formatted from integers.
#
# Every number the engine puts in an event comes from an integer: c2(n) is n
# hundredths (a float n / 100 that _num prints back as exactly n hundredths,
# on double and on single-precision ports alike), ms_s(ms) and udeg_c(u) the
# rounding of milliseconds and micro-degrees to hundredths, integer only.

# Field order per event type, after type, t_ms, rep.
FIELDS = {
    "calibrated": ("stage", "level_tilt_deg", "axis"),
    "calibration_failed": ("reason",),
    "rep_start": ("onset_ms",),
    "descent_too_fast": ("speed_dps",),
    "hold_start": ("depth_deg",),
    "hold_tick": ("hold_s",),
    "hold_target": ("hold_s",),
    "bounce": ("amplitude_deg",),
    "roll_out": ("roll_deg",),
    "twist": ("yaw_deg",),
    "rise_start": ("hold_s",),
    "snap_up": ("speed_dps",),
    "rep_end": (
        "start_ms", "end_ms", "depth_deg", "hold_s", "descent_s", "rise_s",
        "descent_speed_dps", "rise_speed_dps", "bounces", "max_roll_deg",
        "fast_descent", "roll_out", "snap_up", "twist", "no_hold", "interrupted",
    ),
    "rep_cancel": ("reason", "interrupted"),
    "reset_ready": (),
    "side": ("side",),
    "sensor_gap": ("gap_ms",),
    "summary": ("reps", "side", "sides", "calibrated", "note"),
}

EVENT_TYPES = tuple(FIELDS)


def r2(x):
    """Round a float to hundredths (half away from zero). Host-side helper;
    the engine builds its numbers with c2/ms_s/udeg_c from integers."""
    if x < 0:
        return -int(-x * 100 + 0.5) / 100
    return int(x * 100 + 0.5) / 100


_C2_MAX = 2000000  # beyond +-20000.00 a single-precision float cannot carry hundredths


def c2(n):
    """n hundredths (an int) as an event number: n / 100, printed back by
    _num as exactly n hundredths on every port. Beyond +-20000 (where a
    single-precision float loses the hundredths) the whole number, an int."""
    if -_C2_MAX < n < _C2_MAX:
        return n / 100
    return rdiv(n, 100)


def rdiv(a, b):
    """a / b rounded to the nearest integer, halves away from zero (b > 0)."""
    if a >= 0:
        return (a + b // 2) // b
    return -((b // 2 - a) // b)


def ms_s(ms):
    """Milliseconds (int) as seconds with two decimals."""
    return c2(rdiv(ms, 10))


def udeg_c(u):
    """Micro-degrees (or micro-anything, an int) with two decimals."""
    return c2(rdiv(u, 10000))


def _num(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    # float: format from integer hundredths. For a c2() value n / 100 with
    # |n| < 2**21, x * 100 is within 0.25 of n even in single precision, so
    # the rounding below gives n back exactly on every port.
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    neg = x < 0
    n = int((-x if neg else x) * 100 + 0.5)
    s = "%d.%02d" % (n // 100, n % 100)
    if s.endswith("0"):
        s = s[:-1]
    return ("-" + s) if neg and n else s


# The names events use, quoted once at import (filled below). Nothing is
# added later: a string kept from an event would stay wherever the heap's
# free space was at that moment, and on a board (code and data in one
# heap) such strings split the free space (docs/DESIGN.md, RAM).
_QUOTED = {}


def _str(s):
    q = _QUOTED.get(s)
    return q if q is not None else _quote(s)


def _quote(s):
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ord(ch) < 32:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _val(v):
    if v is None:
        return "null"
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join([_val(x) for x in v]) + "]"
    if isinstance(v, dict):
        keys = sorted(v)
        return "{" + ", ".join([_str(k) + ": " + _val(v[k]) for k in keys]) + "}"
    return _num(v)


def to_json(ev):
    """One event dict as one JSON line (no newline), keys in contract order."""
    parts = [
        '"type": ' + _str(ev["type"]),
        '"t_ms": ' + _val(ev["t_ms"]),
        '"rep": ' + _val(ev["rep"]),
    ]
    known = FIELDS.get(ev["type"], ())
    for k in known:
        if k in ev:
            parts.append(_str(k) + ": " + _val(ev[k]))
    extra = [k for k in ev if k not in known and k not in ("type", "t_ms", "rep")]
    extra.sort()
    for k in extra:
        parts.append(_str(k) + ": " + _val(ev[k]))
    return "{" + ", ".join(parts) + "}"


for _t in FIELDS:
    _QUOTED[_t] = _quote(_t)
    for _k in FIELDS[_t]:
        _QUOTED[_k] = _quote(_k)
del _t, _k


_MS_FIELDS = ("t_ms", "onset_ms", "start_ms", "end_ms")


class TraceClock:
    """Feeds a trace's own times (any non-negative integers, 64-bit and
    beyond) to the engine as ticks, and gives events back the trace's times.

    The engine works in wrap-safe ticks (heelcore.ticks, period 2**30 ms).
    tick(t) returns the tick value for a sample at trace time t. A forward
    jump longer than JUMP_MS (3 days) reaches the engine as a JUMP_MS gap (a
    gap either way: the rep in progress ends as interrupted), so that no jump
    is ever mistaken for time running backwards. events(ev) rewrites the
    event's times (t_ms, onset_ms, start_ms, end_ms) from ticks to trace
    times. Both replay engines (CPython and the unix port) use it, so they
    agree on any timestamp."""

    JUMP_MS = 1 << 28

    def __init__(self):
        self.last = None  # last trace time
        self.eng = 0  # the engine's unwrapped time of that sample
        self.jump_at = None  # engine time of the first sample after the last jump
        self.jump_off = 0  # trace time - engine time before that jump
        self.off = 0  # trace time - engine time now

    def tick(self, t):
        if self.last is None:
            self.eng = 0
            self.off = t
        else:
            d = t - self.last
            if d > self.JUMP_MS:
                self.jump_off = self.off
                self.eng += self.JUMP_MS
                self.jump_at = self.eng
                self.off = t - self.eng
            else:
                self.eng += d
        self.last = t
        return self.eng & 0x3FFFFFFF

    def _full(self, v):
        # the engine's tick v, at or before the current sample (within half
        # the tick period), as a trace time
        e = self.eng - ((self.eng - v + 0x20000000) & 0x3FFFFFFF) + 0x20000000
        if self.jump_at is not None and e < self.jump_at:
            return e + self.jump_off
        return e + self.off

    def event(self, ev):
        for k in _MS_FIELDS:
            v = ev.get(k)
            if isinstance(v, int) and not isinstance(v, bool):
                ev[k] = self._full(v)
        return ev
