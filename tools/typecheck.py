"""Type-check the firmware against the MicroPython port stubs with mypy.

    .venv/bin/python tools/typecheck.py                 # both ports, all firmware
    .venv/bin/python tools/typecheck.py --port rp2      # one port
    .venv/bin/python tools/typecheck.py --port esp32 firmware/cues.py other.py
    .venv/bin/python tools/typecheck.py --setup         # only install the stubs

For each port (rp2, esp32) the pinned `micropython-<port>-stubs` (version read
from requirements-dev.txt) and its `micropython-stdlib-stubs` dependency
(the version installed in the running venv) are installed with
`pip install --no-deps --target build/typings/<port>`, once per pin (a
`.pins` stamp file says what is there). mypy then runs on:

    firmware/*.py, firmware/drivers/, firmware/boards/, firmware/lib/

excluding firmware/sim/ and firmware/boards/sim.py (both run only on the
unix port, against fake machine objects). Module names follow the device's
import layout: firmware/ and firmware/lib/ are the roots (`cues`,
`drivers.imu`, `boards.pico`, `heelcore.engine`).

The mypy settings, and why (written to build/typings/mypy-<port>.ini):

- custom_typeshed_dir = the stub folder: micropython-stdlib-stubs is a
  reduced typeshed (stdlib/ + stubs/ layout) made for this, so a CPython-only
  stdlib call (e.g. time.monotonic, csv) is an error, as on the board. The
  port modules (machine, micropython, rp2, esp32, neopixel, ...) come from
  mypy_path = the stub folder, then firmware/lib and firmware.
- no_site_packages: never look at the host venv, which holds both ports'
  stubs overwritten onto each other and CPython packages.
- follow_imports = silent with follow_imports_for_stubs: modules not listed
  (the sim, the stubs themselves) are read for their types, but their own
  errors are not reported (the 1.29 machine.pyi has a few).
- check_untyped_defs: the firmware is not annotated; without this mypy skips
  every function body, i.e. nearly every machine.Pin/I2C/PWM call.
- python_version = 3.10, the oldest mypy 2.x accepts (MicroPython's syntax
  is older still; unsupported syntax is the job of mpy-cross).
- disable_error_code = var-annotated: "need type annotation" for an empty
  dict or list is a demand for annotations, not an error, in unannotated code.

Findings inside CPython fallbacks are dropped: an `except ImportError:`
block whose `try:` imports micropython (`from micropython import const`,
`import micropython`) runs only on CPython, never on a board, and the
stand-ins it defines (`def const(x): return x`, `class micropython:` with
an identity `viper`) make mypy complain ("All conditional function variants
must have identical signatures", "Name already defined"). That is the
project's compatibility idiom, not a board-side type error. Other
`except ImportError` fallbacks (e.g. an optional binascii.crc32) can run on
a board and stay checked.

Exit status 0 when no errors remain, 1 otherwise, 2 when the setup failed.
Library use (the tests): ensure_stubs(port), firmware_modules(), run(port, files)
returning a list of Finding.
"""
import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
TYPINGS = os.path.join(ROOT, "build", "typings")
REQUIREMENTS = os.path.join(ROOT, "requirements-dev.txt")
PORTS = ("rp2", "esp32")
# firmware files that run only on the unix port (fake machine objects)
UNIX_ONLY = ("sim", os.path.join("boards", "sim.py"))


class SetupError(Exception):
    pass


class Finding:
    """One mypy error: path (absolute), line, code, message, hint."""

    def __init__(self, path, line, code, message, hint=None, severity="error"):
        self.path = path
        self.line = line
        self.code = code
        self.message = message
        self.hint = hint
        self.severity = severity

    @property
    def relpath(self):
        return os.path.relpath(self.path, ROOT)

    def __str__(self):
        return "%s:%s: %s  [%s]" % (self.relpath, self.line, self.message, self.code)

    __repr__ = __str__


def pinned(name, requirements=REQUIREMENTS):
    """The version pinned for package name in requirements-dev.txt."""
    want = name.lower().replace("_", "-")
    with open(requirements, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
            if m and m.group(1).lower().replace("_", "-") == want:
                return m.group(2)
    raise SetupError("%s is not pinned (name==version) in %s" % (name, requirements))


def stdlib_stubs_requirement():
    """micropython-stdlib-stubs as installed in this venv (pinned by what
    `make setup` resolved), else the stub packages' own constraint."""
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return "micropython-stdlib-stubs==" + version("micropython-stdlib-stubs")
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    return "micropython-stdlib-stubs~=1.29.0"


def stub_folder(port):
    return os.path.join(TYPINGS, port)


def ensure_stubs(port, quiet=True):
    """Install the port's stubs into build/typings/PORT unless the pinned
    versions are already there. Returns the folder."""
    if port not in PORTS:
        raise SetupError("unknown port %r (one of %s)" % (port, ", ".join(PORTS)))
    pkgs = ["micropython-%s-stubs==%s" % (port, pinned("micropython-%s-stubs" % port)), stdlib_stubs_requirement()]
    stamp_text = " ".join(pkgs) + "\n"
    folder = stub_folder(port)
    stamp = os.path.join(folder, ".pins")
    if _read(stamp) == stamp_text and os.path.isdir(os.path.join(folder, "stdlib")):
        return folder
    os.makedirs(TYPINGS, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".%s-" % port, dir=TYPINGS)
    try:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--disable-pip-version-check",
               "--target", tmp] + (["-q"] if quiet else []) + pkgs
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SetupError("installing %s failed:\n%s%s" % (" ".join(pkgs), r.stdout, r.stderr))
        with open(os.path.join(tmp, ".pins"), "w", encoding="utf-8") as f:
            f.write(stamp_text)
        old = folder + ".old-%d" % os.getpid()
        if os.path.isdir(folder):
            os.rename(folder, old)
        try:
            os.rename(tmp, folder)
        except OSError:
            # Another run (make typecheck next to pytest) installed it meanwhile.
            if _read(stamp) != stamp_text:
                raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def firmware_modules(firmware=FIRMWARE):
    """[(module name, path)] of the firmware files that run on a board."""
    out = []
    lib = os.path.join(firmware, "lib")
    for dirpath, dirnames, filenames in os.walk(firmware):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        rel = os.path.relpath(dirpath, firmware)
        if rel.split(os.sep)[0] == UNIX_ONLY[0]:
            continue
        for fn in sorted(filenames):
            if not fn.endswith(".py"):
                continue
            path = os.path.join(dirpath, fn)
            relf = os.path.relpath(path, firmware)
            if relf in UNIX_ONLY or fn.startswith("manifest"):  # manifests: MicroPython's build reads them
                continue
            root = lib if (path + os.sep).startswith(lib + os.sep) else firmware
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                out.append((".".join(parts), path))
    return out


def write_config(port, folder):
    ini = os.path.join(TYPINGS, "mypy-%s.ini" % port)
    text = "\n".join([
        "# Written by tools/typecheck.py (see its docstring for the reasons).",
        "[mypy]",
        "python_version = 3.10",
        "custom_typeshed_dir = %s" % folder,
        "mypy_path = %s" % os.pathsep.join([folder, os.path.join(FIRMWARE, "lib"), FIRMWARE]),
        "no_site_packages = True",
        "follow_imports = silent",
        "follow_imports_for_stubs = True",
        "check_untyped_defs = True",
        "disable_error_code = var-annotated",
        "show_error_codes = True",
        "cache_dir = %s" % os.path.join(TYPINGS, ".mypy_cache-%s" % port),
        "",
    ])
    if _read(ini) != text:
        with open(ini + ".tmp%d" % os.getpid(), "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(ini + ".tmp%d" % os.getpid(), ini)
    return ini


def _catches_import_error(handler):
    t = handler.type
    names = t.elts if isinstance(t, ast.Tuple) else [t]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _imports_micropython(stmts):
    for node in stmts:
        for sub in ast.walk(node):
            if isinstance(sub, ast.ImportFrom) and sub.module == "micropython":
                return True
            if isinstance(sub, ast.Import) and any(a.name == "micropython" for a in sub.names):
                return True
    return False


def cpython_fallback_lines(path, _cache={}):
    """Line numbers of `except ImportError:` blocks whose try imports
    micropython: code that runs only on CPython."""
    try:
        key = (path, os.stat(path).st_mtime_ns)
    except OSError:
        return set()
    if key not in _cache:
        lines = set()
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
        except (OSError, SyntaxError, ValueError):
            tree = None
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.Try) and _imports_micropython(node.body):
                for h in node.handlers:
                    if _catches_import_error(h):
                        lines.update(range(h.lineno, (h.end_lineno or h.lineno) + 1))
        _cache[key] = lines
    return _cache[key]


def is_known_false_alarm(f):
    return bool(f.path) and f.line in cpython_fallback_lines(f.path)


def run(port, files=None, modules=None):
    """Run mypy for one port. files: extra paths to check (module name from
    the file name); modules: [(name, path)], default firmware_modules().
    Returns the list of Finding (errors only, known false alarms dropped)."""
    folder = ensure_stubs(port)
    ini = write_config(port, folder)
    if modules is None:
        modules = firmware_modules() if not files else []
    cmd = [sys.executable, "-m", "mypy", "--config-file", ini, "--output", "json", "--show-absolute-path",
           "--no-error-summary"]
    for name, _ in modules:
        cmd += ["-m", name]
    if files:
        # Ad-hoc files (tests, a file given on the command line) may share a
        # module name with an earlier run's file elsewhere; mypy's cache then
        # reports the old path. Only the firmware gets a cache.
        cmd += ["--cache-dir", os.devnull]
    cmd += [os.path.abspath(p) for p in (files or [])]
    if not modules and not files:
        return []
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    findings = []
    other = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            d = json.loads(line)
        except ValueError:
            other.append(line)
            continue
        f = Finding(d.get("file"), d.get("line"), d.get("code"), d.get("message"), d.get("hint"),
                    d.get("severity", "error"))
        if f.severity == "error" and not is_known_false_alarm(f):
            findings.append(f)
    # 1: errors found; 2: a blocking error (a syntax error comes as a
    # finding; a crash or a bad option does not).
    if r.returncode not in (0, 1) and not findings:
        raise SetupError("mypy failed (exit %d):\n%s%s" % (r.returncode, r.stdout, r.stderr))
    return findings


def main(argv=None):
    p = argparse.ArgumentParser(description="Type-check the firmware against MicroPython port stubs (mypy).")
    p.add_argument("--port", choices=PORTS + ("all",), default="all")
    p.add_argument("--setup", action="store_true", help="only install the stubs into build/typings/PORT")
    p.add_argument("files", nargs="*", help="check these files instead of the firmware")
    a = p.parse_args(argv)
    ports = PORTS if a.port == "all" else (a.port,)
    total = 0
    try:
        for port in ports:
            if a.setup:
                print("%s stubs: %s" % (port, os.path.relpath(ensure_stubs(port, quiet=False), ROOT)))
                continue
            found = run(port, files=a.files or None)
            for f in found:
                print("%s: %s" % (port, f))
            n = len(a.files) if a.files else len(firmware_modules())
            print("%s: %d error%s in %d module%s" % (port, len(found), "" if len(found) == 1 else "s",
                                                     n, "" if n == 1 else "s"))
            total += len(found)
    except SetupError as e:
        print("typecheck: %s" % e, file=sys.stderr)
        return 2
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
