"""`heeldrop demo` on the virtual device: start `heeldrop sim --pty` on the
bundled session, watch the set live, download the session (verified), say
where the files are. Runs without a terminal too (plain lines)."""
import os
import shutil
import sys
import tempfile
import time

from heelcore import proto
from heeldrop.errors import UserError


class SimStartError(UserError):
    pass


def _trace_seconds(path):
    try:
        from heeldrop.traceio import read_trace
        tr = read_trace(path)
        return (tr.t_ms[-1] - tr.t_ms[0]) / 1000.0 if tr.t_ms else 0.0
    except UserError:
        raise
    except Exception:
        return 600.0


def _trace_side(path):
    try:
        from heeldrop.traceio import read_trace
        return read_trace(path).meta.get("side")
    except Exception:
        return None


def check_against_replay(trace_path, log_path):
    """Is the virtual device's session what `heeldrop replay` makes of the
    same trace? (ok, message). Checked, in order: every trace row arrived,
    once, in order, with the trace's counts (nothing lost, shifted or
    doubled); the device stamped them on its IMU's sample grid; the events
    the device logged equal the host engine's over the trace's samples at
    those times, with side switches where the device's button made them (a
    person presses when they press: that time is an input, not a result).
    The emulated IMU samples at its ODR, so a trace whose timestamps jitter
    is played (and replayed here) on that grid: the message says by how
    much its own timestamps differ. Any other difference fails, saying
    where."""
    from heelcore.events import to_json
    from heelcore.record import LogReader
    from heeldrop.replay import run_engine, scales, to_counts
    from heeldrop.traceio import Trace, read_trace

    tr = read_trace(trace_path)
    with open(log_path, "rb") as f:
        rd = LogReader(f.read())
    rows = to_counts(tr)
    got = rd.samples()
    h = rd.header or {}
    a, g = scales(tr)
    if (h.get("accel_lsb_per_g"), h.get("gyro_lsb_per_dps")) != (a, g):
        return False, "the device's scales (%s, %s LSB) differ from the trace's (%s, %s): counts cannot be compared" % (
            h.get("accel_lsb_per_g"), h.get("gyro_lsb_per_dps"), a, g)
    if rd.gaps():
        n_lost = sum(x[1] for x in rd.gaps())
        return False, "the device lost %d of %d samples (%d gaps, first at sample %d: %s)" % (
            n_lost, len(rows), len(rd.gaps()), rd.gaps()[0][0], rd.gaps()[0][2])
    if len(got) != len(rows):
        return False, "the device logged %d samples, the trace has %d" % (len(got), len(rows))
    for k, (row, s) in enumerate(zip(rows, got)):
        if s[0] != k or tuple(s[2:]) != tuple(row[1:]):
            return False, "sample %d differs: device seq %d %s, trace row %d %s" % (
                k, s[0], list(s[2:]), k, list(row[1:]))
    rate = float(h.get("rate_hz") or 0)
    if rate > 0:
        per = 1000.0 / rate
        for k in range(1, len(got)):
            d = got[k][1] - got[0][1] - k * per
            if not -1 < d < 1:
                return False, "the device stamped sample %d at %d ms, %.1f ms off its %g Hz grid" % (
                    k, got[k][1] - got[0][1], d, rate)
    off = max(abs((rows[k][0] - rows[0][0]) - (got[k][1] - got[0][1])) for k in range(len(rows)))
    # the host engine over the trace's samples, at the device's times
    t_dev = [s[1] for s in got]
    tt = Trace(t_dev, tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz, dict(tr.meta), path=tr.path)
    sides = rd.sides()
    tt.meta.pop("side_switch_ms", None)
    if sides:
        tt.meta["side_switch_ms"] = ",".join(str(t) for _side, t in sides)
    side = h.get("side")
    want = [to_json(e) for e in run_engine(tt, side=side if side in ("left", "right") else None)]
    have = [x.decode() if isinstance(x, bytes) else x for x in rd.events()]
    for i, (x, y) in enumerate(zip(have, want)):
        if x != y:
            return False, "event %d differs:\n  device %s\n  replay %s" % (i + 1, x, y)
    if len(have) != len(want):
        return False, "the device logged %d events, replay of the trace makes %d" % (len(have), len(want))
    notes = []
    if off:
        notes.append("the trace's own timestamps stray up to %d ms from the %g Hz grid its samples were played on" % (
            off, rate))
    sw = _switches(tr)
    if sides and sw:
        # where the trace switches: the sample at its side_switch_ms, on the device's clock
        at = [next((got[k][1] for k in range(len(rows)) if rows[k][0] >= w), got[-1][1]) for w in sw]
        notes.append("side switch %s ms after the trace's (a button press, released and debounced)" % ", ".join(
            "%+d" % (t - u) for (_s, t), u in zip(sides, at)))
    return True, "%d samples and %d events identical to heeldrop replay of the trace%s" % (
        len(rows), len(have), (" (" + "; ".join(notes) + ")") if notes else "")


def _switches(tr):
    from heeldrop.replay import side_switches

    return side_switches(tr)


def watch(t, view, rec, sim, expect_s, idle_s=3.0, events=None):
    """Live view until the set is over: the sim reports the end, the device
    stops recording, or no sample arrives for idle_s after the stream began."""
    from heeldrop.cmd_live import ingest
    state = {"last": time.monotonic(), "recording": False, "stopped": False}

    def on_frame(f):
        if f.type == proto.T_EVENT and events is not None:
            try:
                ev = proto.parse_json(f.payload)
            except ValueError:
                return
            if isinstance(ev, dict):
                events.append(ev)
        elif f.type in (proto.T_SAMPLES, proto.T_SAMPLES_PACKED):
            state["last"] = time.monotonic()
        elif f.type == proto.T_STATUS:
            try:
                st = proto.parse_json(f.payload)
            except ValueError:
                return
            if isinstance(st, dict):
                if st.get("recording"):
                    state["recording"] = True
                elif state["recording"]:
                    state["stopped"] = True

    end = time.monotonic() + expect_s
    while time.monotonic() < end:
        ingest(t, view, rec, 0.25, on_frame=on_frame)
        if state["stopped"] or any(line.startswith("sim: end") for line in sim.lines[-5:]):
            ingest(t, view, rec, 0.3, on_frame=on_frame)  # the last frames
            return "end"
        if t.samples.received and time.monotonic() - state["last"] > idle_s:
            return "idle"
        if not sim.alive():
            return "exited"
    return "timeout"


def run_device_demo(trace, speed, dest, out=None):
    from heeldrop.cmd_download import download
    from heeldrop.cmd_live import Recorder
    from heeldrop.cmd_sessions import list_sessions
    from heeldrop.liveview import LiveView
    from heeldrop.simproc import SimProcess
    from heeldrop.transport import SerialTransport

    out = out or sys.stdout
    if not os.path.exists(trace):
        raise UserError("%s: no such trace" % trace)
    seconds = _trace_seconds(trace)
    flash = tempfile.mkdtemp(prefix="heeldrop-demo-flash-")
    name = os.path.basename(trace)
    try:
        print("heeldrop demo: starting the virtual device on %s (%.0f s of exercise at %s speed)" % (
            name, seconds, "max" if speed is None else "%gx" % speed), file=out)
        out.flush()
        sim = SimProcess(trace, speed=speed, flash=flash, extra=["--wait-host"])
        try:
            sim.start()
        except UserError as e:
            raise SimStartError(str(e))
        with sim:
            t = SerialTransport(sim.port)
            try:
                h = t.connect(timeout=10.0)
                print("virtual device on %s: board %s, firmware %s, IMU %s at %s Hz" % (
                    sim.port, h.get("board"), h.get("firmware"), h.get("imu"), h.get("rate_hz")), file=out)
                out.flush()
                view = LiveView(title="heeldrop demo: %s on %s" % (name, sim.port))
                rec = Recorder(keep=False)
                expect = (seconds / speed if speed else seconds / 20.0) * 1.5 + 30.0
                events = []
                with view:
                    how = watch(t, view, rec, sim, expect, events=events)
                print("set over (%s): %s" % ({"end": "end of the recording", "idle": "the stream stopped",
                                               "exited": "the virtual device stopped",
                                               "timeout": "time limit"}[how], t.describe_stats()), file=out)
                if not sim.alive() and how == "exited":
                    raise UserError("the virtual device stopped: %s" % " | ".join(sim.lines[-3:]), 1)
                sessions = [s for s in list_sessions(t)]
                if not sessions:
                    raise UserError("the virtual device recorded no session", 1)
                # the last session: wait (briefly) until the device has closed it
                sid = sessions[-1]["id"]
                deadline = time.monotonic() + 10
                while not sessions[-1].get("complete", True) and time.monotonic() < deadline:
                    try:
                        t.command("stop")
                    except UserError:
                        pass
                    time.sleep(0.3)
                    sessions = list_sessions(t)
                res = download(t, [sid], False, dest, False, out=out)
            finally:
                t.close()
        r = res[0]
        from heeldrop.liveview import rep_summary
        print("", file=out)
        print(rep_summary(events, _trace_side(trace)), file=out)
        ok, why = check_against_replay(trace, r.path)
        if not ok:
            raise UserError("check against replay FAILED: %s\n(the session is kept: %s)" % (why, r.path), 1)
        print("\ncheck against replay: %s" % why, file=out)
        print("", file=out)
        print("files:", file=out)
        print("  session log  %s" % r.path, file=out)
        if r.csv:
            print("  trace CSV    %s" % r.csv, file=out)
            print("next: heeldrop report %s" % r.csv, file=out)
        print("      heeldrop events %s" % r.path, file=out)
        return 0
    finally:
        shutil.rmtree(flash, ignore_errors=True)
