# The sim board: the real firmware app in the MicroPython unix port, with an
# emulated IMU on a fake I2C bus replaying a trace through its registers and
# FIFO. Started by `heeldrop sim` (host/heeldrop/cmd_sim.py), which checks
# the trace CSV and converts it to the sample file read here:
#
#   MICROPYPATH=firmware/lib:firmware micropython -X heapsize=96k \
#       firmware/sim/runner.py --samples FILE --n N --rate HZ [options]
#
# FILE: N samples of 6 little-endian int16 counts (ax ay az gx gy gz) at the
# virtual scale of heeldrop.replay (8192 LSB/g, 65.5 LSB/dps). The chip
# emulation turns them back into g and deg/s (the "physics") and its ADC
# makes counts at the range the driver configured, so an MPU-6050 at +-4 g /
# +-500 dps reproduces the trace's counts exactly. Sample k of the trace is
# the chip's k-th sample at its ODR (the trace's rate, which the MPU-6050
# makes exactly for 25..1000 Hz).
#
# Time: a fake clock is the board's ticks_ms/ticks_us, the chip's time and
# the LED/buzzer printout's stamps. --speed N: the fake clock runs N times
# faster than wall time (the loop's idle(ms) sleeps ms / N); --speed max:
# it moves only when the loop idles (by the ms the board would sleep) or
# stalls, so the run goes as fast as the loop can.
#
# Options:
#   --imu mpu6050|mpu6500|lsm6dsox|lsm6ds3|qmi8658   emulated chip
#   --flash DIR        sessions under DIR/sessions, config DIR/heeldrop.json
#   --flash-kb N       pretend the flash holds N KB (flash low/full tests)
#   --fs dir|lfs       the flash: dir = DIR itself (a host folder), lfs = littlefs
#                      over the board's flash geometry in DIR/flash.img (sim/flash.py:
#                      program/erase counted, their stalls on the clock)
#   --erase-ms MS      lfs: the CPU stall of one 4 KB erase (45 typical, 400 max)
#   --uid HEX          the board's unique id (machine.unique_id() on a board;
#                      default 51a0000000000001): part of each session's identity
#   --stall MS         a main-loop stall of MS every second of trace time
#   --inject SPEC      faults at trace times (seconds), comma-separated:
#                      i2c@T (3 failing transfers), unplug@T+D (unplugged
#                      for D s), glitch@T (impossible FIFO count)
#   --switch K1,K2     press the button (short: side switch) after sample K
#   --side left|right  session side;  --serial none|stdio  protocol stream
#   --keep             after the trace: stay up idle (pty mode) until Ctrl-C
#   --quiet            no LED/buzzer lines
#   --data-heap BYTES  leave only BYTES of heap for data (see below)
#
# Memory: the unix port keeps every module's bytecode in its heap (about
# 180 KB for the firmware), where a board with frozen modules or a ROMFS
# keeps it in flash. So `heeldrop sim --heap 96k` starts the port with room
# for the code and this runner, once everything is imported and collected,
# allocates ballast until only BYTES are free: the firmware then runs with
# a 96 KB data heap, as on the board. A MemoryError is a real overrun.
# At the end of the trace the session is closed and one line is printed:
#   sim: end samples=N lost=L gaps=G faults=F session=ID reps=R
import struct
import sys
import time

from heelcore.ticks import ticks_diff

_TICKS = (1 << 30) - 1
CHIPS = ("mpu6050", "mpu6500", "lsm6dsox", "lsm6ds3", "qmi8658")


class FakeClock:
    """The board's clock in the sim: microseconds since start."""

    def __init__(self, speed):
        self.speed = speed  # None: max
        self.off_us = 0
        self._w0 = time.ticks_us()

    def us(self):
        if self.speed is None:
            return self.off_us
        w = time.ticks_diff(time.ticks_us(), self._w0)
        return int(w * self.speed) + self.off_us

    def ticks_us(self):
        return self.us() & _TICKS

    def ticks_ms(self):
        return (self.us() // 1000) & _TICKS

    def advance(self, us):
        self.off_us += us


class Samples:
    """The chip's source: sample k of the file as (g, g, g, dps, dps, dps)."""

    def __init__(self, path, n, rate):
        self.f = open(path, "rb")
        self.n = n
        self.rate = rate
        self.k = -1
        self.skip = 0  # rows that passed while the chip was unplugged or asleep
        self.origin = 0  # clock (us) of the trace's grid: row j at origin + (j + 1) / rate
        self.buf = bytearray(12)
        self.last = (0.0, 0.0, 1.0, 0.0, 0.0, 0.0)

    def lost_between(self, a, b):
        # the foot moves on while the sensor is away (unplugged, not sampling)
        # from clock a to b (us): the rows of the trace's grid in (a, b] are lost
        r = self.rate
        o = self.origin
        self.skip += int((b - o) * r // 1000000) - int((a - o) * r // 1000000)

    def __call__(self, k):
        k += self.skip
        if k >= self.n:
            return self.last
        if k != self.k + 1:
            self.f.seek(12 * k)
        self.k = k
        if self.f.readinto(self.buf) != 12:
            return self.last
        c = struct.unpack("<6h", self.buf)
        self.last = (c[0] / 8192, c[1] / 8192, c[2] / 8192, c[3] / 65.5, c[4] / 65.5, c[5] / 65.5)
        return self.last


def make_chip(name):
    from sim import chips

    if name == "mpu6050":
        return chips.MPU6050Chip()
    if name == "mpu6500":
        return chips.MPU6500Chip()
    if name == "lsm6dsox":
        return chips.LSM6DSOXChip()
    if name == "lsm6ds3":
        return chips.LSM6DS3Chip()
    if name == "qmi8658":
        return chips.QMI8658Chip()
    raise ValueError("unknown imu %r (one of %s)" % (name, ", ".join(CHIPS)))


def clocked_bus(clock, limit):
    """A FakeI2C whose chips are brought to the fake clock before every
    transfer (never past limit[0] us: the end of the trace). While a chip
    is unplugged or not sampling, its trace rows go by unseen (lost)."""
    from sim.i2cbus import FakeI2C

    class ClockedI2C(FakeI2C):
        def _dev(self, addr):
            t = clock.us()
            if t > limit[0]:
                t = limit[0]
            for d in self._devs.values():
                if t > d.now_us:
                    if d._rate is None:
                        if d.source is not None and hasattr(d.source, "lost_between"):
                            d.source.lost_between(d.now_us, t)
                        d.now_us = t
                    else:
                        d.advance_to(t)
            for d in self._gone.values():
                if t > d.now_us:
                    if d.source is not None and hasattr(d.source, "lost_between"):
                        d.source.lost_between(d.now_us, t)
                    d.now_us = t
            return FakeI2C._dev(self, addr)

    return ClockedI2C()


class OsNoSync:
    """os for logstore with sync() a no-op: on the unix port os.sync() flushes
    the host's disks (milliseconds of wall time), nothing like a board."""

    def __init__(self):
        import os

        self._os = os

    def sync(self):
        pass

    def __getattr__(self, name):
        return getattr(self._os, name)


class FakeStatvfs:
    """os.statvfs for a flash of cap_kb KB: free = cap - what DIR holds."""

    def __init__(self, root, cap_kb):
        self.root = root
        self.cap = cap_kb * 1024

    def __call__(self, path):
        import os

        used = 0
        for d in (self.root, self.root + "/sessions"):
            try:
                for name in os.listdir(d):
                    try:
                        st = os.stat(d + "/" + name)
                        if st[0] & 0x8000:
                            used += (st[6] + 511) // 512 * 512
                    except OSError:
                        pass
            except OSError:
                pass
        free = self.cap - used
        if free < 0:
            free = 0
        return (4096, 4096, self.cap // 4096, free // 4096, free // 4096, 0, 0, 0, 0, 255)


def _logged_bytes(d):
    # bytes of session logs under d
    import os

    n = 0
    try:
        for name in os.listdir(d):
            if name.endswith(".hdl"):
                n += os.stat(d + "/" + name)[6]
    except OSError:
        pass
    return n


def parse_args(argv):
    o = {"samples": None, "n": 0, "rate": 100, "speed": None, "flash": None, "flash_kb": 0,
         "stall": 0, "imu": "mpu6050", "inject": "", "switch": "", "side": "left",
         "serial": "none", "keep": False, "quiet": False, "data_heap": 0, "uid": "51a0000000000001",
         "fs": "dir", "erase_ms": 45}
    i = 1
    flags = ("keep", "quiet")
    while i < len(argv):
        a = argv[i]
        if not a.startswith("--"):
            raise ValueError("unexpected argument %r" % a)
        k = a[2:].replace("-", "_")
        if k in flags:
            o[k] = True
            i += 1
            continue
        if k not in o or i + 1 >= len(argv):
            raise ValueError("unknown option or missing value: %s" % a)
        v = argv[i + 1]
        if k in ("n", "stall", "flash_kb", "data_heap", "erase_ms"):
            v = int(v)
        elif k == "rate":
            v = float(v)
        elif k == "speed":
            v = None if v == "max" else float(v)
        o[k] = v
        i += 2
    if o["samples"] is None:
        raise ValueError("--samples FILE is required")
    return o


class Script:
    """The runner's hook (App.hook, once a loop pass): stalls, faults,
    button presses, the end of the trace."""

    def __init__(self, o, clock, bus, chip, button_pin, n, limit):
        self.limit = limit
        self.clock = clock
        self.bus = bus
        self.chip = chip
        self.pin = button_pin
        self.n = n
        self.stall_us = o["stall"] * 1000
        self.next_stall = 1000000
        self.events = []  # (t_us, action, arg) sorted
        for part in o["inject"].split(","):
            part = part.strip()
            if not part:
                continue
            kind, _, when = part.partition("@")
            dur = 0.0
            if "+" in when:
                when, d = when.split("+")
                dur = float(d)
            t = int(float(when) * 1000000)
            if kind == "unplug":
                self.events.append((t, "unplug", 0))
                self.events.append((t + int(dur * 1000000), "replug", 0))
            elif kind in ("i2c", "glitch"):
                self.events.append((t, kind, 0))
            else:
                raise ValueError("unknown fault %r (i2c@T, unplug@T+D, glitch@T)" % kind)
        self.events.sort()
        self.switch = [int(x) for x in o["switch"].split(",") if x.strip()]
        self.release_at = None
        self.ended = False
        self.keep = o["keep"]
        self.flash = None  # sim.flash.SimFlash (--fs lfs): its stalls per loop pass
        self.peak = 0
        self._pass = 0

    def __call__(self, app, now):
        self._pass += 1
        if self.flash is not None:
            self.flash.new_pass()
        if self._pass & 1023 == 0:
            # live data: what is still in use after a collection
            import gc

            gc.collect()
            m = gc.mem_alloc()
            if m > self.peak:
                self.peak = m
        us = self.clock.us()
        c = self.chip
        if c._rate is not None and c.source is not None:
            # the trace ends with its last row: on the chip's sample grid (a
            # power cycle restarts it) the sample that reads row n - 1
            num, den = c._rate
            left = self.n - c.produced - c.source.skip
            self.limit[0] = c._t0 + ((c._n + left) * den * 1000000 + num - 1) // num
        if self.stall_us and us >= self.next_stall and us < self.limit[0]:
            self.next_stall += 1000000
            # the loop is stuck; the FIFO fills. Not past the end of the
            # trace: the chip stops there (clocked_bus), the board's clock
            # would not, and the driver counts lost samples by that clock.
            st = self.stall_us
            if us + st > self.limit[0]:
                st = self.limit[0] - us
            self.clock.advance(st)
        ev = self.events
        while ev and ev[0][0] <= us:
            _, what, _ = ev.pop(0)
            if what == "unplug":
                self.bus.unplug(self.chip.addr)
            elif what == "replug":
                self.bus.replug(self.chip.addr, power_cycle=True)
            elif what == "i2c":
                self.bus.fail_next(3)
            elif what == "glitch":
                self.chip.glitch(0x72, 0x1F, 2)
        if self.release_at is not None and us >= self.release_at:
            self.release_at = None
            self.pin.set_input(1)
        elif self.switch and app.samples >= self.switch[0] and self.release_at is None:
            self.switch.pop(0)
            self.pin.set_input(0)
            self.release_at = us + 200000  # a 200 ms press: "short"
        lk = app.link
        if lk is not None and getattr(lk.stream, "eof", False):
            app.stop_loop()  # the serial port closed: nobody is there any more
        if not self.ended and us >= self.limit[0] and app.last_read == 0 and app.sensor_ok:
            self.ended = True
            app.sampling = False
            if app.running:
                app.stop()
            if not self.keep:
                app.stop_loop()


_ballast = []
_reserve = []


def reserve_heap(budget):
    """Before the code is loaded: set budget bytes aside in one block."""
    _reserve.append(bytearray(budget))


def limit_heap():
    """After the code is loaded: fill every other free byte with ballast,
    then free the reserved block, so the data heap is that one block."""
    import gc

    gc.collect()
    slots = [None] * 4096
    i = 0
    size = 1 << 16
    while size >= 16 and i < len(slots):
        try:
            slots[i] = bytearray(size)
            i += 1
        except MemoryError:
            size //= 2
    _ballast.append(slots)
    _reserve.clear()
    gc.collect()
    return gc.mem_alloc()


def main(argv):
    o = parse_args(argv)
    import gc
    import os

    if o["data_heap"]:
        reserve_heap(o["data_heap"])

    from button import Button
    from cues import Cues
    from drivers import probe
    from sim import fakemachine

    import app as appmod
    import boards.sim as simboard
    import link as _link  # noqa: F401  (imported before the ballast: code, not data)
    import logstore as _logstore  # noqa: F401
    import configstore as _configstore  # noqa: F401
    from sim import chips as _chips  # noqa: F401
    from drivers import lsm6ds as _l, mpu6050 as _m, qmi8658 as _q  # noqa: F401
    from heelcore import proto as _proto, record as _record  # noqa: F401

    gc.collect()
    code_bytes = gc.mem_alloc() - o["data_heap"]  # the reserved block is not code
    base = code_bytes
    if o["data_heap"]:
        base = limit_heap()

    out = sys.stdout
    serial = o["serial"] == "stdio"
    if serial:
        out = sys.stderr  # stdout carries the protocol

    def emit(line):
        if not o["quiet"]:
            out.write(line + "\n")

    clock = FakeClock(o["speed"])
    fakemachine.set_clock(clock.ticks_ms, 0)
    fakemachine.set_output(False if o["quiet"] else emit)
    # the flash and the session store before the IMU starts sampling, as
    # app.run() does: littlefs's first mount and the store's files stall the
    # CPU (erases), which must not come out of the FIFO
    flash = o["flash"]
    store = None
    cfg_path = None
    cfg = settings = None
    problems = []
    simflash = None
    if flash:
        import logstore
        from logstore import SessionStore

        logstore.os = OsNoSync()

        try:
            os.mkdir(flash)
        except OSError:
            pass
        if o["fs"] == "lfs":
            # littlefs on the board's flash geometry, as rp2 mounts it
            from sim.flash import PICO_BLOCKS, SimFlash

            blocks = (o["flash_kb"] * 1024) // 4096 if o["flash_kb"] else PICO_BLOCKS
            simflash = SimFlash(flash + "/flash.img", blocks, clock, o["erase_ms"] * 1000)
            flash = simflash.mount("/flash")
            statvfs = os.statvfs
        elif o["fs"] == "dir":
            statvfs = FakeStatvfs(flash, o["flash_kb"]) if o["flash_kb"] else os.statvfs
        else:
            raise ValueError("--fs: dir or lfs, got %r" % o["fs"])
        store = SessionStore(flash + "/sessions", 32 * 1024 if not o["flash_kb"] else 8 * 1024, statvfs,
                             device_id=o["uid"])
        logged0 = _logged_bytes(flash + "/sessions")
        cfg_path = flash + "/heeldrop.json"
        from configstore import load_config

        cfg, settings, problems = load_config(cfg_path)
    n = o["n"]
    limit = [1 << 62]
    bus = clocked_bus(clock, limit)
    chip = make_chip(o["imu"])
    chip.source = Samples(o["samples"], n, o["rate"])
    bus.attach(chip)
    i2c, led, buzzer, button_pin = simboard.build(i2c=bus)
    imu = probe(bus, clock_us=clock.ticks_us)
    imu.configure(o["rate"])
    chip.source.origin = chip._t0
    # the trace ends at its n-th sample: the chip makes no more
    limit[0] = chip._t0 + (n * imu._den * 1000000 + imu._num - 1) // imu._num
    chip.source.skip = 0
    chip.source._lost_us = 0
    if cfg is None:
        from heelcore.config import Config

        cfg = Config()
        settings = {"cue_style": "full", "sample_rate_hz": 100}
    settings["sample_rate_hz"] = int(o["rate"])
    cues = Cues(led, buzzer, settings.get("cue_style", "full"))
    link = None
    if serial:
        from link import Link, StdioStream

        link = Link(StdioStream(), board="sim")

    if o["speed"] is None:

        def idle(ms):
            clock.advance(ms * 1000)  # the board would sleep ms: no time passes here
    else:
        speed = o["speed"]

        def idle(ms):
            time.sleep_us(int(ms * 1000 / speed))

    def save(c, s):
        from configstore import save_config

        save_config(c, s, cfg_path)

    a = appmod.App(imu, cfg, settings, cues, Button(button_pin), store, link, clock.ticks_ms, idle,
                   "sim", None, save if cfg_path else None, clock.ticks_us)
    if link is not None:
        link.attach(a)
        link.send_hello()
        for p in problems:
            link.send_error(2, p)
    else:
        for p in problems:
            out.write("sim: config: %s\n" % p)
    if problems:  # as app.run(): STATUS says it, a cue tells the person on the step
        a.config_fault = problems[0] if len(problems) == 1 else "%s (and %d more)" % (problems[0], len(problems) - 1)
        cues.on_event("config_fault", a.now())
    sc = Script(o, clock, bus, chip, button_pin, n, limit)
    sc.flash = simflash
    if simflash is not None and os.getenv("HEELDROP_FLASH_DEBUG"):
        simflash.debug = True
    if simflash is not None:  # from here on the IMU samples: count the stalls per loop pass
        simflash.new_pass()
        simflash.max_pass_stall_us = 0
    a.hook = sc
    a.start(o["side"])
    try:
        a.run()
    except KeyboardInterrupt:
        out.write("sim: stopped by Ctrl-C\n")
        return 0
    eng = a.eng
    res = a.last_stop or {}
    out.write("sim: end samples=%d lost=%d gaps=%d faults=%d session=%s reps=%d t_ms=%d engine_errors=%d\n" % (
        a.samples, a.lost, a.gaps, a.faults, res.get("session"), eng.rep if eng else 0, clock.ticks_ms(),
        a.engine_errors))
    out.write("sim: heap code_bytes=%d data_live_peak_bytes=%d data_heap=%d\n" % (
        code_bytes, sc.peak - base, o["data_heap"]))
    if simflash is not None:
        c = simflash.counts()
        out.write("sim: flash logged_bytes=%d program_bytes=%d erase_bytes=%d erases=%d stall_ms=%d max_stall_ms=%d "
                  "max_pass_stall_ms=%d\n"
                  % (_logged_bytes(flash + "/sessions") - logged0, c["program_bytes"], c["erase_bytes"], c["erases"],
                     c["stall_us"] // 1000, c["max_stall_us"] // 1000, c["max_pass_stall_us"] // 1000))
    return 0


if __name__ == "__main__":
    try:
        rc = main(sys.argv)
    except ValueError as e:
        sys.stderr.write("sim: %s\n" % e)
        rc = 2
    if rc:
        sys.exit(rc)
