"""heeldrop sim: run the real firmware on the simulated board (MicroPython unix port)."""
import os
import struct
import subprocess
import sys
import tempfile

from heeldrop import resources
from heeldrop.cmd_deploy import OPT as MPY_OPT
from heeldrop.errors import UserError

HELP = "run the device firmware in the MicroPython unix port, replaying a trace through an emulated IMU"
EPILOG = """examples:
  heeldrop sim --trace tests/traces/demo_session.csv                # real time, LED/buzzer lines
  heeldrop sim --trace tests/traces/demo_session.csv --speed max --flash out/flash
  heeldrop sim --trace T.csv --speed max --heap 96k --stall 150     # a board's heap, flash stalls
  heeldrop sim --trace T.csv --imu lsm6dsox --inject unplug@20+3    # sensor pulled for 3 s at 20 s
  heeldrop sim --trace T.csv --pty --speed 4                        # a serial port for live/download/mpremote
  heeldrop sim --trace T.csv --pty --flash DIR --from-flash         # boot the firmware installed in DIR
  heeldrop sim --trace T.csv --speed max --startup-ms 1000          # 1 s more start-up work before the loop
  heeldrop sim --trace T.csv --speed max --board-ram pico --download   # a Pico's one heap, then a download
  heeldrop sim --trace T.csv --speed max --flash out/f --raw-kb 0      # littlefs over all (the .mpy route)

The firmware (firmware/app.py and friends, compiled with mpy-cross into
build/sim-mpy/ARCH, or into the user's cache folder when installed) runs in .venv/bin/micropython on the `sim` board: the chosen
IMU is emulated at register level on a fake I2C bus and produces the
trace's samples through its FIFO at the trace's rate; time is a fake clock
(--speed N runs it N times faster than the wall clock, max as fast as the
loop goes). The LED and buzzer print what they do, stamped with trace time.
The board's flash is littlefs, as MicroPython's rp2 port mounts it, over
the Pico's flash geometry (1408 KB, 4 KB erase, 256 B program) in the
image DIR/flash.img (--flash DIR; default a temporary folder, printed at
the end): sessions in /sessions, the config in /heeldrop.json. Every
program and erase is counted (`sim: flash` line) and stalls the CPU on
the virtual clock (--erase-ms, 45 ms a 4 KB erase; 400 ms is the flash
chip's datasheet maximum). The image is written through operation by
operation, so killing the sim is a power cut; the next sim on the same
folder boots from what the flash kept. Python's heeldrop.simflash reads
and writes the image on the host (the same littlefs code). The flash is NOR
as the chip is (whole 256-byte page programs, bits from 1 to 0 only).

The flash boots through the frozen build's boot code (firmware/flashboot.py,
as firmware/boot/rp2/_boot.py runs it on a Pico): a new image gets a raw log
region at its start for the sessions (firmware/rawlog.py: append-only, page
by page, each 4 KB block erased once; docs/SESSION-LOG.md 4.1.1) and littlefs
on the last 128 KB (config, ids); the session commands see no difference.
--raw-kb N sets the region's size; --raw-kb 0 gives littlefs over all of it,
stock MicroPython's layout (the .mpy route: `heeldrop deploy`), the default
with --board-ram and --from-flash, which model that route. An image keeps its
layout on later boots; an image made without a region is refused one (that
would wipe its files).

--heap SIZE gives the firmware SIZE bytes of heap for its data: the unix
port keeps the bytecode in its heap too (a board keeps frozen code in
flash), so micropython gets SIZE plus room for the code and the runner
fills the rest with ballast before the app starts.

--pty makes a pseudo terminal that looks like a board on a USB port: the
app speaks docs/PROTOCOL.md on it, and a Ctrl-C byte stops the app and
leaves the MicroPython REPL on the same port, in the flash's root
(mpremote connect PTY resume fs ls). The path is printed, with a stable link /tmp/heeldrop-sim-PID.
After the trace the device stays up, idle, until Ctrl-C here. The port is a
relay (heeldrop.ptyrelay) that loses nothing while a client has it open: a
client that stops reading holds the device back as a host does a board's
USB serial (the ptys fill, then the firmware's write waits; its virtual
clock does not move meanwhile, so a slow reader costs no sample). While no
client has the port open, what the device sends is thrown away, as by a
board's USB port no host opened, and a new client starts on fresh output.
Not modelled by itself: a board's MicroPython waits at most 0.5 s a write
for a host that has the port open but does not read
(MICROPY_HW_USB_CDC_TX_TIMEOUT), then drops what does not fit (a short
count, which the firmware counts and reports: STATUS tx_dropped); --inject
txshort@T / txnone@T makes one such write happen.

--from-flash boots the firmware found on the flash (main.py's modules at
its root, heelcore in its lib/), as a board with plain MicroPython does:
install it there first with `mpremote mip install --target .
PATH/package.json` or `heeldrop deploy` over --pty. Without it the
bundled firmware runs, like a board with the firmware frozen in.

--inject (testing aid): i2c@T (I2C errors at T s), unplug@T+D (the sensor
unplugged for D s), glitch@T (a corrupt FIFO count), txshort@T (the serial
port's next write sends half the frame and returns that count, as a board's
USB write that gave up), txnone@T (it sends nothing and returns None),
comma-separated; any length (long values reach the port in a file).

Time: the firmware and the emulated IMU share one virtual clock that moves
only by what takes time on a board (the loop's sleeps, a Pico's CPU cost
per pass, per sample and per KB of code imported: --cost; --startup-ms;
--stall). --speed only paces it against the wall clock: a loaded computer
slows the sim, it never changes a sample, a read or a cue. The trace starts
when the firmware starts sampling; --inject and --stall times count from
there. The end prints `sim: timing` (FIFO read period, sample-to-cue
latency) after `sim: end`.

--board-ram pico|pico_w|pico2|esp32: one heap for the firmware's code and
data at that board's size, on the 32-bit single-float port (make unix32;
--arch x86), with the board's native machine code held in the heap as an
RP2040 does, and littlefs's objects and caches in it, as on a board; prints
`sim: ram` (heap used after boot, the smallest largest free block;
sim_allocs=0: the sim's own work allocated nothing in that heap, or the run
stops). --download then fetches the session over the link after the trace,
as a host would, and checks it against the session file. --arch picks the .mpy architecture (default this
machine's), --micropython another unix port.
exit status: 0 ok, 1 the firmware failed, 2 bad input."""

FIRMWARE = resources.firmware_dir()  # the repository's firmware/, or the wheel's copy
# .mpy native-code architectures (mpy-cross -march) a unix port can load
ARCHS = ("x64", "x86", "armv6m", "armv7m", "armv7emsp", "armv7emdp", "xtensawin", "rv32imc", "rv64imc")
# the board whose start-up the import cost models (its .mpy sizes)
COST_ARCH = "armv6m"
# --board-ram: (GC heap bytes, used by the runtime before main.py, .mpy
# architecture). Pico: 246 KB, as an RP2040 emulator run of MicroPython 1.28
# showed (169 KB used + 76 KB free after boot, issue 11); the others are
# assumptions, not measurements: Pico W ~ 190 KB (the CYW43 driver and
# lwIP's pools take ~50 KB of the same SRAM), Pico 2 (RP2350, 520 KB SRAM)
# ~ 480 KB, an ESP32 without PSRAM ~ 110 KB (ESP-IDF and its Wi-Fi/BT
# buffers take most of the 320 KB DRAM). The runtime's own use before
# main.py: 8 KB assumed on each.
BOARD_RAM = {
    "pico": (246 * 1024, 8192, "armv6m"),
    "pico_w": (190 * 1024, 8192, "armv6m"),
    "pico2": (480 * 1024, 8192, "armv7emsp"),
    "esp32": (110 * 1024, 8192, "xtensawin"),
}
# the 32-bit single-float port `make unix32` builds (a source checkout only)
UNIX32 = os.path.join(resources.checkout_root() or resources.cache_root(), "build", "unix32", "micropython")
# the CPU cost model's default (firmware/sim/runner.py COST: a Pico's)
COST = (150, 850, 18000)
IMUS = ("mpu6050", "mpu6500", "lsm6dsox", "lsm6ds3", "qmi8658")
CODE_ROOM = 1024 * 1024  # heap for the bytecode in the unix port (see EPILOG)


def add_arguments(p):
    p.add_argument("--trace", required=True, metavar="FILE", help="trace CSV to replay through the emulated IMU")
    p.add_argument("--speed", default="1", metavar="N|max",
                   help="fake clock speed: N times wall time, or max (as fast as the loop runs); default 1")
    p.add_argument("--flash", metavar="DIR", help="folder for the board's flash: its littlefs image DIR/flash.img "
                                                  "(kept across runs, as a board's flash)")
    p.add_argument("--heap", metavar="SIZE", help="data heap for the firmware, e.g. 96k (default: about 512k, not capped)")
    p.add_argument("--stall", type=int, default=0, metavar="MS", help="stall the main loop MS ms every second of trace time")
    p.add_argument("--imu", choices=IMUS, default="mpu6050", help="emulated IMU chip (default mpu6050)")
    p.add_argument("--pty", action="store_true", help="serve the serial protocol (and the REPL) on a pseudo terminal")
    p.add_argument("--inject", default="", metavar="SPEC", help="faults at trace times: i2c@T, unplug@T+D, glitch@T, txshort@T, txnone@T")
    p.add_argument("--side", choices=("left", "right"), help="session side (default: the trace's)")
    p.add_argument("--flash-kb", type=int, default=0, metavar="N",
                   help="a new flash image of N KB (default the Pico's 1408; an existing image keeps its size)")
    p.add_argument("--raw-kb", type=int, default=None, metavar="N",
                   help="a new flash image gets a raw log region of N KB for the sessions (append-only, page by "
                        "page: docs/SESSION-LOG.md), littlefs on the rest; 0: littlefs over all of it (stock "
                        "MicroPython, the .mpy route); default: the frozen build's layout (littlefs 128 KB, the "
                        "rest raw), or 0 with --board-ram or --from-flash (they model the .mpy route); an image "
                        "keeps its layout")
    p.add_argument("--quiet", action="store_true", help="don't print the LED and buzzer lines")
    p.add_argument("--erase-ms", type=int, default=45, metavar="MS",
                   help="CPU stall of one 4 KB flash erase (45 typical, 400 datasheet max; a 256-byte page "
                        "program stalls 0.4 ms); 0: the flash stalls nothing")
    p.add_argument("--uid", metavar="HEX", help="the board's unique id (as machine.unique_id()), part of each "
                                                 "session's identity; default 51a0000000000001")
    p.add_argument("--from-flash", action="store_true",
                   help="boot the firmware installed in the flash folder (by mpremote mip install or heeldrop "
                        "deploy), not the bundled one")
    p.add_argument("--wait-host", action="store_true",
                   help="with --pty: start the session (and the trace) when a host first writes to the port")
    p.add_argument("--startup-ms", type=int, default=0, metavar="MS",
                   help="extra start-up work (virtual time) between the IMU's configuration and the loop")
    p.add_argument("--arch", choices=ARCHS, default=None,
                   help="native-code architecture of the .mpy files the unix port loads "
                        "(default: this machine's, %s)" % host_arch())
    p.add_argument("--micropython", metavar="PATH", default=None,
                   help="the MicroPython unix port to run (default .venv/bin/micropython; "
                        "build/unix32/micropython: 32-bit, single floats, with --arch x86)")
    p.add_argument("--board-ram", choices=sorted(BOARD_RAM), default=None,
                   help="one heap for code and data at that board's size (the firmware's .mpy code loads into "
                        "it as on the board); implies the 32-bit port (build/unix32) and --arch x86")
    p.add_argument("--download", action="store_true",
                   help="with --board-ram: after the trace, download the session over the link as a host would")
    p.add_argument("--clock-start-ms", type=int, default=0, metavar="MS",
                   help="start the board's clock at MS ms: ticks_us wraps every 2**30 us (17.9 min), ticks_ms "
                        "every 2**30 ms (12.4 days); e.g. 1073740000 wraps ticks_ms 1.8 s into the run")
    p.add_argument("--cost", default=None, metavar="PASS_US,SAMPLE_US,IMPORT_US_PER_KB",
                   help="the board's CPU cost model for the virtual clock (default: a Pico's, %d,%d,%d; "
                        "0,0,0: time moves only while the loop idles)" % COST)


def parse_size(text):
    t = str(text).strip().lower()
    mult = 1
    if t.endswith("k"):
        mult, t = 1024, t[:-1]
    elif t.endswith("m"):
        mult, t = 1024 * 1024, t[:-1]
    try:
        v = int(float(t) * mult)
    except ValueError:
        raise UserError("--heap: expected a size like 96k, 256k or 1m, got %r" % text)
    if v < 16 * 1024:
        raise UserError("--heap: %s is too small to run anything (at least 16k)" % text)
    return v


def parse_speed(text):
    if text == "max":
        return "max"
    try:
        v = float(text)
    except ValueError:
        raise UserError("--speed: expected a number or max, got %r" % text)
    if not v > 0:
        raise UserError("--speed: must be positive, got %r" % text)
    return text


def micropython_bin():
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mp):
        raise UserError("MicroPython unix port not found at %s: run `make setup`" % mp, code=1)
    return mp


def host_arch():
    """The .mpy architecture of this machine's unix port."""
    import platform

    m = platform.machine().lower()
    bits = struct.calcsize("P") * 8
    if m in ("x86_64", "amd64", "i386", "i686", "x86"):
        return "x64" if bits == 64 else "x86"
    if m.startswith("riscv"):
        return "rv64imc" if bits == 64 else "rv32imc"
    if m.startswith(("armv7", "armv8l")):
        return "armv7m"  # Thumb-2 code also runs on a 32-bit ARM Linux
    return "x64" if bits == 64 else "x86"


# how build_firmware compiles (the .flags stamp in its folder): -s names each
# module by its path under firmware/, with `heeldrop deploy`'s optimisation
# (-O3: no line-number tables), as `heeldrop deploy` does
MPY_FLAGS = "-march=ARCH %s -s PATH-UNDER-FIRMWARE\n" % MPY_OPT


def build_firmware(out=None, arch=None, only=None):
    """Compile every firmware .py to .mpy for arch (default: this machine's
    unix port) under out (default: the work folder sim-mpy/ARCH, see
    heeldrop.resources), in the device's import layout (firmware/lib and
    firmware are the roots); only files whose source is newer are
    recompiled. only: a tuple of firmware/ subfolders to compile instead of
    everything (("sim",): the virtual hardware alone, for --from-flash).
    Returns out."""
    resources.require_firmware()
    arch = arch or host_arch()
    if arch not in ARCHS:
        raise UserError("--arch: %r is not one of %s" % (arch, ", ".join(ARCHS)))
    if out is None:
        out = os.path.join(resources.work_dir("sim-mpy"), arch)
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(mpy_cross):
        raise UserError("mpy-cross not found at %s: run `make setup` (or reinstall heeldrop)" % mpy_cross, code=1)
    jobs = []
    for base in (os.path.join(FIRMWARE, "lib"), FIRMWARE):
        for dirpath, dirnames, filenames in os.walk(base):
            if base == FIRMWARE and os.path.relpath(dirpath, FIRMWARE).split(os.sep)[0] == "lib":
                continue
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            if only and os.path.relpath(dirpath, FIRMWARE).split(os.sep)[0] not in only:
                continue
            for f in filenames:
                if f.endswith(".py"):
                    src = os.path.join(dirpath, f)
                    dst = os.path.join(out, os.path.relpath(src, base)[:-3] + ".mpy")
                    jobs.append((src, dst))
    # the compile flags of the .mpy in out: a change rebuilds them all
    stamp = os.path.join(out, ".flags")
    try:
        with open(stamp) as f:
            same = f.read() == MPY_FLAGS
    except OSError:
        same = False
    for src, dst in jobs:
        if same and os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # not *.mpy until whole: another process may list the folder
        # (mpy_sizes, the sim's loader) while this one builds it
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".part", dir=os.path.dirname(dst))
        os.close(fd)
        # named as `heeldrop deploy` names them (-s: the path under firmware/):
        # the same source-name strings (qstrs) in the heap as on a board
        r = subprocess.run([mpy_cross, "-march=" + arch, MPY_OPT, "-o", tmp, "-s", os.path.relpath(src, FIRMWARE), src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.unlink(tmp)
            raise UserError("mpy-cross failed on %s: %s" % ("firmware/" + os.path.relpath(src, FIRMWARE), r.stderr.strip()), code=1)
        os.replace(tmp, dst)
    if not same:
        os.makedirs(out, exist_ok=True)
        with open(stamp, "w") as f:
            f.write(MPY_FLAGS)
    return out


def mpy_sizes(path, arch=COST_ARCH):
    """Write "module bytes" lines for every firmware module's .mpy on a
    board of arch (the runner's import cost); returns path."""
    out = build_firmware(os.path.join(resources.work_dir("sim-mpy"), "sizes-" + arch), arch)
    lines = []
    for dirpath, _dirs, files in os.walk(out):
        for f in sorted(files):
            if f.endswith(".mpy"):
                rel = os.path.relpath(os.path.join(dirpath, f), out)[:-4]
                if rel.endswith("__init__"):
                    rel = rel[:-len("__init__")].rstrip(os.sep)
                lines.append("%s %d" % (rel.replace(os.sep, "."), os.path.getsize(os.path.join(dirpath, f))))
    with open(path, "w") as f:
        f.write("\n".join(sorted(lines)) + "\n")
    return path


def trace_rate(tr):
    r = tr.meta.get("sample_rate_hz")
    if r:
        return float(r)
    t = tr.t_ms
    if len(t) < 2:
        raise UserError("%s: too short to tell the sample rate (no sample_rate_hz line)" % tr.path)
    d = sorted(t[i + 1] - t[i] for i in range(len(t) - 1))[(len(t) - 1) // 2]
    if d <= 0:
        raise UserError("%s: cannot tell the sample rate (add # sample_rate_hz=N)" % tr.path)
    return 1000.0 / d


def prepare(trace_path, workdir):
    """Read and check the trace; write the runner's sample file. Returns
    dict(samples, n, rate, side, switch)."""
    from heeldrop.replay import ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS, side_switches, to_counts
    from heeldrop.traceio import TraceError, read_trace

    try:
        tr = read_trace(trace_path)
    except TraceError as e:
        raise UserError(str(e))
    except OSError as e:
        raise UserError("%s: cannot read (%s)" % (trace_path, e.strerror or e))
    # the sample file is in the runner's virtual units (8192 LSB/g, 65.5
    # LSB/dps, which it divides by), whatever scale the trace was recorded at
    counts = to_counts(tr, (ACCEL_LSB_PER_G, GYRO_LSB_PER_DPS))
    bad = sum(1 for c in counts if c is None)
    if bad:
        raise UserError("%s: %d sample(s) are not finite numbers; fix or drop them first" % (trace_path, bad))
    if not counts:
        raise UserError("%s: no samples" % trace_path)
    rate = trace_rate(tr)
    if not 10 <= rate <= 1000:
        raise UserError("%s: sample rate %g Hz is outside what the IMUs make (10..1000 Hz)" % (trace_path, rate))
    path = os.path.join(workdir, "trace.bin")
    buf = bytearray(12 * len(counts))
    for i, c in enumerate(counts):
        struct.pack_into("<6h", buf, 12 * i, *[max(-32768, min(32767, v)) for v in c[1:]])
    with open(path, "wb") as f:
        f.write(buf)
    switch = []
    for ts in side_switches(tr):
        k = next((i for i, c in enumerate(counts) if c[0] >= ts), None)
        if k is not None:
            switch.append(k)
    side = tr.meta.get("side") if tr.meta.get("side") in ("left", "right") else "left"
    return {"samples": path, "n": len(counts), "rate": rate, "side": side, "switch": switch}


def runner_command(args, info, flash, serial=False, keep=False, workdir=None):
    """The micropython command line of the sim runner. Long option values
    (the unix port dies on an argument of 256 bytes or more: "FATAL:
    uncaught NLR") go in an --args file in workdir (default: the sample
    file's folder)."""
    mp = os.path.abspath(getattr(args, "micropython", None) or micropython_bin())
    if not os.path.exists(mp):
        raise UserError("--micropython: %s does not exist (the 32-bit port: make unix32)" % mp)
    heap = parse_size(args.heap) if args.heap else 0
    # without --heap: room for the code plus 512 KB (a far larger heap only
    # makes every garbage collection slower)
    cmd = [mp, "-X", "heapsize=%d" % ((heap if heap else 512 * 1024) + CODE_ROOM)]
    if keep:
        cmd.append("-i")  # after Ctrl-C: the REPL, on the same serial port
    cmd += ["-m", "sim.runner", "--samples", info["samples"], "--n", str(info["n"]),
            "--rate", "%g" % info["rate"], "--speed", parse_speed(args.speed), "--flash", flash,
            "--imu", args.imu, "--side", args.side or info["side"], "--stall", str(args.stall)]
    if heap:
        cmd += ["--data-heap", str(heap)]
    board = getattr(args, "board_ram", None)
    if board:
        size, base, arch = BOARD_RAM[board]
        # native code: in the board's heap, not in this port's: the runner
        # allocates each module's (board .mpy) machine code when it loads
        cmd[2] = "heapsize=%d" % (size + 512 * 1024)
        cmd += ["--board-heap", str(size), "--board-base", str(base)]
        if arch != "xtensawin":
            path = os.path.join(workdir or os.path.dirname(info["samples"]), "native-sizes.txt")
            with open(path, "w") as f:
                f.write("".join("%s %d\n" % kv for kv in sorted(native_code_bytes(arch).items())))
            cmd += ["--native-sizes", path]
        if getattr(args, "download", False):
            # what the device sends, kept for the check after the run
            cmd += ["--download", "--download-to",
                    os.path.join(workdir or os.path.dirname(info["samples"]), "download.bin")]
    more = []
    if info["switch"]:
        more += ["--switch", ",".join(str(k) for k in info["switch"])]
    if args.inject:
        more += ["--inject", args.inject]
    if getattr(args, "startup_ms", 0):
        if args.startup_ms < 0:
            raise UserError("--startup-ms: must be >= 0")
        cmd += ["--startup-ms", str(args.startup_ms)]
    start = getattr(args, "clock_start_ms", 0) or 0
    if start:
        if not 0 <= start < 1 << 30:
            raise UserError("--clock-start-ms: 0 .. %d, got %d" % ((1 << 30) - 1, start))
        cmd += ["--clock-start-ms", str(start)]
    cost = parse_cost(getattr(args, "cost", None))
    cmd += ["--cost", "%d,%d,%d" % cost]
    if cost[2]:
        cmd += ["--mpy-sizes", mpy_sizes(os.path.join(workdir or os.path.dirname(info["samples"]), "mpy-sizes.txt"))]
    if more:
        path = os.path.join(workdir or os.path.dirname(info["samples"]), "runner-args.txt")
        with open(path, "w") as f:
            f.write("\n".join(more) + "\n")
        cmd += ["--args", path]
    if args.flash_kb:
        if args.flash_kb < 32:
            raise UserError("--flash-kb: at least 32 (littlefs needs room for its metadata), got %d" % args.flash_kb)
        cmd += ["--flash-kb", str(args.flash_kb)]
    raw_kb = getattr(args, "raw_kb", None)
    if raw_kb is None and (getattr(args, "board_ram", None) or getattr(args, "from_flash", False)):
        raw_kb = 0  # they model the .mpy route: stock MicroPython, littlefs over all of the flash
    if raw_kb is not None:
        if raw_kb and (raw_kb < 8 or raw_kb % 4) or raw_kb < 0:
            raise UserError("--raw-kb: a multiple of 4, at least 8 (two 4 KB blocks), or 0 (littlefs over all), got %d" % raw_kb)
        cmd += ["--raw-kb", str(raw_kb)]
    erase_ms = getattr(args, "erase_ms", 45)
    if erase_ms < 0:
        raise UserError("--erase-ms: must be >= 0")
    cmd += ["--erase-ms", str(erase_ms)]
    if getattr(args, "uid", None):
        if not all(c in "0123456789abcdefABCDEF" for c in args.uid) or not 2 <= len(args.uid) <= 32:
            raise UserError("--uid: expected 2..32 hex digits, got %r" % args.uid)
        cmd += ["--uid", args.uid.lower()]
    if args.quiet:
        cmd.append("--quiet")
    if serial:
        cmd += ["--serial", "stdio"]
    if keep:
        cmd.append("--keep")
    if serial and getattr(args, "wait_host", False):
        cmd.append("--wait-host")
    return cmd


def board_modules(out):
    """{module: .mpy bytes} under out, for the modules a board loads (not
    the sim's own, not the other boards' files, not main)."""
    sizes = {}
    for dirpath, _dirs, files in os.walk(out):
        for f in files:
            if not f.endswith(".mpy"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), out)[:-4].replace(os.sep, ".")
            if rel.startswith("sim.") or (rel.startswith("boards.") and rel not in ("boards.__init__", "boards.sim")) \
                    or rel == "main":
                continue
            sizes[rel] = os.path.getsize(os.path.join(dirpath, f))
    return sizes


def native_code_bytes(arch):
    """{module: bytes of native and viper machine code} in the .mpy files
    for arch, read with MicroPython's own .mpy reader (tools/mpy-tool.py,
    kept by `make unix32` in build/unix32/tools)."""
    import importlib.util

    tools = os.path.join(os.path.dirname(UNIX32), "tools")
    if not os.path.exists(os.path.join(tools, "mpy-tool.py")):
        raise UserError("%s/mpy-tool.py missing: run `make unix32`" % tools, 1)
    sys.path.insert(0, tools)
    try:
        spec = importlib.util.spec_from_file_location("heeldrop_mpytool", os.path.join(tools, "mpy-tool.py"))
        mt = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mt)
    finally:
        sys.path.remove(tools)
    c = mt.config
    c.MICROPY_LONGINT_IMPL = c.MICROPY_LONGINT_IMPL_MPZ
    c.MPZ_DIG_SIZE = 16
    c.MICROPY_QSTR_BYTES_IN_LEN = 1
    c.MICROPY_QSTR_BYTES_IN_HASH = 1

    def walk(rc):
        n = len(rc.fun_data) if isinstance(rc, mt.RawCodeNative) else 0
        return n + sum(walk(ch) for ch in getattr(rc, "children", []))

    out = build_firmware(os.path.join(resources.work_dir("sim-mpy"), "sizes-" + arch), arch)
    sizes = {}
    for mod in board_modules(out):
        c.native_arch = mt.MP_NATIVE_ARCH_NONE
        mt.global_qstrs = mt.GlobalQStrList()
        cm = mt.read_mpy(os.path.join(out, *mod.split(".")) + ".mpy")
        sizes[mod] = walk(cm.raw_code)
    return sizes


def parse_cost(text):
    if text is None:
        return COST
    try:
        c = tuple(int(x) for x in str(text).split(","))
    except ValueError:
        c = ()
    if len(c) != 3 or min(c) < 0:
        raise UserError("--cost: expected PASS_US,SAMPLE_US,IMPORT_US_PER_KB (three integers >= 0), got %r" % text)
    return c


def sim_env(from_flash=False, arch=None):
    if from_flash:
        # a board with plain MicroPython and the firmware on its filesystem:
        # '' (the flash folder, the board's /) then lib, as sys.path on a
        # board; only the virtual hardware (firmware/sim) comes from here
        hw = build_firmware(os.path.join(resources.work_dir("sim-hw-mpy"), arch or host_arch()), arch, only=("sim",))
        return dict(os.environ, MICROPYPATH=hw + ":lib")
    return dict(os.environ, MICROPYPATH=build_firmware(arch=arch))


def _where(args, flash):
    return "%s (littlefs image, sessions in /sessions: heeldrop.simflash reads it)" % os.path.join(flash, "flash.img")


def _flash_has_firmware(flash):
    if not flash or not os.path.exists(os.path.join(flash, "flash.img")):
        return False
    from heeldrop import simflash

    files = simflash.list_files(flash)
    return "/app.py" in files or "/app.mpy" in files


def run(args):
    if args.stall < 0:
        raise UserError("--stall: must be >= 0 ms")
    if args.from_flash and not _flash_has_firmware(args.flash):
        raise UserError("--from-flash: no firmware on the flash in %s (app.py or app.mpy): install it there "
                        "first, e.g. mpremote connect PORT resume mip install --target . PATH/firmware/package.json "
                        "while `heeldrop sim --pty --flash DIR` runs" % (args.flash or "the flash folder (--flash DIR)"))
    flash = os.path.abspath(args.flash) if args.flash else tempfile.mkdtemp(prefix="heeldrop-flash-")
    os.makedirs(flash, exist_ok=True)
    work = tempfile.mkdtemp(prefix="heeldrop-simwork-")
    import signal

    def _term(signum, frame):
        raise SystemExit(128 + signum)  # run the cleanups below (child, pty link, temp files)

    try:
        signal.signal(signal.SIGTERM, _term)
    except ValueError:  # not the main thread
        pass
    try:
        info = prepare(args.trace, work)
        if getattr(args, "board_ram", None):
            args.arch = args.arch or "x86"
            args.micropython = args.micropython or UNIX32
            if args.arch not in ("x86", "armv6m", "armv7m"):
                raise UserError("--board-ram runs the 32-bit port: --arch x86 (not %s)" % args.arch)
            if not os.path.exists(args.micropython):
                raise UserError("--board-ram needs the 32-bit port %s: run `make unix32`" % args.micropython, 1)
            if args.heap:
                raise UserError("--board-ram and --heap: pick one (--heap limits the data alone)")
        env = sim_env(args.from_flash, args.arch)
        if args.pty:
            return serve_pty(args, info, flash, env)
        cmd = runner_command(args, info, flash)
        proc = subprocess.Popen(cmd, env=env, cwd=flash)
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            # the firmware got the Ctrl-C too: let it close its session log
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
            return 130
        except BaseException:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
        r = subprocess.CompletedProcess(cmd, rc)
        if r.returncode != 0:
            raise UserError("the firmware stopped with status %d" % r.returncode, code=1)
        print("heeldrop sim: sessions in %s" % _where(args, flash), file=sys.stderr)
        return 0
    finally:
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)


def serve_pty(args, info, flash, env):
    """Two pseudo terminals joined by a relay (as socat does): the firmware's
    stdin/stdout is one (raw), the other is the port clients open. The relay
    (heeldrop.ptyrelay) loses nothing while a client has the port open: a
    client that stops reading holds the device back, as a host does a board's
    USB serial; with no client the output is thrown away, as a board's USB
    port nobody opened never blocks."""
    import pty
    import tty

    from heeldrop.ptyrelay import PtyRelay

    m_dev, s_dev = pty.openpty()
    m_cli, s_cli = pty.openpty()
    tty.setraw(s_dev)
    tty.setraw(s_cli)
    path = os.ttyname(s_cli)
    # the relay keeps no descriptor of the port's side: the master then tells
    # whether a client has it open (the raw settings stay with the pty)
    os.close(s_cli)
    link = "/tmp/heeldrop-sim-%d" % os.getpid()
    try:
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(path, link)
    except OSError:
        link = None
    cmd = runner_command(args, info, flash, serial=True, keep=True)
    proc = subprocess.Popen(cmd, env=env, cwd=flash, stdin=s_dev, stdout=s_dev, close_fds=True)
    os.close(s_dev)
    print("heeldrop sim: serial port %s%s (Ctrl-C to end)" % (path, " = " + link if link else ""), flush=True)
    relay = PtyRelay(m_dev, m_cli, path)
    try:
        while proc.poll() is None:
            relay.step(0.2)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
        for fd in (m_dev, m_cli):
            try:
                os.close(fd)
            except OSError:
                pass
        if link:
            try:
                os.unlink(link)
            except OSError:
                pass
    print("heeldrop sim: port: %d bytes to clients (opened %d times), %d thrown away with no client to take them"
          % (relay.relayed, relay.opened, relay.discarded), file=sys.stderr)
    print("heeldrop sim: sessions in %s" % _where(args, flash), file=sys.stderr)
    return 0
