# Detector events as one-line JSON, byte-identical on CPython and MicroPython.
#
# The contract (docs/EVENTS.md) fixes the types and fields.
# MicroPython dicts do not keep insertion order and its float formatting is not
# CPython's, so events are written here with a fixed key order and numbers
# formatted from integers: floats are rounded to hundredths.

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
        "fast_descent", "roll_out", "snap_up", "twist", "no_hold",
    ),
    "reset_ready": (),
    "side": ("side",),
    "sensor_gap": ("gap_ms",),
    "summary": ("reps", "side", "sides", "calibrated", "note"),
}

EVENT_TYPES = tuple(FIELDS)


def r2(x):
    """Round a float to hundredths (half away from zero), the events' precision."""
    if x < 0:
        return -int(-x * 100 + 0.5) / 100
    return int(x * 100 + 0.5) / 100


def _num(x):
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    # float: format from integer hundredths
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
