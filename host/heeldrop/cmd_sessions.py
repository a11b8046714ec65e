"""heeldrop sessions: the session logs on the device."""
from heeldrop.transport import add_port_argument, open_device

HELP = "list the sessions recorded on the device"
EPILOG = """examples:
  heeldrop sessions
  heeldrop sessions --port /dev/ttyACM0
  HEELDROP_PORT=/dev/pts/5 heeldrop sessions     # the virtual device (heeldrop sim --pty)

Then: heeldrop download --all
exit status: 0 ok, 2 no/wrong/busy port, 3 no heeldrop firmware or another
protocol version, 4 the board went away or stopped answering."""


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--json", action="store_true", help="print the board, its sessions and free flash as JSON")


def list_sessions(t):
    r = t.command("list_sessions")
    return list(r.get("sessions") or [])


def run(args):
    with open_device(args.port) as t:
        h = t.hello
        sessions = list_sessions(t)
        try:
            free = t.command("free_space")
        except Exception:
            free = {}
    if args.json:
        import json
        print(json.dumps({"port": t.name, "board": h.get("board"), "firmware": h.get("firmware"),
                          "sessions": sessions, "flash": free or None}, indent=1))
        return 0
    print("%s: %s, firmware %s" % (t.name, h.get("board", "?"), h.get("firmware", "?")))
    if not sessions:
        print("no sessions on the device")
    else:
        print("%6s %10s  %-20s %-6s %-9s %s" % ("id", "bytes", "started", "side", "state", "identity"))
        for s in sessions:
            state = s.get("state") or ("complete" if s.get("complete") else "recording")
            print("%6s %10s  %-20s %-6s %-9s %s" % (s.get("id"), s.get("size"), s.get("started") or "-",
                                                    s.get("side") or "-", state, s.get("uid") or "-"))
        if any(s.get("state") == "cut" for s in sessions):
            print("cut: the session ended without its END record (power loss or full flash); "
                  "it downloads like the others")
    if free:
        print("flash: %s of %s kB free" % (free.get("free_kb", "?"), free.get("total_kb", "?")))
    return 0
