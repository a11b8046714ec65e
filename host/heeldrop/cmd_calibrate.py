"""heeldrop calibrate: learn level again."""
import json
import time

from heelcore import proto
from heeldrop.errors import UserError
from heeldrop.transport import add_port_argument, open_device

HELP = "start a calibration on the device and wait for its outcome"
EPILOG = """examples:
  heeldrop calibrate                 # stand still on the step, forefoot on the edge
  heeldrop calibrate --wait 30

The device needs a still spell, then one slow heel drop to learn the foot
axis; this command waits (default 20 s) for the calibrated or
calibration_failed event.
exit status: 0 calibrated, 1 failed or no outcome in time, 2 bad port,
3 no heeldrop firmware, 4 the board went away."""


def add_arguments(p):
    p.add_argument("--wait", type=float, default=20.0, metavar="S", help="seconds to wait for the outcome (default 20)")
    add_port_argument(p)


def run(args):
    with open_device(args.port) as t:
        t.command("calibrate")
        print("calibrating: stand still on the step...")
        deadline = time.monotonic() + args.wait
        while time.monotonic() < deadline:
            f = t.next_frame(min(0.5, max(0.01, deadline - time.monotonic())))
            if f is None or f.type != proto.T_EVENT:
                continue
            try:
                ev = json.loads(bytes(f.payload).decode())
            except ValueError:
                continue
            if ev.get("type") == "calibrated":
                print("calibrated (level tilt %s°)" % ev.get("level_tilt_deg", "?"))
                return 0
            if ev.get("type") == "calibration_failed":
                raise UserError("calibration failed: %s" % ev.get("reason", "?"), 1)
    raise UserError("no calibration outcome within %.0f s: stand still on the step and try again" % args.wait, 1)
