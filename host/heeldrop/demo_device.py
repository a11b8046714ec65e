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
        sim = SimProcess(trace, speed=speed, flash=flash)
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
