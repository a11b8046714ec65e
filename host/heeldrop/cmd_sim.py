"""heeldrop sim: run the real firmware on the simulated board (MicroPython unix port)."""
import os
import struct
import subprocess
import sys
import tempfile

from heeldrop import resources
from heeldrop.errors import UserError

HELP = "run the device firmware in the MicroPython unix port, replaying a trace through an emulated IMU"
EPILOG = """examples:
  heeldrop sim --trace tests/traces/demo_session.csv                # real time, LED/buzzer lines
  heeldrop sim --trace tests/traces/demo_session.csv --speed max --flash out/flash
  heeldrop sim --trace T.csv --speed max --heap 96k --stall 150     # a board's heap, flash stalls
  heeldrop sim --trace T.csv --imu lsm6dsox --inject unplug@20+3    # sensor pulled for 3 s at 20 s
  heeldrop sim --trace T.csv --pty --speed 4                        # a serial port for live/download/mpremote
  heeldrop sim --trace T.csv --pty --flash DIR --from-flash         # boot the firmware installed in DIR

The firmware (firmware/app.py and friends, compiled with mpy-cross into
build/sim-mpy, or into the user's cache folder when installed) runs in .venv/bin/micropython on the `sim` board: the chosen
IMU is emulated at register level on a fake I2C bus and produces the
trace's samples through its FIFO at the trace's rate; time is a fake clock
(--speed N runs it N times faster than the wall clock, max as fast as the
loop goes). The LED and buzzer print what they do, stamped with trace time.
Sessions are written to DIR/sessions (--flash DIR; default a temporary
folder, printed at the end), the config to DIR/heeldrop.json.

--heap SIZE gives the firmware SIZE bytes of heap for its data: the unix
port keeps the bytecode in its heap too (a board keeps frozen code in
flash), so micropython gets SIZE plus room for the code and the runner
fills the rest with ballast before the app starts.

--pty makes a pseudo terminal that looks like a board on a USB port: the
app speaks docs/PROTOCOL.md on it, and a Ctrl-C byte stops the app and
leaves the MicroPython REPL on the same port (mpremote connect PTY resume
fs ls). The path is printed, with a stable link /tmp/heeldrop-sim-PID.
After the trace the device stays up, idle, until Ctrl-C here.

--from-flash boots the firmware found in the flash folder (main.py's
modules at its top, heelcore in its lib/), as a board with plain
MicroPython does: install it there first with `mpremote mip install
--target . PATH/package.json` or `heeldrop deploy` over --pty. Without it
the bundled firmware runs, like a board with the firmware frozen in.

--inject (testing aid): i2c@T (I2C errors at T s), unplug@T+D (the sensor
unplugged for D s), glitch@T (a corrupt FIFO count), comma-separated.
exit status: 0 ok, 1 the firmware failed, 2 bad input."""

FIRMWARE = resources.firmware_dir()  # the repository's firmware/, or the wheel's copy
IMUS = ("mpu6050", "mpu6500", "lsm6dsox", "lsm6ds3", "qmi8658")
CODE_ROOM = 1024 * 1024  # heap for the bytecode in the unix port (see EPILOG)


def add_arguments(p):
    p.add_argument("--trace", required=True, metavar="FILE", help="trace CSV to replay through the emulated IMU")
    p.add_argument("--speed", default="1", metavar="N|max",
                   help="fake clock speed: N times wall time, or max (as fast as the loop runs); default 1")
    p.add_argument("--flash", metavar="DIR", help="folder standing in for the board's flash (sessions in DIR/sessions)")
    p.add_argument("--heap", metavar="SIZE", help="data heap for the firmware, e.g. 96k (default: about 512k, not capped)")
    p.add_argument("--stall", type=int, default=0, metavar="MS", help="stall the main loop MS ms every second of trace time")
    p.add_argument("--imu", choices=IMUS, default="mpu6050", help="emulated IMU chip (default mpu6050)")
    p.add_argument("--pty", action="store_true", help="serve the serial protocol (and the REPL) on a pseudo terminal")
    p.add_argument("--inject", default="", metavar="SPEC", help="faults at trace times: i2c@T, unplug@T+D, glitch@T")
    p.add_argument("--side", choices=("left", "right"), help="session side (default: the trace's)")
    p.add_argument("--flash-kb", type=int, default=0, metavar="N", help="pretend the flash holds only N KB")
    p.add_argument("--quiet", action="store_true", help="don't print the LED and buzzer lines")
    p.add_argument("--from-flash", action="store_true",
                   help="boot the firmware installed in the flash folder (by mpremote mip install or heeldrop "
                        "deploy), not the bundled one")


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


def build_firmware(out=None, only=None):
    """Compile every firmware .py to .mpy for the unix port (x64) under out
    (default: the work folder sim-mpy, see heeldrop.resources), in the
    device's import layout (firmware/lib and firmware are the roots); only
    files whose source is newer are recompiled. only: a tuple of firmware/
    subfolders to compile instead of everything (("sim",): the virtual
    hardware alone, for --from-flash)."""
    resources.require_firmware()
    if out is None:
        out = resources.work_dir("sim-mpy")
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
    for src, dst in jobs:
        if os.path.exists(dst) and os.path.getmtime(dst) >= os.path.getmtime(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".mpy", dir=os.path.dirname(dst))
        os.close(fd)
        r = subprocess.run([mpy_cross, "-march=x64", "-o", tmp, src], capture_output=True, text=True)
        if r.returncode != 0:
            os.unlink(tmp)
            raise UserError("mpy-cross failed on %s: %s" % ("firmware/" + os.path.relpath(src, FIRMWARE), r.stderr.strip()), code=1)
        os.replace(tmp, dst)
    return out


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
    from heeldrop.replay import side_switches, to_counts
    from heeldrop.traceio import TraceError, read_trace

    try:
        tr = read_trace(trace_path)
    except TraceError as e:
        raise UserError(str(e))
    except OSError as e:
        raise UserError("%s: cannot read (%s)" % (trace_path, e.strerror or e))
    counts = to_counts(tr)
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


def runner_command(args, info, flash, serial=False, keep=False):
    mp = micropython_bin()
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
    if info["switch"]:
        cmd += ["--switch", ",".join(str(k) for k in info["switch"])]
    if args.inject:
        cmd += ["--inject", args.inject]
    if args.flash_kb:
        cmd += ["--flash-kb", str(args.flash_kb)]
    if args.quiet:
        cmd.append("--quiet")
    if serial:
        cmd += ["--serial", "stdio"]
    if keep:
        cmd.append("--keep")
    return cmd


def sim_env(from_flash=False):
    if from_flash:
        # a board with plain MicroPython and the firmware on its filesystem:
        # '' (the flash folder, the board's /) then lib, as sys.path on a
        # board; only the virtual hardware (firmware/sim) comes from here
        hw = build_firmware(resources.work_dir("sim-hw-mpy"), only=("sim",))
        return dict(os.environ, MICROPYPATH=hw + ":lib")
    return dict(os.environ, MICROPYPATH=build_firmware())


def run(args):
    if args.stall < 0:
        raise UserError("--stall: must be >= 0 ms")
    if args.from_flash and not (args.flash and any(
            os.path.exists(os.path.join(args.flash, "app" + ext)) for ext in (".py", ".mpy"))):
        raise UserError("--from-flash: no firmware in %s (app.py or app.mpy): install it there first, e.g. "
                        "mpremote connect PORT resume mip install --target . PATH/firmware/package.json "
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
        env = sim_env(args.from_flash)
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
        print("heeldrop sim: sessions in %s" % os.path.join(flash, "sessions"), file=sys.stderr)
        return 0
    finally:
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)


def serve_pty(args, info, flash, env):
    """Two pseudo terminals joined by a relay (as socat does): the firmware's
    stdin/stdout is one (raw), the other is the port clients open. The relay
    drops output nobody reads, so the device never blocks on a full pty."""
    import pty
    import select
    import tty

    m_dev, s_dev = pty.openpty()
    m_cli, s_cli = pty.openpty()
    tty.setraw(s_dev)
    tty.setraw(s_cli)
    path = os.ttyname(s_cli)
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
    os.set_blocking(m_cli, False)
    try:
        while proc.poll() is None:
            r, _, _ = select.select([m_dev, m_cli], [], [], 0.2)
            if m_dev in r:
                try:
                    data = os.read(m_dev, 4096)
                except OSError:
                    data = b""
                if data:
                    try:
                        os.write(m_cli, data)
                    except (BlockingIOError, OSError):
                        pass  # no client reading: drop, like a USB port nobody opened
            if m_cli in r:
                try:
                    data = os.read(m_cli, 4096)
                except OSError:
                    data = b""
                if data:
                    os.write(m_dev, data)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
        for fd in (m_dev, m_cli, s_cli):
            try:
                os.close(fd)
            except OSError:
                pass
        if link:
            try:
                os.unlink(link)
            except OSError:
                pass
    print("heeldrop sim: sessions in %s" % os.path.join(flash, "sessions"), file=sys.stderr)
    return 0
