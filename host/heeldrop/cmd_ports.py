"""heeldrop ports: the serial ports and the boards among them, and running virtual devices."""
import glob
import json
import os

from heeldrop.transport import list_ports

HELP = "list the serial ports, marking the likely boards (by USB vendor and product id), and running sims"
EPILOG = """examples:
  heeldrop ports
  heeldrop ports --all          # also ports that are not USB (ttyS0, ...)
  heeldrop ports --json

Known USB ids: 2E8A Raspberry Pi (RP2040/RP2350), 303A Espressif (ESP32
native USB), 10C4:EA60 CP210x, 1A86:7523 CH340, 1A86:55D4 CH9102, 0403 FTDI
(the USB-serial chips of ESP32 boards). A port marked * is a likely board;
with exactly one, the other commands use it without --port. A virtual device
(`heeldrop sim --pty`) has no USB id: it is listed under its own heading, by
the link the sim made (/tmp/heeldrop-sim-PID); give it with --port.
exit status: 0 ok (also when nothing is found)."""

SIM_LINKS = "/tmp/heeldrop-sim-*"  # made by heeldrop sim --pty (cmd_sim.serve_pty)


def add_arguments(p):
    p.add_argument("--all", action="store_true", help="also list ports with no USB ids")
    p.add_argument("--json", action="store_true", help="print the ports and sims as JSON")


def running_sims():
    """[(link, pty path, pid)] of the virtual devices running now (the link's process alive, its pty there)."""
    out = []
    for link in sorted(glob.glob(SIM_LINKS)):
        try:
            pid = int(link.rsplit("-", 1)[1])
            target = os.readlink(link)
        except (ValueError, OSError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue  # a link left by a sim that was killed
        except PermissionError:
            pass  # alive, another user's
        if os.path.exists(target):
            out.append((link, target, pid))
    return out


def run(args):
    ports = [p for p in list_ports() if args.all or p[2] is not None]
    sims = running_sims()
    if args.json:
        print(json.dumps({
            "ports": [{"port": dev, "description": desc, "usb_id": ("%04X:%04X" % (vid, pid or 0)) if vid is not None
                       else None, "what": known, "serial": sn, "likely_board": bool(likely)}
                      for dev, desc, vid, pid, sn, known, likely in ports],
            "sims": [{"port": link, "pty": target, "pid": pid} for link, target, pid in sims]}, indent=1))
        return 0
    if not ports:
        print("no USB serial port found: plug the board in with a data cable "
              "(with no hardware: heeldrop sim --pty, or heeldrop demo)")
    else:
        print("  %-22s %-10s %-44s %s" % ("port", "usb id", "what", "serial"))
        for dev, desc, vid, pid, sn, known, likely in ports:
            ids = "%04X:%04X" % (vid, pid) if vid is not None else "-"
            print("%s %-22s %-10s %-44s %s" % ("*" if likely else " ", dev, ids, (known or desc or "")[:44], sn or ""))
        n = sum(1 for p in ports if p[6])
        if n == 0:
            print("no likely board among them; pass --port PORT to use one")
        elif n > 1:
            print("%d likely boards: choose one with --port PORT (or HEELDROP_PORT)" % n)
    if sims:
        print("virtual devices (heeldrop sim --pty), use with --port:")
        for link, target, pid in sims:
            print("  %-22s %-10s heeldrop sim, process %d" % (link, target, pid))
    return 0
