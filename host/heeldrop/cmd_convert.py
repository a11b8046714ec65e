"""heeldrop convert: turn a device session log into a trace CSV."""
import os
import sys

from heeldrop.errors import UserError

HELP = "convert a device session log (.hdl) into a trace CSV"
EPILOG = """examples:
  heeldrop convert 0007.hdl --to csv                  # writes 0007.csv
  heeldrop convert 0007.hdl --to csv -o left-day3.csv
  heeldrop convert 0007.hdl --to csv -o - | head      # to standard output

Raw counts become g and deg/s with the scales in the log's header. t_ms
keeps the device's clock (the ticks the recorded events refer to, unwrapped
so it never goes backwards), so 'heeldrop replay' of the CSV and 'heeldrop
events' of the log share one timeline; --from-zero starts it at 0. The
header's side (at the start), imu, board, firmware and start time become
the CSV's metadata lines. Samples the device lost (FIFO overflow, I2C
errors) are simply absent, so the timestamps show the gap. A log cut off by
a power loss or with damaged bytes is converted as far as it can be read,
with one line on stderr saying what was lost.
exit status: 0 ok (also when part of a damaged log was lost), 2 the file is
not a session log or cannot be read/written."""


def add_arguments(p):
    p.add_argument("session", metavar="SESSION", help="session log file from the device")
    p.add_argument("--to", choices=("csv",), default="csv", help="output format (only csv for now)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output file ('-' for standard output; default: SESSION with a .csv extension)")
    p.add_argument("--from-zero", action="store_true",
                   help="t_ms from 0 at the first sample instead of the device's clock")
    p.add_argument("--accel-lsb-per-g", type=float, metavar="N",
                   help="accelerometer scale, if the log's header is lost or wrong")
    p.add_argument("--gyro-lsb-per-dps", type=float, metavar="N",
                   help="gyroscope scale, if the log's header is lost or wrong")


def load_log(path):
    """LogReader of the session log at path; UserError (exit 2) if it is not one."""
    from heelcore.record import LogFormatError, LogReader

    try:
        with open(path, "rb") as f:
            data = f.read()
    except IsADirectoryError:
        raise UserError("%s: is a folder, not a session log" % path)
    except OSError as e:
        raise UserError("%s: cannot read (%s)" % (path, e.strerror or e))
    try:
        r = LogReader(data)
    except LogFormatError as e:
        raise UserError("%s: %s" % (path, e))
    if r.header is None and not r.records:
        if r.truncated:
            raise UserError("%s: session log cut off inside its header (%d bytes): nothing to recover" % (path, len(data)))
        raise UserError("%s: session log with no readable record" % path)
    return r


def loss_note(path, r, what="samples", gaps=True):
    """One line saying what a damaged log lost (and, with gaps, the samples
    the device itself recorded as lost), or None if nothing was."""
    parts = []
    if r.truncated:
        parts.append("cut off: the last %d bytes were an incomplete record" % r.truncated_bytes)
    if r.skipped_bytes:
        n = sum(1 for e in r.errors if e.startswith("skipped"))
        parts.append("%d damaged bytes skipped in %d place%s" % (r.skipped_bytes, n, "" if n == 1 else "s"))
    if r.header is None:
        parts.append("header unreadable")
    gaps = r.gaps() if gaps else None
    if gaps:
        reasons = sorted({g[2] for g in gaps})
        parts.append("device lost %d samples in %d gap%s (%s)" % (
            sum(g[1] for g in gaps), len(gaps), "" if len(gaps) == 1 else "s", ", ".join(reasons)))
    if not parts:
        return None
    return "%s: %s; recovered %s" % (path, "; ".join(parts), what)


def _scales(path, header, args):
    a = args.accel_lsb_per_g or header.get("accel_lsb_per_g")
    g = args.gyro_lsb_per_dps or header.get("gyro_lsb_per_dps")
    try:
        a = float(a) if a is not None else None
        g = float(g) if g is not None else None
    except (TypeError, ValueError):
        a = g = None
    if not a or not g or a <= 0 or g <= 0:
        raise UserError("%s: the log's header gives no usable sensor scales; pass --accel-lsb-per-g and "
                        "--gyro-lsb-per-dps (MPU-6050 at +-4 g / +-500 dps: 8192 and 65.5)" % path)
    return a, g


def log_to_trace(r, path, args):
    """(Trace, notes) from a LogReader: counts scaled, t_ms on the device's
    clock unwrapped (or from 0 with args.from_zero), meta from the header."""
    from heelcore.ticks import ticks_diff
    from heeldrop.traceio import Trace, parse_meta_value

    header = r.header or {}
    a, g = _scales(path, header, args)
    samples = r.samples()
    notes = []
    t_ms, cols = [], [[], [], [], [], [], []]
    t = 0 if (getattr(args, "from_zero", False) or not samples) else samples[0][1]
    start = t
    prev = None
    back = 0
    for s in samples:
        if prev is not None:
            d = ticks_diff(s[1], prev)
            if d < 0:  # time going backwards: not a valid trace row
                back += 1
                continue
            t += d
        prev = s[1]
        t_ms.append(t)
        for k in range(6):
            cols[k].append(s[2 + k] / (a if k < 3 else g))
    if back:
        notes.append("%s: dropped %d samples whose time went backwards" % (path, back))
    meta = {}
    rate = header.get("rate_hz")
    if rate:
        meta["sample_rate_hz"] = rate
    for key in ("side", "imu", "board", "firmware", "started"):
        v = header.get(key)
        if v is None or v == "":
            continue
        try:
            parse_meta_value(key, str(v))
        except ValueError as e:
            notes.append("%s: header %s left out (%s)" % (path, key, e))
            continue
        meta[key] = v
    if header.get("uid"):
        # the session's identity (board id, store id, session id): the history
        # and the report count a session once whatever files carry it
        meta["session_uid"] = str(header["uid"])
    # the sensor's own scales: replay converts back to exactly these counts
    meta["accel_lsb_per_g"] = a
    meta["gyro_lsb_per_dps"] = g
    sides = r.sides()
    if sides and samples:
        # side switches as the trace metadata replay applies (the engine
        # switches side and recalibrates, as the button did on the device)
        meta["side_switch_ms"] = ",".join(str(start + ticks_diff(ts, samples[0][1])) for sd, ts in sides)
    if sides:
        notes.append("%s: the side changed during the session (%s); the CSV's side= is the starting side" % (
            path, ", ".join("%s at t_ms=%d" % (sd, start + ticks_diff(ts, samples[0][1]) if samples else ts)
                            for sd, ts in sides)))
    tr = Trace(t_ms=t_ms, ax=cols[0], ay=cols[1], az=cols[2], gx=cols[3], gy=cols[4], gz=cols[5],
               meta=meta, path=path)
    return tr, notes


def _default_out(path):
    base, ext = os.path.splitext(path)
    return base + ".csv"


def run(args):
    from heeldrop.traceio import format_trace, write_trace

    path = args.session
    r = load_log(path)
    tr, notes = log_to_trace(r, path, args)
    out = args.output or _default_out(path)
    if out != "-" and os.path.abspath(out) == os.path.abspath(path):
        raise UserError("%s: output would overwrite the session log; give -o OUT" % path)
    try:
        if out == "-":
            sys.stdout.write(format_trace(tr))
            sys.stdout.flush()
        else:
            write_trace(out, tr)
    except OSError as e:
        raise UserError("%s: cannot write (%s)" % (out, e.strerror or e))
    except ValueError as e:
        raise UserError("%s: %s" % (path, e))
    span = (tr.t_ms[-1] / 1000.0) if tr.t_ms else 0.0
    note = loss_note(path, r, "%d samples (%.1f s)" % (len(tr.t_ms), span))
    if note:
        print("heeldrop convert: " + note, file=sys.stderr)
    for n in notes:
        print("heeldrop convert: " + n, file=sys.stderr)
    return 0
