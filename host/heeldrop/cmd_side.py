"""heeldrop side: tell the device which leg the sensor is on."""
from heeldrop.transport import add_port_argument, open_device

HELP = "switch the device to the left or right leg (it recalibrates)"
EPILOG = """examples:
  heeldrop side right
  heeldrop side left --port /dev/ttyUSB0

The same as a short press of the button (under 1 s; a long press, 1.5 s,
starts or stops the session): logged in the session, then the device learns
level and foot axis again (stand still on the step).
exit status: 0 ok, 2 bad port, 3 no heeldrop firmware, 4 the board went away."""


def add_arguments(p):
    p.add_argument("side", choices=("left", "right"))
    add_port_argument(p)


def run(args):
    with open_device(args.port) as t:
        r = t.command("side", {"side": args.side})
    print("side: %s (stand still on the step to recalibrate)" % r.get("side", args.side))
    return 0
