"""heeldrop live: watch the device live and record the sample stream."""
import json
import os
import time

from heelcore import proto
from heelcore.ticks import ticks_diff
from heeldrop.errors import UserError
from heeldrop.transport import add_port_argument, describe_tx_dropped, open_device

HELP = "live view of the device (phase, depth, rep, hold, cues) and record its samples as a trace CSV"
EPILOG = """examples:
  heeldrop live
  heeldrop live --save today.csv --seconds 120
  heeldrop live --port /dev/pts/4 --plain        # plain lines, e.g. into a log file

The view shows the phase, depth, rep, hold timer, side and faults the device
reports, a depth plot of the last seconds, and each cue as text. Without a
terminal it prints plain lines. --save writes every sample received as a
trace CSV (heeldrop replay / report read it). Samples lost on the link are
found by their sequence numbers and reported at the end, with the frames the
device itself said it could not send (its serial port full: a host that did
not read in time), noted as soon as its STATUS says so. Ctrl-C stops (the
trace is still saved).
exit status: 0 ok, 2 bad port, 3 no heeldrop firmware, 4 the board went away
(what was received is saved)."""


def add_arguments(p):
    p.add_argument("--save", metavar="TRACE", help="write the samples received to this trace CSV")
    p.add_argument("--seconds", type=float, metavar="N", help="stop after N seconds (default: until Ctrl-C)")
    p.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    p.add_argument("--start", action="store_true", help="ask the device to start a session first (if idle)")
    add_port_argument(p)


class Recorder:
    """Keeps the samples received (counts) and turns them into a trace."""

    def __init__(self, keep=True):
        self.keep = keep
        self.t = []
        self.c = []
        self.first = None
        self.prev = None
        self.now_ms = 0

    def add(self, samples):
        for s in samples:
            if self.prev is None:
                self.first = s[1]
                t = s[1]  # the device's clock (unwrapped), as heeldrop convert keeps it
            else:
                d = ticks_diff(s[1], self.prev)
                if d < 0:
                    continue
                t = self.now_ms + d
            self.prev = s[1]
            self.now_ms = t
            if self.keep:
                self.t.append(t)
                self.c.append(s[2:8])

    def trace(self, hello, side=None):
        a = float(hello.get("accel_lsb_per_g") or 8192)
        g = float(hello.get("gyro_lsb_per_dps") or 65.5)
        cols = list(zip(*self.c)) if self.c else [()] * 6
        d = {"t_ms": self.t}
        for k, name in enumerate(("ax", "ay", "az", "gx", "gy", "gz")):
            sc = a if k < 3 else g
            d[name] = [v / sc for v in cols[k]]
        meta = {"sample_rate_hz": hello.get("rate_hz"), "side": side or hello.get("side"), "imu": hello.get("imu"),
                "board": hello.get("board"), "firmware": hello.get("firmware")}
        from heeldrop.traceio import parse_meta_value
        ok = {}
        for k, v in meta.items():
            if v in (None, ""):
                continue
            try:
                parse_meta_value(k, str(v))
            except ValueError:
                continue  # a value the trace contract does not take: left out
            ok[k] = v
        return d, ok


def ingest(t, view=None, rec=None, seconds=None, on_frame=None):
    """Read frames from transport t into the view and recorder until `seconds` pass or the stream ends."""
    end = time.monotonic() + seconds if seconds else None
    while True:
        left = (end - time.monotonic()) if end else 0.5
        if end and left <= 0:
            break
        f = t.next_frame(min(0.5, max(0.0, left)))
        if f is None:
            if t.eof:
                break
            continue
        if on_frame:
            on_frame(f)
        if getattr(f, "bad", None):
            continue
        ty = f.type
        if ty in (proto.T_SAMPLES, proto.T_SAMPLES_PACKED):
            if rec is not None:
                rec.add(f.samples)
            if view is not None:
                view.samples = t.samples.received
                view.lost = t.samples.lost
                view.device_lost = t.samples.device_lost
                if rec is not None:
                    view.t_ms = rec.now_ms  # the device's clock: events carry the same
        elif view is None:
            continue
        elif ty == proto.T_STATUS:
            st = getattr(f, "status", None)
            if st is None:
                try:
                    st = proto.parse_json(f.payload)
                except ValueError:
                    continue
            if isinstance(st, dict):
                if rec is not None and isinstance(st.get("depth_deg"), (int, float)):
                    view.depth(rec.now_ms, st["depth_deg"])
                view.status(st)
            tx = getattr(t, "tx_dropped", 0)
            if tx != view.tx_dropped:
                # the device's own serial write could not send these: said at once, not a silent gap
                view.tx_dropped = tx
                view.note(describe_tx_dropped(tx, t.tx_dropped_samples))
        elif ty == proto.T_EVENT:
            try:
                ev = json.loads(bytes(f.payload).decode())
            except ValueError:
                continue
            if isinstance(ev, dict):
                view.event(ev)
        elif ty == proto.T_ERROR:
            code, msg = t.device_errors[-1] if t.device_errors else (0, "")
            view.note("device error %s: %s" % (proto.ERROR_NAMES[code] if code < len(proto.ERROR_NAMES) else code, msg))
        elif ty == proto.T_HELLO:
            view.note("the device restarted")
        if view is not None:
            view.refresh()


def run(args):
    from heeldrop.liveview import LiveView
    from heeldrop.traceio import write_trace
    from heeldrop.transport import TransportError

    if args.seconds is not None and not args.seconds > 0:
        raise UserError("--seconds must be above 0")
    if args.save:
        d = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(d):
            raise UserError("--save %s: no folder %s" % (args.save, d))
    t = open_device(args.port)
    rec = Recorder(keep=bool(args.save))
    err = None
    h = t.hello or {}
    try:
        if args.start:
            try:
                t.command("start")
            except TransportError as e:
                if getattr(e, "name", "") != "busy":
                    raise
        view = LiveView(title="heeldrop live: %s (%s, firmware %s)" % (t.name, h.get("board", "?"), h.get("firmware", "?")),
                        plain=True if args.plain else None)
        with view:
            try:
                ingest(t, view, rec, args.seconds)
            except KeyboardInterrupt:
                pass
            except TransportError as e:
                err = e
    finally:
        t.close()
    print("link: %s" % t.describe_stats())
    if args.save:
        if rec.t:
            side = view.state.get("side")
            cols, meta = rec.trace(h, side if side in ("left", "right") else None)
            write_trace(args.save, cols, meta)
            print("saved %d samples (%.1f s) to %s" % (len(rec.t), (rec.t[-1] - rec.t[0]) / 1000.0, args.save))
        else:
            print("no samples received: nothing saved")
    if err is not None:
        raise err
    return 0
