"""heeldrop ports: the serial ports and the boards among them."""
from heeldrop.transport import list_ports

HELP = "list the serial ports, marking the likely boards (by USB vendor and product id)"
EPILOG = """examples:
  heeldrop ports
  heeldrop ports --all          # also ports that are not USB (ttyS0, ...)

Known USB ids: 2E8A Raspberry Pi (RP2040/RP2350), 303A Espressif (ESP32
native USB), 10C4:EA60 CP210x, 1A86:7523 CH340, 1A86:55D4 CH9102, 0403 FTDI
(the USB-serial chips of ESP32 boards). A port marked * is a likely board;
with exactly one, the other commands use it without --port.
exit status: 0 ok (also when nothing is found)."""


def add_arguments(p):
    p.add_argument("--all", action="store_true", help="also list ports with no USB ids")


def run(args):
    ports = [p for p in list_ports() if args.all or p[2] is not None]
    if not ports:
        print("no USB serial port found: plug the board in with a data cable "
              "(with no hardware: heeldrop sim --pty, or heeldrop demo)")
        return 0
    print("  %-22s %-10s %-44s %s" % ("port", "usb id", "what", "serial"))
    for dev, desc, vid, pid, sn, known, likely in ports:
        ids = "%04X:%04X" % (vid, pid) if vid is not None else "-"
        print("%s %-22s %-10s %-44s %s" % ("*" if likely else " ", dev, ids, (known or desc or "")[:44], sn or ""))
    n = sum(1 for p in ports if p[6])
    if n == 0:
        print("no likely board among them; pass --port PORT to use one")
    elif n > 1:
        print("%d likely boards: choose one with --port PORT (or HEELDROP_PORT)" % n)
    return 0
