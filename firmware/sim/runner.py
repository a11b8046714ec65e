# The sim board: the real firmware app in the MicroPython unix port, with an
# emulated IMU on a fake I2C bus replaying a trace through its registers and
# FIFO. Started by `heeldrop sim` (host/heeldrop/cmd_sim.py), which checks
# the trace CSV and converts it to the sample file read here:
#
#   MICROPYPATH=build/sim-mpy micropython -X heapsize=... \
#       -m sim.runner --samples FILE --n N --rate HZ [options]
#
# FILE: N samples of 6 little-endian int16 counts (ax ay az gx gy gz) at the
# virtual scale of heeldrop.replay (8192 LSB/g, 65.5 LSB/dps, whatever the
# trace's own scale), one a period of the trace's rate (rows a recorder
# dropped are not filled in: the chip sees the motion jump there). The chip emulation turns them back into g and deg/s
# (the "physics") and its ADC makes counts at the range the driver
# configured, so an MPU-6050 at +-4 g / +-500 dps reproduces an MPU-6050
# trace's counts exactly. The chip samples that motion at its ODR from the
# moment the app started sampling: at the trace's rate (the MPU-6050 makes
# 25..1000 Hz exactly) its sample k is row k; at another ODR (LSM6DS 104 Hz,
# QMI8658 112.1 Hz for 100 Hz) it reads between rows (Samples).
#
# Start-up: the same code as a board's (app.boot(), then App.run()), in the
# same order: config, button, IMU probe and configure, session store, link,
# App, start, then the loop, which empties the FIFO and takes the sample
# clock's base.
#
# Time: ONE virtual clock (VirtualClock, microseconds) is the board's
# ticks_ms/ticks_us/sleep_ms, the chip's time (its FIFO fills as the clock
# passes each sample's time) and the LED/buzzer printout's stamps. It moves
# only by what would take time on a board:
#   - the loop's idle(ms) (a board's sleep until the next deadline);
#   - the CPU the board would spend (a cost model, --cost): each loop pass,
#     each sample read and processed, each module imported (its .mpy size
#     for the board's architecture: the clock runs while modules import);
#   - --startup-ms MS of extra start-up work (before the store opens);
#   - --stall MS every second (a flash write stalling the loop).
# Host load therefore changes the pace and never the data: a slow process
# or a slow pty reader cannot move a sample, a read or a cue in virtual
# time. --speed N keeps the virtual clock at most N times ahead of the wall
# clock (idle sleeps until the wall catches up; when the host is slower,
# the sim is slower, nothing else); --speed max never sleeps. After the
# trace (--keep) the clock follows the wall at 1x at most: an idle device.
#
# Options:
#   --imu mpu6050|mpu6500|lsm6dsox|lsm6ds3|qmi8658   emulated chip
#   --flash DIR        the board's flash: littlefs over the Pico's flash
#                      geometry in the image DIR/flash.img (sim/flash.py:
#                      programs and erases counted, their stalls on the
#                      clock), mounted at /flash, which is the current folder
#                      (the REPL and mpremote see the board's files there):
#                      sessions in /flash/sessions, config /flash/heeldrop.json
#   --flash-kb N       a flash (image) of N KB instead of the Pico's 1408 KB
#   --erase-ms MS      the CPU stall of one 4 KB erase (45 typical, 400 max;
#                      a 256 B page program stalls 0.4 ms); 0: no flash stall
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
#   --startup-ms MS    extra start-up work, in virtual time
#   --cost PASS_US,SAMPLE_US,IMPORT_US_PER_KB   the CPU cost model (default
#                      a Pico's, see COST below); 0,0,0: time moves only by
#                      idle and stalls
#   --mpy-sizes FILE   "module size" lines: the board's .mpy sizes, for the
#                      import cost (cmd_sim writes it)
#   --wait-host        (--serial stdio) start the loop, and the trace, with
#                      the first byte from the host (the demo: nothing is
#                      missed while the host connects)
#   --args FILE        more options, one token a line (long values: the
#                      unix port dies on an argument of 256 bytes or more)
#
# Memory: the unix port keeps every module's bytecode in its heap (about
# 180 KB for the firmware), where a board with frozen modules or a ROMFS
# keeps it in flash. So `heeldrop sim --heap 96k` starts the port with room
# for the code and this runner, once everything is imported and collected,
# allocates ballast until only BYTES are free: the firmware then runs with
# a 96 KB data heap, as on the board. A MemoryError is a real overrun.
# At the end of the trace the session is closed and lines are printed:
#   sim: end samples=N lost=L gaps=G faults=F session=ID reps=R ...
#   sim: heap ...
#   sim: timing passes=P reads=R read_period_ms=MEDIAN latency_ms_median=..
import struct
import sys
import time

_TICKS = (1 << 30) - 1
CHIPS = ("mpu6050", "mpu6500", "lsm6dsox", "lsm6ds3", "qmi8658")

# The CPU a board spends, for the virtual clock (a model, not a measurement
# here): a Pico (RP2040 at 125 MHz) ran this firmware in an instruction-level
# emulator (issue 11: an outside review) at 892 us a sample with its 400 kHz
# I2C reads, loop passes included; we charge 850 us a sample read and 150 us
# a loop pass (at 100 Hz: 10 samples and 2 passes a read, 8.8 % CPU, the
# emulator's 8.9 %). Imports: the same review saw ~650 ms between the FIFO
# reset and the App (importing logstore and link with what they import,
# then opening the store): 650 ms over the armv6m .mpy bytes of the modules
# imported there (logstore, heelcore.record, heelcore.crc, link,
# heelcore.proto: 35.8 KB when this was written) is 18 ms a KB of .mpy.
# The sim's own modules (sim.*) are not on a board and cost nothing.
COST = (150, 850, 18000)


class VirtualClock:
    """The board's clock in the sim: microseconds since start, moved by
    advance() and sleep_ms() only (see the module comment)."""

    def __init__(self, speed):
        self.speed = speed  # None: max (no pacing)
        self.t = 0
        self._w = time.ticks_us()
        self._wall = 0.0  # wall us since start, summed in small steps

    def us(self):
        return self.t

    def ticks_us(self):
        return self.t & _TICKS

    def ticks_ms(self):
        return (self.t // 1000) & _TICKS

    def advance(self, us):
        self.t += us

    def resync(self):
        """Pace from now on (after a wait that was not the board's time)."""
        self._w = time.ticks_us()
        self._wall = self.t / self.speed if self.speed else 0.0

    def set_speed(self, speed):
        if self.speed is not None and speed is not None and self.speed <= speed:
            return
        self.speed = speed
        self._w = time.ticks_us()
        self._wall = self.t / speed if speed else 0.0

    def sleep_ms(self, ms):
        self.t += ms * 1000
        self.pace()

    def pace(self):
        # at most speed x wall time ahead: sleep until the wall catches up;
        # when the host is slow the sim is slow (a debt of at most 0.5 s of
        # wall time is made up, so a stopped process does not race after)
        sp = self.speed
        if sp is None:
            return
        w = time.ticks_us()
        self._wall += time.ticks_diff(w, self._w)
        self._w = w
        ahead = self.t / sp - self._wall
        if ahead > 500:
            time.sleep_us(int(ahead))
        elif ahead < -500000:
            self._wall = self.t / sp + 500000


class NativeHeap:
    """--native-sizes FILE: a board without separate executable memory
    (RP2040, RP2350) keeps a module's native and viper machine code in the
    GC heap; this port maps it elsewhere. So each firmware module that
    loads gets a block of its board-arch machine-code size in the heap, held
    while the module is loaded (released when it leaves sys.modules, as
    the board's collector would free its code)."""

    def __init__(self, sizes):
        self.sizes = sizes
        self.held = {}
        self.total = 0

    def loaded(self, name):
        n = self.sizes.get(name, 0)
        if n and name not in self.held:
            self.held[name] = bytearray(n)
            self.total += n

    def sweep(self):
        for name in list(self.held):
            if name not in sys.modules:
                self.total -= len(self.held.pop(name))


class ImportCost:
    """builtins.__import__ wrapped: every module loaded costs virtual time
    by its .mpy size on the board (sizes: {module: bytes})."""

    def __init__(self, clock, us_per_kb, sizes, native=None):
        import builtins

        self.native = native
        self.clock = clock
        self.k = us_per_kb
        self.sizes = sizes
        self.charged_us = 0
        self.loaded = {}  # module -> clock us when it was loaded
        self._orig = builtins.__import__
        builtins.__import__ = self

    def __call__(self, name, *a):
        mods = sys.modules
        n0 = len(mods)
        m = self._orig(name, *a)
        if len(mods) != n0:
            nat = self.native
            if nat is not None:
                for key in mods:
                    nat.loaded(key)
            for key in mods:
                if key in self.sizes and key not in self.loaded and not key.startswith("sim."):
                    us = self.sizes[key] * self.k // 1024
                    self.clock.advance(us)
                    self.charged_us += us
                    self.loaded[key] = self.clock.t
        return m


def read_sizes(path):
    sizes = {}
    if path:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) == 2:
                    sizes[p[0]] = int(p[1])
    return sizes


class Samples:
    """The chip's source: the motion at the chip's sample k, as (g, g, g,
    dps, dps, dps). The file's rows are the trace's, one a period of its
    rate (rows a recorder dropped are not filled in); the chip samples that
    motion at its own ODR (sampling_started sets step): sample k reads the
    trace at row k * step, between two rows by linear interpolation. An
    MPU-6050 makes the trace's rate exactly (step 1: sample k is row k);
    an LSM6DS at 104 Hz or a QMI8658 at 112.1 Hz sees a 100 Hz trace's
    motion at its true pace, not 4 or 12 % faster."""

    def __init__(self, path, n, rate):
        self.f = open(path, "rb")
        self.n = n
        self.rate = rate
        self.step = 1.0  # trace rows per chip sample (the trace's rate / the chip's)
        self.k = -1
        self.skip = 0  # chip samples that passed while the chip was unplugged or asleep
        self.origin = 0  # clock (us) of the chip's grid: sample j at origin + (j + 1) / (rate / step)
        self.buf = bytearray(12)
        self.row = None  # the rows last read: (index, counts)
        self.prev = None
        self.last = (0.0, 0.0, 1.0, 0.0, 0.0, 0.0)

    def count(self):
        """The chip samples that read the trace (the last one reads row n - 1)."""
        return int((self.n - 1) / self.step + 1e-9) + 1

    def lost_between(self, a, b):
        # the foot moves on while the sensor is away (unplugged, not sampling)
        # from clock a to b (us): the chip's sample slots in (a, b] are lost
        r = self.rate / self.step
        o = self.origin
        self.skip += int((b - o) * r // 1000000) - int((a - o) * r // 1000000)

    def _read(self, j):
        for r in (self.row, self.prev):
            if r is not None and r[0] == j:
                return r[1]
        if j != self.k + 1:
            self.f.seek(12 * j)
        self.k = j
        if self.f.readinto(self.buf) != 12:
            return None
        c = struct.unpack("<6h", self.buf)
        self.prev = self.row
        self.row = (j, c)
        return c

    def __call__(self, k):
        k += self.skip
        x = k * self.step
        j = int(x + 1e-9)
        if j >= self.n or k < 0:
            return self.last
        c = self._read(j)
        if c is None:
            return self.last
        f = x - j
        if f > 1e-9 and j + 1 < self.n:
            d = self._read(j + 1)
            if d is not None:
                c = [a + (b - a) * f for a, b in zip(c, d)]
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


class EndClock:
    """The clock the flash stalls advance: not past the end of the trace by
    more than half a sample period, as --stall (Script): the emulated chip
    stops at the trace's last row, a board's chip would not, and a stall
    past the end would show the driver a silent sensor."""

    def __init__(self, clock, limit, chip):
        self.clock = clock
        self.limit = limit
        self.chip = chip

    def advance(self, us):
        end = self.limit[0]
        r = self.chip._rate
        if r is not None:
            end += r[1] * 500000 // r[0]
        t = self.clock.t
        if t + us > end:
            us = end - t if end > t else 0
        self.clock.advance(us)


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


def parse_args(argv):
    o = {"samples": None, "n": 0, "rate": 100, "speed": None, "flash": None, "flash_kb": 0,
         "stall": 0, "imu": "mpu6050", "inject": "", "switch": "", "side": "left",
         "serial": "none", "keep": False, "quiet": False, "data_heap": 0, "startup_ms": 0, "wait_host": False,
         "cost": "%d,%d,%d" % COST, "mpy_sizes": None, "args": None, "board_heap": 0, "board_base": 8192,
         "code_adjust": 0, "download": False, "native_sizes": None,
         "uid": "51a0000000000001", "erase_ms": 45}
    argv = list(argv)
    i = 1
    flags = ("keep", "quiet", "wait_host", "download")
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
        if k == "args":
            # more options from a file, one token a line, read in place
            with open(v) as f:
                more = [line.rstrip("\n") for line in f if line.strip()]
            argv[i + 2:i + 2] = more
            i += 2
            continue
        if k in ("n", "stall", "flash_kb", "data_heap", "startup_ms", "board_heap", "board_base", "code_adjust",
                 "erase_ms"):
            v = int(v)
        elif k == "rate":
            v = float(v)
        elif k == "speed":
            v = None if v == "max" else float(v)
        o[k] = v
        i += 2
    if o["samples"] is None:
        raise ValueError("--samples FILE is required")
    c = [int(x) for x in o["cost"].split(",")]
    if len(c) != 3 or min(c) < 0:
        raise ValueError("--cost: PASS_US,SAMPLE_US,IMPORT_US_PER_KB, got %r" % o["cost"])
    o["cost"] = c
    return o


class Script:
    """The runner's hook (App.hook, once a loop pass): stalls, faults,
    button presses, the end of the trace."""

    def __init__(self, o, clock, bus, chip, button_pin, n, limit, stats):
        self.flash = None  # sim.flash.SimFlash (--flash): its stalls per loop pass
        self.cost_pass, self.cost_sample = o["cost"][0], o["cost"][1]
        self._charged = 0  # samples charged at their read this pass (charge_samples)
        self.app = None
        self.max_risk = 0  # samples at risk at a power cut, the most seen (risk())
        self._read_charged = 0  # the last read's
        self._seen = 0  # app.samples at the last pass (the cost model)
        self._reads = 0
        self._last_read = None  # virtual us of the last FIFO read that brought samples
        self.stats = stats
        self.grid = None  # (chip t0, chip sample count, seq) when sampling began
        self.board_heap = None  # BoardHeap in --board-heap runs
        self.sink = None  # SinkStream in --download runs
        self.download = None
        self.downloaded = None
        self.limit = limit
        self.clock = clock
        self.bus = bus
        self.chip = chip
        self.pin = button_pin
        self.n = n
        self.stall_us = o["stall"] * 1000
        self.next_stall = 1000000
        self.started = False
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
        self.peak = 0
        self._pass = 0

    def sampling_started(self, imu):
        """App.begin_sampling emptied the FIFO: the trace starts here (row
        0 is the next sample the chip makes)."""
        c = self.chip
        src = c.source
        if c._rate is None or src is None:
            return
        num, den = c._rate
        src.step = src.rate * den / num
        src.skip = -c.produced
        src.origin = c._t0 + c._n * den * 1000000 // num
        self.grid = (c._t0, c._n, imu.seq)
        if not self.started:
            # faults and stalls are given in trace time: from here
            self.started = True
            t = self.clock.us()
            self.next_stall += t
            self.events = [(e[0] + t, e[1], e[2]) for e in self.events]
            from sim import fakemachine

            fakemachine.set_clock(self.clock.ticks_ms, self.clock.ticks_ms())  # LED/buzzer stamps: trace time

    def risk(self):
        """Samples a power cut now would cost: made by the chip since
        sampling began, not yet in the log at its last sync (measured while
        nothing was lost, at every pass and every flash operation)."""
        app = self.app
        g = self.grid
        if app is None or g is None or self.ended or app.lost or app.faults:
            return
        log = app.log
        r = self.chip._rate
        if log is None or log.full or r is None:
            return
        made = (self.clock.us() - g[0]) * r[0] // (r[1] * 1000000) - g[1]
        k = made - log.durable
        if k > self.max_risk:
            self.max_risk = k

    def charge_samples(self, n):
        """A read brought n samples: the CPU they cost a board, now."""
        self._charged += n
        self._read_charged = n
        self.clock.advance(n * self.cost_sample)

    def sample_time(self, seq):
        """Virtual us at which the chip made the sample the app calls seq."""
        t0, n0, s0 = self.grid
        num, den = self.chip._rate
        return t0 + ((n0 + 1 + seq - s0) * den * 1000000 + num - 1) // num

    def cue_seen(self, app, ev):
        # the latency from the sample behind an engine event to its cue: the
        # cue starts after the read's samples went through (their modeled
        # cost); measured while the grid holds (no gap, no fault)
        if self.grid is None or app.lost or app.faults:
            return
        imu = app.imu
        t = ev.get("t_ms")
        n = imu.seq - imu.first_seq
        ts = app._ts
        for i in range(n):
            if ts[i] == t:
                cue = self.clock.us() + (n - self._read_charged) * self.cost_sample
                self.stats.add(1, cue - self.sample_time(imu.first_seq + i))
                return

    def __call__(self, app, now):
        self._pass += 1
        self.risk()
        if self.flash is not None:
            self.flash.new_pass()
        us = self.clock.us()
        if app.reads != self._reads:
            self._reads = app.reads
            if app.last_read and not (app.lost or app.faults):
                if self._last_read is not None:
                    self.stats.add(0, us - self._last_read)
                self._last_read = us
        bh = self.board_heap
        if bh is not None and us >= bh.next_us:
            # about as often as a board's collector runs (the heap fills
            # with garbage in ~20 s at ~100 bytes a sample); each sample
            # collects once, as a failing allocation would
            bh.next_us = us + (2000000 if self.download is not None else 10000000)
            if bh.native is not None:
                bh.native.sweep()
            bh.sample(us)
        dl = self.download
        if dl is not None:
            dl.step()
            if dl.done:
                self.download = None
                self.downloaded = dl
                app.stop_loop()
        # the CPU this pass took on a board
        k = app.samples - self._seen - self._charged  # (those not charged at their read)
        self._seen = app.samples
        self._charged = 0
        self._read_charged = 0
        self.clock.advance(self.cost_pass + (k if k > 0 else 0) * self.cost_sample)
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
            left = c.source.count() - c.produced - c.source.skip
            self.limit[0] = c._t0 + ((c._n + left) * den * 1000000 + num - 1) // num
        if self.stall_us and us >= self.next_stall and us < self.limit[0]:
            self.next_stall += 1000000
            # the loop is stuck; the FIFO fills. Not past the end of the
            # trace by more than half a period: the chip stops there
            # (clocked_bus), the board's clock would not, and the driver
            # counts lost samples by that clock (rounded to whole periods:
            # mid-way between samples it is exact).
            st = self.stall_us
            end = self.limit[0]
            if c._rate is not None:
                end += c._rate[1] * 500000 // c._rate[0]
            if us + st > end:
                st = end - us
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
        elif self.switch and app.samples * self.chip.source.step >= self.switch[0] and self.release_at is None:
            self.switch.pop(0)
            self.pin.set_input(0)
            self.release_at = us + 200000  # a 200 ms press: "short"
        lk = app.link
        if lk is not None and getattr(lk.stream, "eof", False):
            app.stop_loop()  # the serial port closed: nobody is there any more
        if not self.ended and us >= self.limit[0] and app.last_read == 0 and app.sensor_ok:
            self.ended = True
            if self.flash is not None:
                self.flash.new_pass()  # the loop's stalls end here (not the session's close)
                self.flash.sampling = False
            app.sampling = False
            if app.running:
                app.stop()
            if self.sink is not None:
                self.download = Download(self.sink, app)  # as a host would, over the link
            elif not self.keep:
                app.stop_loop()
            else:
                self.clock.set_speed(1.0)  # an idle device: real time at most


class BoardHeap:
    """--board-heap BYTES: one heap for the firmware's code and data, the
    board's size. The unix port starts with a larger heap; once the sim's
    own objects exist (chip emulation, sample file, these helpers),
    ballast takes all but BYTES - --board-base (what the board's runtime
    holds before main.py) + --code-adjust (this port's .mpy code is bigger
    than the board's: cmd_sim passes the difference of the .mpy sizes of
    the modules a board imports, x86 against armv6m). The firmware's
    modules then load, as on the board, into what is left, and every
    allocation, code or data, competes for it.

    largest_free(): the largest block an allocation can get now, after a
    collection (MicroPython collects and retries before it fails): a binary
    search over bytearray sizes. min_free_block keeps the smallest seen."""

    def __init__(self, o):
        self.target = o["board_heap"] - o["board_base"] + o["code_adjust"]
        self.ballast = []
        self.min_free_block = 1 << 30
        self.next_us = 0
        self.native = None  # NativeHeap
        self.min_at_us = 0
        self.after_boot_used = 0
        self.after_boot_largest = 0
        self.free_at_start = 0

    def fill(self):
        import gc

        gc.collect()
        extra = gc.mem_free() - self.target
        if extra < 0:
            raise ValueError("--board-heap: the port's heap is %d bytes short: start micropython with a larger "
                             "-X heapsize" % -extra)
        # a few big blocks (one may not fit where the sim's objects sit)
        while extra > 64:
            k = extra
            while k > 64:
                try:
                    self.ballast.append(bytearray(k - 32))
                    break
                except MemoryError:
                    k //= 2
            gc.collect()
            extra = gc.mem_free() - self.target
            if k <= 64:
                break
        gc.collect()
        self.free_at_start = gc.mem_free()

    def largest_free(self):
        import gc

        gc.collect()
        lo = 0
        hi = gc.mem_free()
        while hi - lo > 16:
            mid = (lo + hi) // 2
            try:
                b = bytearray(mid)
                b = None
                lo = mid
                gc.collect()
            except MemoryError:
                hi = mid
        return lo

    def sample(self, now_us):
        f = self.largest_free()
        if f < self.min_free_block:
            self.min_free_block = f
            self.min_at_us = now_us
        return f


class SinkStream:
    """The serial port in --board-heap --download runs: the runner writes
    commands into it as a host would (inbox) and reads the device's frames
    (counted; CHUNK payloads summed)."""

    eof = False

    def __init__(self):
        self.inbox = bytearray(256)
        self.n_in = 0
        self.out_bytes = 0
        self.dec = None
        self.chunks = 0
        self.chunk_bytes = 0
        self.errors = 0

    def feed(self, frame):
        self.inbox[self.n_in:self.n_in + len(frame)] = frame
        self.n_in += len(frame)

    def read_into(self, buf):
        n = self.n_in
        if n > len(buf):
            n = len(buf)
        buf[0:n] = self.inbox[0:n]
        self.inbox[0:self.n_in - n] = self.inbox[n:self.n_in]
        self.n_in -= n
        return n

    def write(self, data):
        self.out_bytes += len(data)
        if self.dec is None:
            return
        from heelcore import proto

        for f in self.dec.feed(data):
            if f.type == proto.T_CHUNK:
                c = proto.parse_chunk(f.payload)
                if c["ok"]:
                    self.chunks += 1
                    self.chunk_bytes += len(c["data"])
                else:
                    self.errors += 1
            elif f.type == proto.T_REPLY and proto.parse_reply(f.payload)[1] != proto.OK:
                self.errors += 1


class Download:
    """After the trace: download the session over the link in MAX_CHUNK
    pieces, one command after each answer, as `heeldrop download` does."""

    def __init__(self, stream, app):
        from heelcore import proto

        self.proto = proto
        self.stream = stream
        self.app = app
        stream.dec = proto.FrameDecoder()
        self.sid = app.last_stop.get("session") if app.last_stop else None
        self.total = app.store.size(self.sid) if self.sid is not None else 0
        self.off = 0
        self.req = 1
        self.waiting = False
        self.done = self.sid is None

    def step(self):
        st = self.stream
        if self.waiting:
            if st.chunks + st.errors < self.req - 1:
                return
            self.waiting = False
            if st.errors:
                self.done = True
                return
        if self.off >= self.total and self.off > 0:
            self.done = True
            return
        p = self.proto
        ln = p.MAX_CHUNK if hasattr(p, "MAX_CHUNK") else 1024
        st.feed(p.encode_frame(p.T_CMD, self.req & 0xFF, p.cmd_payload(
            self.req, "read_session", {"id": self.sid, "offset": self.off, "length": ln})))
        self.off += ln
        self.req += 1
        self.waiting = True


class TimingStats:
    """Histograms in whole ms (0..1999, longer in the last bin), made
    before the heap is limited (they are the sim's, not the firmware's):
    kind 0 the time between FIFO reads that brought samples, kind 1 the
    latency from a sample to its event's cue."""

    BINS = 2000

    def __init__(self):
        import array

        self.h = (array.array("H", bytes(2 * self.BINS)), array.array("H", bytes(2 * self.BINS)))
        self.count = [0, 0]
        self.sum_us = [0, 0]

    def mean(self, kind):
        c = self.count[kind]
        return self.sum_us[kind] / c / 1000 if c else -1

    def add(self, kind, us):
        self.sum_us[kind] += us
        b = us // 1000
        if b >= self.BINS:
            b = self.BINS - 1
        if b < 0:
            b = 0
        h = self.h[kind]
        if h[b] < 65535:
            h[b] += 1
        self.count[kind] += 1

    def quantile(self, kind, f):
        """ms (bin) at fraction f, -1 with no data"""
        h = self.h[kind]
        tot = 0
        for v in h:
            tot += v
        if not tot:
            return -1
        want = int(f * tot)
        acc = 0
        for i in range(self.BINS):
            acc += h[i]
            if acc > want:
                return i
        return self.BINS - 1

    def max(self, kind):
        h = self.h[kind]
        for i in range(self.BINS - 1, -1, -1):
            if h[i]:
                return i
        return -1


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


class NullStream:
    """The serial port when nobody is attached (--serial none): the board
    has its link all the same; what it sends goes nowhere."""

    eof = False

    def read_into(self, buf):
        return 0

    def write(self, data):
        pass


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


def mount_flash(o, clock):
    """--flash DIR: the board's littlefs in DIR/flash.img (made and
    formatted if new, as a board's first boot does), mounted at /flash and
    made the current folder, as a board's / is. Returns the SimFlash, or
    None without --flash."""
    flash = o["flash"]
    if not flash:
        return None
    import os

    from sim.flash import PICO_BLOCKS, SimFlash

    try:
        os.mkdir(flash)
    except OSError:
        pass
    blocks = (o["flash_kb"] * 1024) // 4096 if o["flash_kb"] else PICO_BLOCKS
    # --erase-ms 0: the flash takes no time at all (programs neither)
    fl = SimFlash(flash + "/flash.img", blocks, clock, o["erase_ms"] * 1000, 400 if o["erase_ms"] else 0)
    fl.mount(FLASH)
    os.chdir(FLASH)
    return fl


FLASH = "/flash"  # where the sim mounts the board's flash


def open_store(o, fl):
    """The session store on the mounted flash (None without one)."""
    if fl is None:
        return None
    import os

    import logstore
    from logstore import SessionStore

    logstore.os = OsNoSync()
    # logging stops with 32 KB left, as on a board (app.run()); less on a
    # small image (--flash-kb: an eighth of it, at least 8 KB)
    total = fl.blocks * 4096
    reserve = 32 * 1024 if total >= 256 * 1024 else max(8 * 1024, total // 8)
    return SessionStore(FLASH + "/sessions", reserve, os.statvfs, device_id=o["uid"])


def main(argv):
    o = parse_args(argv)
    import gc
    import os

    clock = VirtualClock(o["speed"])
    simflash = mount_flash(o, clock)  # before the firmware (--from-flash) is imported from it
    native = NativeHeap(read_sizes(o["native_sizes"])) if o["native_sizes"] else None
    imports = None
    if (o["cost"][2] and o["mpy_sizes"]) or native is not None:
        imports = ImportCost(clock, o["cost"][2], read_sizes(o["mpy_sizes"]) if o["cost"][2] else {}, native)

    ram = o["board_heap"]
    if ram:
        # One heap for code and data, the board's size (see BoardHeap):
        # the sim's own objects first, then ballast; the firmware's
        # modules load later, as on the board, into what is left.
        from sim import chips as _chips, fakemachine  # noqa: F401
        from sim import i2cbus as _i2cbus  # noqa: F401

        board_heap = BoardHeap(o)
        board_heap.native = native
    elif o["data_heap"]:
        reserve_heap(o["data_heap"])
        # the code first, then ballast: the data heap is what is left (see
        # the module comment); these imports happen before the board's
        # start-up, so they cost no start-up time here
        import app as _app  # noqa: F401
        import button as _button  # noqa: F401
        import cues as _cues  # noqa: F401
        import link as _link  # noqa: F401
        import logstore as _logstore  # noqa: F401
        import configstore as _configstore  # noqa: F401
        from drivers import lsm6ds as _l, mpu6050 as _m, qmi8658 as _q  # noqa: F401
        from heelcore import proto as _proto, record as _record  # noqa: F401
    from sim import chips as _chips, fakemachine  # noqa: F401

    stats = TimingStats()
    n = o["n"]
    limit = [1 << 62]
    clock_bus = clocked_bus(clock, limit)
    chip = make_chip(o["imu"])
    chip.source = Samples(o["samples"], n, o["rate"])
    clock_bus.attach(chip)
    if simflash is not None:
        simflash.clock = EndClock(clock, limit, chip)
    if ram:
        board_heap.fill()  # the rest of the heap is the board's
    else:
        import app as _appmod  # noqa: F401
        import boards.sim as _simboard  # noqa: F401

    gc.collect()
    code_bytes = gc.mem_alloc() - o["data_heap"]  # the reserved block is not code
    base = code_bytes
    if o["data_heap"]:
        base = limit_heap()

    import app as appmod
    import boards.sim as simboard

    out = sys.stdout
    serial = o["serial"] == "stdio"
    if serial:
        out = sys.stderr  # stdout carries the protocol

    def emit(line):
        if not o["quiet"]:
            out.write(line + "\n")

    fakemachine.set_clock(clock.ticks_ms, 0)
    fakemachine.set_output(False if o["quiet"] else emit)
    bus = clock_bus
    parts = simboard.build(i2c=bus)
    logged0 = [0]

    def store():
        if o["startup_ms"]:
            clock.advance(o["startup_ms"] * 1000)  # injected start-up work
        st = open_store(o, simflash)
        if st is not None:  # what the sessions held before this boot's session
            logged0[0] = _logged_bytes(FLASH + "/sessions")
        return st

    sink = SinkStream() if (ram and o["download"] and not serial) else None

    def stream(lk):
        if sink is not None:
            return sink
        return lk.StdioStream() if serial else NullStream()

    rate = o["rate"]
    a = appmod.boot("sim", parts, clock, FLASH + "/heeldrop.json" if simflash is not None else None, store, stream,
                    int(rate) if rate == int(rate) else rate, o["side"])
    if not serial:
        for p in a.config_problems:
            out.write("sim: config: %s\n" % p)
    sc = Script(o, clock, bus, chip, parts[3], n, limit, stats)
    sc.flash = simflash
    if simflash is not None and os.getenv("HEELDROP_FLASH_DEBUG"):
        simflash.debug = True
    if simflash is not None:  # from here on the IMU samples: count the stalls per loop pass
        simflash.new_pass()
        simflash.max_pass_stall_us = 0
    a.hook = sc
    sc.app = a
    if simflash is not None:
        simflash.watch = sc.risk
    if ram:
        if native is not None:
            native.sweep()
        gc.collect()
        board_heap.after_boot_used = board_heap.target - gc.mem_free()
        board_heap.after_boot_largest = board_heap.sample(clock.us())
        sc.board_heap = board_heap
        sc.sink = sink
    imu = a.imu
    if imu is not None:
        # the trace starts when the app starts sampling (App.begin_sampling)
        sc.sampling_started(imu)
        restart = imu.restart

        def restart_and_mark():
            restart()
            sc.sampling_started(imu)

        imu.restart = restart_and_mark
        read_fifo = imu.read_fifo

        def read_and_charge(buf, maxn):
            # the CPU a board spends on these samples (the I2C read, the
            # engine, the log, the link) is spent now, before the pass goes
            # on: a flash write later in the pass stalls after it
            n = read_fifo(buf, maxn)
            if n:
                sc.charge_samples(n)
            return n

        imu.read_fifo = read_and_charge
    cue = a.cues.on_engine_event

    def cue_and_measure(ev, now):
        sc.cue_seen(a, ev)
        cue(ev, now)

    a.cues.on_engine_event = cue_and_measure
    if o["wait_host"] and serial:
        # the person steps on when someone watches: the loop (and the
        # trace) starts with the first byte from the host; no board time
        # passes meanwhile
        import select

        pl = select.poll()
        pl.register(sys.stdin, select.POLLIN)
        pl.poll(-1)
        clock.resync()
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
        rate = sc.chip._rate
        out.write("sim: flash logged_bytes=%d program_bytes=%d erase_bytes=%d erases=%d stall_ms=%d max_stall_ms=%d "
                  "max_pass_stall_ms=%d at_risk_ms=%d\n"
                  % (_logged_bytes(FLASH + "/sessions") - logged0[0], c["program_bytes"], c["erase_bytes"],
                     c["erases"], c["stall_us"] // 1000, c["max_stall_us"] // 1000, c["max_pass_stall_us"] // 1000,
                     sc.max_risk * rate[1] * 1000 // rate[0] if rate else -1))
    if ram:
        board_heap.sample(clock.us())
        dl = sc.downloaded
        out.write("sim: ram board_heap=%d board_base=%d code_adjust=%d free_at_start=%d after_boot_used=%d "
                  "after_boot_largest_free_block=%d "
                  "min_largest_free_block=%d min_at_s=%.1f download_bytes=%d download_ok=%d native_code_bytes=%d\n" % (
                      o["board_heap"], o["board_base"], o["code_adjust"], board_heap.free_at_start,
                      board_heap.after_boot_used, board_heap.after_boot_largest, board_heap.min_free_block, board_heap.min_at_us / 1e6,
                      sink.chunk_bytes if sink else 0,
                      1 if (dl is not None and dl.done and sink.errors == 0 and sink.chunk_bytes == dl.total) else 0,
                      native.total if native is not None else 0))
    out.write("sim: timing passes=%d reads=%d read_period_ms=%d read_period_mean_ms=%.1f design_read_period_ms=%d "
              "latency_ms_median=%d latency_ms_p95=%d latency_ms_max=%d events_timed=%d import_ms=%d\n" % (
                  a.passes, a.reads, stats.quantile(0, 0.5), stats.mean(0), a._read_ms, stats.quantile(1, 0.5),
                  stats.quantile(1, 0.95), stats.max(1), stats.count[1], imports.charged_us // 1000 if imports else 0))
    return 0


if __name__ == "__main__":
    try:
        rc = main(sys.argv)
    except ValueError as e:
        sys.stderr.write("sim: %s\n" % e)
        rc = 2
    if rc:
        sys.exit(rc)
