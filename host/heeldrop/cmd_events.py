"""heeldrop events: print the detector events recorded in a device session log."""
import json
import sys

HELP = "print the events recorded in a device session log, one JSON line each"
EPILOG = """examples:
  heeldrop events 0007.hdl
  heeldrop events 0007.hdl --type rep_end
  heeldrop events 0007.hdl | jq .depth_deg

Prints each event exactly as the device wrote it (the detector events
contract, one JSON object a line, in the order recorded). A log cut off by a
power loss or with damaged bytes prints what can be read, with one line on
stderr saying what was lost.
exit status: 0 ok, 2 the file is not a session log or cannot be read."""


def add_arguments(p):
    p.add_argument("session", metavar="SESSION", help="session log file from the device")
    p.add_argument("--type", action="append", metavar="TYPE",
                   help="only events of this type (repeatable), e.g. rep_end")


def run(args):
    from heeldrop.cmd_convert import load_log, loss_note

    path = args.session
    r = load_log(path)
    want = set(args.type or ())
    out = sys.stdout
    shown = bad = 0
    for line in r.events():
        try:
            ev = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if want and (not isinstance(ev, dict) or ev.get("type") not in want):
            continue
        out.write(line + "\n")
        shown += 1
    out.flush()
    note = loss_note(path, r, "%d events" % len(r.events()), gaps=False)
    if note:
        print("heeldrop events: " + note, file=sys.stderr)
    if bad:
        print("heeldrop events: %s: %d event record(s) are not JSON and were left out" % (path, bad), file=sys.stderr)
    return 0
