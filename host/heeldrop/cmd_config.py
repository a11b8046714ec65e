"""heeldrop config: read or change the device's settings."""
import difflib
import json
import math

from heeldrop.errors import UserError
from heeldrop.transport import DeviceError, TransportError, add_port_argument, open_device

HELP = "show or change settings on the device (hold target, thresholds, cue style, ...)"
EPILOG = """examples:
  heeldrop config get
  heeldrop config get hold_target_s side
  heeldrop config set hold_target_s=45 cue_style=quiet
  heeldrop config get --json > settings.json

Values are JSON (45, 2.5, true, "text"); a bare word is taken as text.
The device checks every key and value (heelcore.config) and changes
nothing unless all are valid.
exit status: 0 ok, 1 the device refused (unknown key, out of range), 2 bad
usage or port, 3 no heeldrop firmware, 4 the board went away."""


def add_arguments(p):
    p.add_argument("action", choices=("get", "set"))
    p.add_argument("items", nargs="*", metavar="KEY or KEY=VALUE")
    p.add_argument("--json", action="store_true", help="print the settings (get) or the keys changed (set) as JSON")
    add_port_argument(p)


def _finite(x):
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, list):
        return all(map(_finite, x))
    if isinstance(x, dict):
        return all(map(_finite, x.values()))
    return True


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
            val = json.loads(v)
        except ValueError:
            val = v
        if not _finite(val):
            # JSON has no NaN or infinity; sent on, the device would read nothing ("got None")
            raise UserError("set: %s=%s: not a finite number; give a number such as %s=45" % (k, v.strip(), k))
        out[k] = val
    return out


def _with_known_settings(t, err, changes):
    """A refusal for an unknown key, with every setting the device has (its own list: config_get
    gives the engine's and the device's, cue_style and sample_rate_hz too) and the nearest name."""
    msg = str(err.result.get("message") or "")
    if "unknown setting" not in msg:
        return err
    try:
        known = sorted(t.command("config_get"))
    except TransportError:
        return err
    bad = [k for k in changes if k not in known]
    if not known or not bad:
        return err
    near = difflib.get_close_matches(bad[0], known, n=1)
    return UserError("config_set: unknown setting%s %s%s; the device's settings: %s" % (
        "s" if len(bad) > 1 else "", ", ".join(repr(k) for k in bad),
        (" (did you mean %s?)" % near[0]) if near else "", ", ".join(known)), 1)


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
            if args.json:
                print(json.dumps({k: r[k] for k in sorted(r)}, indent=1))
            for k in sorted(r) if not args.json else ():
                print("%s=%s" % (k, json.dumps(r[k])))
            missing = [k for k in args.items if k not in r]
            if missing:
                raise UserError("unknown setting%s: %s" % ("s" if len(missing) > 1 else "", ", ".join(missing)), 1)
        else:
            try:
                r = t.command("config_set", changes)
            except DeviceError as e:
                raise _with_known_settings(t, e, changes)
            ch = r.get("changed") or []
            if args.json:
                print(json.dumps({"changed": ch}))
            else:
                print("changed: %s" % (", ".join(ch) if ch else "nothing (already set)"))
    return 0
