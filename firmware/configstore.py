# The settings file on flash: /heeldrop.json, read at boot, written on
# "config set". One JSON object; engine keys (heelcore.config.SPEC) and the
# device's own keys (DEVICE_SPEC below) side by side:
#     {"hold_target_s": 20, "reps_per_side": 12, "cue_style": "quiet", "sample_rate_hz": 100}
#
# API:
#     cfg, device, problems = load_config(path="/heeldrop.json")
#         cfg: heelcore.config.Config; device: dict with every DEVICE_SPEC
#         key; problems: list of one-line messages (show or stream them).
#         Never raises: a missing file gives the defaults and no problem;
#         unreadable or invalid JSON gives the defaults and one problem; each
#         bad or unknown key gives one problem and that key keeps its
#         default, the other keys still apply.
#     save_config(cfg, path="/heeldrop.json", device=None)
#         (save_config(cfg, device, path) is accepted too)
#         Validates device (ConfigError), writes path + ".tmp", flushes it
#         and renames it over path, so a power cut leaves either the old or
#         the new file, never half of one. Raises OSError (e.g. ENOSPC) for
#         the caller to report; path is then unchanged: a failed rename
#         never removes the old file (only a rename that refuses because the
#         target exists, as on FAT, replaces it by remove + rename).
#     set_setting(cfg, device, key, value, where="config")
#         Validate and apply one key of either table (ConfigError if bad).
#     device_defaults() -> dict; check_device(key, value, where) -> value
#
# If a save was cut between removing the old file and renaming the new one
# (only on filesystems whose rename does not replace, e.g. FAT), load_config
# reads the complete path + ".tmp".
import os
import sys

from heelcore.config import SPEC, Config, ConfigError, check
from heelcore.minijson import dumps, loads

PATH = "/heeldrop.json"
_EPERM = 1
_EACCES = 13
_EEXIST = 17


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False
_MPY = sys.implementation.name == "micropython"

# Device settings, in heelcore.config.SPEC's style:
# name: (default, min, max, kind, help); kind "i" int, or a tuple of choices.
DEVICE_SPEC = {
    "cue_style": ("full", None, None, ("full", "quiet", "minimal"),
                  "full: light and sound; quiet: light and soft ticks; minimal: faults and the end of a hold only"),
    "sample_rate_hz": (100, 25, 1000, "i", "IMU sample rate in Hz"),
}


def device_defaults():
    """The device settings at their defaults."""
    d = {}
    for k in DEVICE_SPEC:
        d[k] = DEVICE_SPEC[k][0]
    return d


def check_device(key, value, where="config"):
    """Return the validated value of a DEVICE_SPEC key, or raise ConfigError."""
    return check(key, value, where, DEVICE_SPEC)


def _allowed(spec, key):
    kind = spec[key][3]
    if isinstance(kind, tuple):
        return "/".join(kind)
    return "%r..%r" % (spec[key][1], spec[key][2])


def set_setting(cfg, device, key, value, where="config"):
    """Validate value and store it in cfg (engine key) or device (device key)."""
    if key in DEVICE_SPEC:
        device[key] = check_device(key, value, where)
    elif key in SPEC:
        setattr(cfg, key, check(key, value, where))
    else:
        known = sorted(list(SPEC) + list(DEVICE_SPEC))
        raise ConfigError("%s: unknown setting '%s'; known settings: %s" % (where, key, ", ".join(known)))


def _read(path):
    # the file's bytes; None if it does not exist (other OSErrors propagate)
    try:
        f = open(path, "rb")
    except OSError as e:
        if e.args and e.args[0] == 2:  # ENOENT
            return None
        raise
    try:
        return f.read()
    finally:
        f.close()


def _json_problem(where, text, e):
    # "heeldrop.json: not valid JSON at line 3 column 5 (expected ':'); using defaults"
    msg = str(e)
    if msg.startswith("json: "):
        msg = msg[6:]
    k = msg.rfind(" at ")
    if text is not None and k > 0 and msg[k + 4:].isdigit():
        i = int(msg[k + 4:])
        line = text.count("\n", 0, i) + 1
        col = i - text.rfind("\n", 0, i)
        return "%s: not valid JSON at line %d column %d (%s); using defaults" % (where, line, col, msg[:k])
    return "%s: not valid JSON (%s); using defaults" % (where, msg)


def load_config(path=PATH):
    """(Config, device settings dict, problems: list of str). Never raises."""
    cfg = Config()
    device = device_defaults()
    problems = []
    where = path.rsplit("/", 1)[-1]
    from_tmp = False
    try:
        raw = _read(path)
        if raw is None:
            raw = _read(path + ".tmp")  # a save cut after removing path
            from_tmp = True
    except Exception as e:  # noqa: BLE001 (OSError: EIO, ...; MemoryError)
        problems.append("%s: cannot read (%r); using defaults" % (where, e))
        return cfg, device, problems
    if raw is None:
        return cfg, device, problems
    text = None
    try:
        text = raw.decode()
        d = loads(text)
    except Exception as e:  # noqa: BLE001 (ValueError "json: ... at N", UnicodeError)
        if not from_tmp:  # a half-written temp file is an interrupted save: defaults
            problems.append(_json_problem(where, text, e))
        return cfg, device, problems
    if not isinstance(d, dict):
        problems.append("%s: expected a JSON object of settings, got %s; using defaults" % (where, type(d).__name__))
        return cfg, device, problems
    for key in sorted(d):
        try:
            set_setting(cfg, device, key, d[key], where)
        except ConfigError as e:
            msg = str(e)
            if key in SPEC or key in DEVICE_SPEC:
                spec = SPEC if key in SPEC else DEVICE_SPEC
                allowed = _allowed(spec, key)
                if allowed not in msg:
                    msg += " (allowed: %s)" % allowed
                msg += "; using the default %r" % spec[key][0]
            else:
                msg += "; ignored"
            problems.append(msg)
        except Exception as e:  # noqa: BLE001 (never raise at boot)
            problems.append("%s: %s: %r; ignored" % (where, key, e))
    return cfg, device, problems


def config_text(cfg, device=None):
    """The JSON text save_config writes: one key per line, sorted."""
    d = cfg.to_dict()
    dev = device_defaults()
    if device:
        for k in device:
            dev[k] = device[k]
    for k in dev:
        d[k] = dev[k]
    lines = []
    for k in sorted(d):
        lines.append("  " + dumps(k) + ": " + dumps(d[k]))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_config(cfg, path=PATH, device=None):
    """Write cfg and device atomically (temp file + rename). Raises
    ConfigError for a bad device setting, OSError if the flash refuses.
    device None: the device defaults are written with cfg. The arguments
    after cfg are told apart by type, so save_config(cfg, device, path)
    (the first version's order) works too."""
    if not isinstance(path, str):  # save_config(cfg, device[, path])
        path, device = (device if isinstance(device, str) else PATH), path
    if device:
        for k in device:
            if k not in DEVICE_SPEC:
                raise ConfigError("save_config: unknown device setting '%s'" % k)
            check_device(k, device[k], "save_config")
    data = config_text(cfg, device).encode()
    tmp = path + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
        if _MPY and hasattr(os, "sync"):
            try:
                os.sync()
            except OSError:
                pass
        try:
            os.rename(tmp, path)
        except OSError as e:
            # A filesystem whose rename does not replace (FAT) says the
            # target exists (EEXIST, or EACCES/EPERM on some ports); then the
            # old file goes and the complete tmp file takes its place
            # (load_config reads the tmp file if a cut comes in between).
            # Any other failure (ENOSPC on a full littlefs, EIO) leaves the
            # old file exactly as it was.
            if not (e.args and e.args[0] in (_EEXIST, _EACCES, _EPERM) and _exists(path)):
                raise
            os.remove(path)
            os.rename(tmp, path)
    except OSError:
        try:
            if _exists(path):  # never remove the only complete copy
                os.remove(tmp)
        except OSError:
            pass
        raise
