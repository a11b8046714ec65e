"""heeldrop demo: the main job with no hardware."""
import os
import sys
import time

from heeldrop import resources
from heeldrop.errors import UserError

HELP = "watch a bundled set live and download it, with no hardware (virtual device)"
EPILOG = """examples:
  heeldrop demo                       # the bundled session at 8x speed
  heeldrop demo --speed 20 --dest /tmp/demo
  heeldrop demo --replay --speed max  # replay through the engine here, no device
  heeldrop demo | cat                 # plain lines, no terminal needed (CI)

The demo plays a recorded session on the virtual device, shows the live
view while the set plays (sped up), then downloads the session and prints
where the files are. --replay runs the engine here instead of on the
virtual device and ends with a per-rep summary.
exit status: 0 ok, 2 bad input, 1 the demo failed."""

DEMO_TRACE = resources.demo_trace()


def add_arguments(p):
    p.add_argument("--speed", default="8", metavar="N",
                   help="how much faster than real time the set plays (default 8; 'max': as fast as possible)")
    p.add_argument("--trace", default=DEMO_TRACE, metavar="FILE", help="trace CSV to play (default: the bundled session)")
    p.add_argument("--dest", default=os.path.join("out", "demo"), metavar="DIR",
                   help="where the downloaded session goes (default out/demo)")
    p.add_argument("--replay", action="store_true",
                   help="replay through the engine here instead of the virtual device")


def parse_speed(text):
    if str(text).lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise UserError("--speed: expected a number or 'max', got %r" % text)
    if not v > 0:
        raise UserError("--speed: must be above 0, got %s" % text)
    return v


def run(args):
    speed = parse_speed(args.speed)
    if args.replay or not _have_sim():
        return run_replay(args.trace, speed)
    from heeldrop.demo_device import SimStartError, run_device_demo
    try:
        return run_device_demo(args.trace, speed, args.dest)
    except SimStartError as e:
        print("heeldrop demo: the virtual device did not start (%s); replaying here instead" % e, file=sys.stderr)
        return run_replay(args.trace, speed)


def _have_sim():
    return os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo_device.py")) and \
        os.path.exists(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cmd_sim.py"))


class _Pacer:
    """Sleeps so that trace time t_ms passes at `speed` x real time."""

    def __init__(self, speed):
        self.speed = speed
        self.t0 = None
        self.w0 = None

    def wait(self, t_ms):
        if self.speed is None:
            return
        now = time.monotonic()
        if self.t0 is None:
            self.t0, self.w0 = t_ms, now
            return
        due = self.w0 + (t_ms - self.t0) / 1000.0 / self.speed
        if due - now > 0.005:
            time.sleep(due - now)


def run_replay(path, speed):
    """Interim demo: the engine runs here over the trace, paced, through the live view."""
    from heeldrop.importers import load_any
    from heeldrop.liveview import LiveView, rep_summary
    from heeldrop.replay import run_engine

    tr = load_any(path)
    # first pass: the engine's state after every sample and its events
    states = []

    def on_sample(eng, s):
        states.append((s[0], eng.phase(), eng.depth_deg(), eng.hold_ms(), eng.rep, eng.side))

    events = run_engine(tr, on_sample=on_sample)
    out = sys.stdout
    name = os.path.basename(path)
    print("heeldrop demo: replaying %s (%d samples, %.0f s) at %s speed" % (
        name, len(states), (states[-1][0] - states[0][0]) / 1000.0 if states else 0,
        "max" if speed is None else "%gx" % speed), file=out)
    out.flush()
    pacer = _Pacer(speed)
    view = LiveView(title="heeldrop demo: %s (replay)" % name)
    ei = 0
    nev = len(events)
    with view:
        for i, (t, phase, depth, hold, rep, side) in enumerate(states):
            pacer.wait(t)
            while ei < nev and events[ei]["type"] != "summary" and events[ei]["t_ms"] <= t:
                view.event(events[ei])
                ei += 1
            if i % 5 == 0:
                view.depth(t, depth)
                view.status({"phase": phase, "depth_deg": depth, "hold_s": hold / 1000.0, "rep": rep, "side": side})
        while ei < nev and events[ei]["type"] != "summary":
            view.event(events[ei])
            ei += 1
    print(file=out)
    print(rep_summary(events, tr.meta.get("side")), file=out)
    print("\nnext: heeldrop report %s   (the HTML report of this set)" % path, file=out)
    return 0
