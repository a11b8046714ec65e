"""The firmware files that go onto a board, in one list.

`heeldrop deploy` compiles and copies them; firmware/package.json lists them
for MicroPython's package installer (mip); firmware/manifest.py freezes them
into a MicroPython build (all but main.py, which stays on the filesystem).
The list: every .py at the top of firmware/ and under firmware/lib,
firmware/drivers and firmware/boards, as paths relative to firmware/, which
is also their path on the board (the board's / holds main.py and app.py,
/lib holds heelcore). firmware/sim (the emulated chips and the unix-port
runner of the virtual device) stays on the host.

    python -m heeldrop.boardfiles            # is firmware/package.json current?  exit 1 if not
    python -m heeldrop.boardfiles --write    # regenerate it from this list and heelcore.VERSION
"""
import json
import os
import sys

from heeldrop import resources

SUBDIRS = ("lib", "drivers", "boards")   # board folders; firmware/sim is host-only
SOURCE_ONLY = ("main.py", "boot.py")     # run from the filesystem at boot: never compiled, never frozen
PACKAGE_JSON = "package.json"


def board_files(firmware=None):
    """Sorted relative paths ('app.py', 'lib/heelcore/engine.py', ...) of the files a board runs."""
    firmware = firmware or resources.firmware_dir()
    out = sorted(f for f in os.listdir(firmware) if f.endswith(".py") and f != "manifest.py")
    for d in SUBDIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(firmware, d)):
            dirnames[:] = sorted(x for x in dirnames if not x.startswith((".", "__")))
            for f in sorted(filenames):
                if f.endswith(".py"):
                    out.append(os.path.relpath(os.path.join(dirpath, f), firmware).replace(os.sep, "/"))
    return out


def package_json(firmware=None):
    """firmware/package.json as mip reads it: urls (destination, source) relative to
    the install target and to package.json's own folder, no deps, the version."""
    from heelcore import VERSION
    return {
        "urls": [[f, f] for f in board_files(firmware)],
        "deps": [],
        "version": VERSION,
    }


def package_json_text(firmware=None):
    d = package_json(firmware)
    lines = ["{", '  "urls": [']
    lines += ["    %s%s" % (json.dumps(u), "," if i < len(d["urls"]) - 1 else "") for i, u in enumerate(d["urls"])]
    lines += ["  ],", '  "deps": [],', '  "version": %s' % json.dumps(d["version"]), "}", ""]
    return "\n".join(lines)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = os.path.join(resources.firmware_dir(), PACKAGE_JSON)
    want = package_json_text()
    try:
        with open(path, encoding="utf-8") as f:
            have = f.read()
    except OSError:
        have = None
    if "--write" in argv:
        if have != want:
            with open(path, "w", encoding="utf-8") as f:
                f.write(want)
            print("firmware/package.json updated")
        else:
            print("firmware/package.json already current")
        return 0
    if have != want:
        print("firmware/package.json is stale: run python -m heeldrop.boardfiles --write")
        return 1
    print("firmware/package.json is current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
