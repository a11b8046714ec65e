"""heeldrop config: read or change the device's settings."""
import json

from heeldrop.errors import UserError
from heeldrop.transport import add_port_argument, open_device

HELP = "show or change settings on the device (hold target, thresholds, cue style, ...)"
EPILOG = """examples:
  heeldrop config get
  heeldrop config get hold_target_s side
  heeldrop config set hold_target_s=45 cue_style=quiet

Values are JSON (45, 2.5, true, "text"); a bare word is taken as text.
The device checks every key and value (heelcore.config) and changes
nothing unless all are valid.
exit status: 0 ok, 1 the device refused (unknown key, out of range), 2 bad
usage or port, 3 no heeldrop firmware, 4 the board went away."""


def add_arguments(p):
    p.add_argument("action", choices=("get", "set"))
    p.add_argument("items", nargs="*", metavar="KEY or KEY=VALUE")
    add_port_argument(p)


def parse_items(items):
    out = {}
    for it in items:
        if "=" not in it:
            raise UserError("set: expected KEY=VALUE, got %r" % it)
        k, v = it.split("=", 1)
        k = k.strip()
        if not k:
            raise UserError("set: empty key in %r" % it)
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def run(args):
    if args.action == "set":
        if not args.items:
            raise UserError("set: give at least one KEY=VALUE")
        changes = parse_items(args.items)
    elif any("=" in x for x in args.items):
        raise UserError("get takes key names; to change a value: heeldrop config set KEY=VALUE")
    with open_device(args.port) as t:
        if args.action == "get":
            r = t.command("config_get", {"keys": args.items} if args.items else None)
            for k in sorted(r):
                print("%s=%s" % (k, json.dumps(r[k])))
            missing = [k for k in args.items if k not in r]
            if missing:
                raise UserError("unknown setting%s: %s" % ("s" if len(missing) > 1 else "", ", ".join(missing)), 1)
        else:
            r = t.command("config_set", changes)
            ch = r.get("changed") or []
            print("changed: %s" % (", ".join(ch) if ch else "nothing (already set)"))
    return 0
