# The sim board: the real firmware app in the MicroPython unix port, with an
# emulated IMU on a fake I2C bus replaying a trace through its registers and
# FIFO. Started by `heeldrop sim` (host/heeldrop/cmd_sim.py), which checks
# the trace CSV and converts it to the sample file read here:
#
#   MICROPYPATH=build/sim-mpy micropython -X heapsize=... \
#       -m sim.runner --samples FILE --n N --rate HZ [options]
#
# FILE: N samples of 6 little-endian int16 counts (ax ay az gx gy gz) at the
# virtual scale of heeldrop.replay (8192 LSB/g, 65.5 LSB/dps). The chip
# emulation turns them back into g and deg/s (the "physics") and its ADC
# makes counts at the range the driver configured, so an MPU-6050 at +-4 g /
# +-500 dps reproduces the trace's counts exactly. The chip samples the
# trace's motion at its own ODR from the moment the app started sampling
# (Samples): at the trace's rate (the MPU-6050 makes 25..1000 Hz exactly)
# its k-th sample is row k; at another ODR (an LSM6DS at 104 Hz, a QMI8658
# at 112.1 Hz for a 100 Hz trace) it reads between rows, at its pace.
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
#   --raw-kb N         a new image gets a raw log region of N KB for the
#                      sessions (rawlog.py; littlefs on the rest); an image
#                      that has one keeps it; one without is refused
#   --erase-ms MS      the CPU stall of one 4 KB erase (45 typical, 400 max;
#                      a 256 B page program stalls 0.4 ms); 0: no flash stall
#   --uid HEX          the board's unique id (machine.unique_id() on a board;
#                      default 51a0000000000001): part of each session's identity
#   --stall MS         a main-loop stall of MS every second of trace time
#   --inject SPEC      faults at trace times (seconds), comma-separated:
#                      i2c@T (3 failing transfers), unplug@T+D (unplugged
#                      for D s), glitch@T (impossible FIFO count),
#                      txshort@T / txnone@T (the serial port's next write
#                      sends half / nothing: TxFaults)
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
#   --clock-start-ms MS  the board's clock starts at MS (ticks_us wraps every
#                      2**30 us, ticks_ms every 2**30 ms: a wrap mid-session)
#   --board-heap BYTES --board-base BYTES --native-sizes FILE  one heap for
#                      code and data at a board's size (BoardHeap)
#   --download --download-to FILE  (--board-heap) after the trace, download
#                      the session over the link as a host would (Download)
#   HEELDROP_HEAP_MAP=1 (environment, --board-heap) the heap's block map at
#                      each new minimum of the largest free block (BoardHeap)
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

from micropython import const

# heelcore.ticks' helpers, imported by main() (_load_ticks) once the flash is
# mounted: with --from-flash heelcore is on the board's flash, not here
ticks_add = ticks_diff = None

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
    """The board's clock in the sim: moved by advance() and sleep_ms() only
    (see the module comment). Kept in small ints however long the run
    (a 32-bit port makes an int past 2**30 a heap object, and the sim
    shares the firmware's heap): ms since start, the us within that ms,
    and the wrapping us tick the chip and the board see."""

    def __init__(self, speed, start_ms=0):
        self.ms = start_ms  # ms since the board started (--clock-start-ms: later)
        self.sub = 0  # us within that ms
        self.tus = (start_ms * 1000) & _TICKS  # ticks_us (wraps at 2**30)
        self._lead = 0  # virtual us since the last pace()
        self._ahead = 0  # us of wall time the clock is ahead (pace)
        self._w = time.ticks_us()
        self.speed = None
        self._sk = 1000  # speed in thousandths
        self.set_speed(speed)

    def ticks_us(self):
        return self.tus

    def ticks_ms(self):
        return self.ms & _TICKS

    def advance(self, us):
        s = self.sub + us
        if s >= 1000:
            self.ms += s // 1000
            s %= 1000
        self.sub = s
        t = self.tus - (_TICKS - us) - 1  # tus + us - 2**30, in small ints
        self.tus = t if t >= 0 else self.tus + us
        self._lead += us

    def resync(self):
        """Pace from now on (after a wait that was not the board's time)."""
        self._w = time.ticks_us()
        self._lead = 0
        self._ahead = 0

    def set_speed(self, speed):
        if self.speed is not None and speed is not None and self.speed <= speed:
            return
        self.speed = speed
        if speed:
            self._sk = int(speed * 1000)
        self.resync()

    def sleep_ms(self, ms):
        self.advance(ms * 1000)
        self.pace()

    def pace(self):
        # at most speed x wall time ahead: sleep until the wall catches up;
        # when the host is slow the sim is slow (a debt of at most 0.5 s of
        # wall time is made up, so a stopped process does not race after)
        if self.speed is None:
            self._lead = 0
            return
        w = time.ticks_us()
        dw = time.ticks_diff(w, self._w)
        self._w = w
        v = self._lead
        self._lead = 0
        v = v * 1000 // self._sk if v < 1000000 else v // self._sk * 1000
        ahead = self._ahead + v - dw
        if ahead > 500:
            time.sleep_us(ahead)
        elif ahead < -500000:
            ahead = -500000
        self._ahead = ahead


class NativeHeap:
    """--native-sizes FILE: a board without separate executable memory
    (RP2040, RP2350) keeps a module's native and viper machine code in the
    GC heap; this port maps it elsewhere. So each firmware module that
    loads gets a block of its board-arch machine-code size in the heap, held
    while the module is loaded (released when it leaves sys.modules, as
    the board's collector would free its code)."""

    def __init__(self, sizes):
        self.sizes = sizes
        # every key made now: a module loading later adds no table to the
        # heap (the sim's bookkeeping is not the board's)
        self.held = {name: None for name in sizes}
        self.total = 0

    def loaded(self, name):
        n = self.sizes.get(name, 0)
        if n and self.held[name] is None:
            self.held[name] = bytearray(n)
            self.total += n

    def sweep(self):
        for name in self.held:
            b = self.held[name]
            if b is not None and name not in sys.modules:
                self.total -= len(b)
                self.held[name] = None


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
        # module -> clock ms when it was loaded (-1 not yet; every key made
        # now, see NativeHeap)
        self.loaded = {k: -1 for k in sizes}
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
                if self.loaded.get(key, 0) < 0 and not key.startswith("sim."):
                    us = self.sizes[key] * self.k // 1024
                    self.clock.advance(us)
                    self.charged_us += us
                    self.loaded[key] = self.clock.ms
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
    """The chip's source (chip.counts): the trace's motion at the chip's
    sample k, 6 int16 counts at 8192 LSB/g and 65.5 LSB/dps, read into the
    chip's array in place (no allocation: the sim shares the firmware's
    heap). The file's rows are the trace on its rate's grid; the chip
    samples that motion at its own ODR (set_pace()): its sample k reads the
    trace at row k * p / q (p / q = the trace's rate / the ODR, reduced),
    between rows j and j + 1 by linear interpolation in integers. An
    MPU-6050 makes the trace's rate exactly (p = q: sample k is row k, the
    counts unchanged); an LSM6DS at 104 Hz or a QMI8658 at 112.1 Hz sees a
    100 Hz trace's motion at its true pace, not 4 or 12 % faster."""

    def __init__(self, path, n, rate):
        import array

        self.f = open(path, "rb")
        self.n = n
        self.rate = rate
        self._rm = int(rate * 1000 + 0.5)  # the trace's rate in mHz
        self.k = -1  # the file row last read
        self.skip = 0  # chip samples that passed while the chip was unplugged or asleep
        # the chip's grid, in clock us since start (an int, allocated only
        # while the chip is away): its sample j at origin + (j + 1) / ODR
        self.origin = 0
        self.onum = 1  # the chip's ODR, num / den Hz (set_pace)
        self.oden = 1
        self.p = 1
        self.q = 1
        self.count = n  # chip samples that read the trace (the last reads row n - 1)
        self._last = -2  # the chip sample last read (skip included)
        self._j = 0  # its row
        self._fr = 0  # and how far towards the next, in q-ths
        self._nb = array.array("h", bytes(12))  # row j + 1
        self._md = array.array("i", bytes(8))  # _muldiv's result

    def _muldiv(self, a, b, c):
        # a * b // c into _md[0], the remainder into _md[1], in small ints
        # (31 bits on a 32-bit port: a * b may not be one)
        md = self._md
        j = 0
        r = 0
        step = (1 << 29) // b
        while a > 0:
            m = a if a < step else step
            x = m * b
            j += x // c
            r += x % c
            if r >= c:
                r -= c
                j += 1
            a -= m
        md[0] = j
        md[1] = r

    def set_pace(self, num, den):
        """The chip samples at num / den Hz (sampling started)."""
        p = self._rm * den
        q = 1000 * num
        a, b = p, q
        while b:
            a, b = b, a % b
        p //= a
        q //= a
        if p >= 1 << 29 or q >= 1 << 29:
            raise ValueError("the trace's rate %g Hz against the chip's %d/%d Hz: no exact ratio" % (
                self.rate, num, den))
        self.onum = num
        self.oden = den
        self.p = p
        self.q = q
        self._last = -2
        # chip samples k with k * p < n * q: ceil(n * q / p)
        self._muldiv(self.n, q, p)
        self.count = self._md[0] + (1 if self._md[1] else 0)

    def chip_index(self, row):
        """The first chip sample at or past the trace's row."""
        self._muldiv(row, self.q, self.p)
        return self._md[0] + (1 if self._md[1] else 0)

    def lost_between(self, a, b):
        # the foot moves on while the sensor is away (unplugged, not sampling)
        # from clock a to b (us since start): the chip's sample slots in
        # (a, b] are lost
        num = self.onum
        d = self.oden * 1000000
        o = self.origin
        self.skip += (b - o) * num // d - (a - o) * num // d

    def _row(self, j, buf):
        if j != self.k + 1:
            self.f.seek(12 * j)
        self.k = j
        self.f.readinto(buf)

    def read(self, k, out):
        k += self.skip
        if k < 0:
            return
        q = self.q
        if k == self._last + 1:
            fr = self._fr + self.p
            j = self._j
            while fr >= q:
                fr -= q
                j += 1
        else:
            self._muldiv(k, self.p, q)
            j = self._md[0]
            fr = self._md[1]
        self._last = k
        self._j = j
        self._fr = fr
        n = self.n
        if j >= n:
            return  # the last row held
        self._row(j, out)
        if fr and j + 1 < n:
            nb = self._nb
            self._row(j + 1, nb)
            # the weight in 2**-14 (q-ths scaled), then each count moved
            # towards the next row's: |d * f| < 2**30, a small int
            f = (fr << 14) // q if q < 1 << 16 else fr // (q >> 14)
            for i in range(6):
                v = out[i]
                out[i] = v + (((nb[i] - v) * f + 8192) >> 14)


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


def clocked_bus(clock, limit, guard):
    """A FakeI2C whose chips are brought to the clock (ticks_us) before
    every transfer, never past the end of the trace (limit: [tick, set],
    the tick of the trace's last sample once it is within reach). While a
    chip is unplugged or not sampling, its trace rows go by unseen (lost).
    Allocates nothing while the chip samples (the sim shares the
    firmware's heap)."""
    from sim.i2cbus import FakeI2C

    class ClockedI2C(FakeI2C):
        def _dev(self, addr):
            t = clock.tus
            if limit[1] and ticks_diff(t, limit[0]) > 0:
                t = limit[0]
            devs = self._devs
            guard.lock()
            try:
                for a in devs:
                    d = devs[a]
                    if ticks_diff(t, d.now_us) > 0 and d._rate is not None:
                        d.advance_to(t)
            except MemoryError as e:
                guard.allocs += 1
                guard.where = e
            finally:
                guard.unlock()
            if guard.allocs:
                raise SimAllocError("the chip emulation allocated")
            for a in devs:
                d = devs[a]
                if ticks_diff(t, d.now_us) > 0:
                    self._away(d, t)  # asleep: not sampling
            gone = self._gone
            for a in gone:
                d = gone[a]
                if ticks_diff(t, d.now_us) > 0:
                    self._away(d, t)
            return FakeI2C._dev(self, addr)

        def _away(self, d, t):
            src = d.counts
            if src is not None:
                # us since start of the chip's last time and of t
                now = clock.ms * 1000 + clock.sub
                src.lost_between(now - ticks_diff(clock.tus, d.now_us), now - ticks_diff(clock.tus, t))
            d.now_us = t

    return ClockedI2C()


class EndClock:
    """The clock the flash stalls advance: not past the end of the trace by
    more than half a sample period, as --stall (Script): the emulated chip
    stops at the trace's last row, a board's chip would not, and a stall
    past the end would show the driver a silent sensor. Allocates nothing
    (the flash's operations run under the guard in --board-heap runs)."""

    def __init__(self, clock, limit, chip):
        self.clock = clock
        self.limit = limit  # [tick, set] (Script)
        self.chip = chip

    def advance(self, us):
        lim = self.limit
        if lim[1]:
            end = lim[0]
            r = self.chip._rate
            if r is not None:
                end = ticks_add(end, r[1] * 500000 // r[0])
            left = ticks_diff(end, self.clock.tus)
            if us > left:
                us = left if left > 0 else 0
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
         "code_adjust": 0, "download": False, "native_sizes": None, "download_to": None,
         "clock_start_ms": 0, "uid": "51a0000000000001", "erase_ms": 45, "raw_kb": -1}
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
                 "clock_start_ms", "erase_ms", "raw_kb"):
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


# what a pass found due (Script._tick -> _act)
_A_HEAP = const(1)
_A_PEAK = const(2)
_A_EVENT = const(4)
_A_PRESS = const(8)
_A_RELEASE = const(16)
_A_END = const(32)


class Script:
    """The runner's hook (App.hook, once a loop pass): stalls, faults,
    button presses, the end of the trace. Allocates nothing on a pass
    (the sim shares the firmware's heap): times are the clock's wrapping
    us ticks (horizons of seconds) or ms since start."""

    def __init__(self, o, clock, bus, chip, button_pin, n, limit, stats, guard):
        import array

        self.guard = guard
        self.flash = None  # sim.flash.SimFlash (--flash): its stalls per loop pass
        self.cost_pass, self.cost_sample = o["cost"][0], o["cost"][1]
        self._charged = 0  # samples charged at their read this pass (charge_samples)
        self.app = None
        self.max_risk = 0  # samples at risk at a power cut, the most seen (risk())
        self._read_charged = 0  # the last read's
        self._seen = 0  # app.samples at the last pass (the cost model)
        self._reads = 0
        self._last_read = -1  # tick (us) of the last FIFO read that brought samples; -1 none yet
        self.stats = stats
        self.grid = None  # (chip produced count, seq) when sampling began
        # due tick of each sample the chip made, by its count (the last 1024)
        self._dues = array.array("i", bytes(4 * 1024))
        self.board_heap = None  # BoardHeap in --board-heap runs
        self.sink = None  # SinkStream in --download runs
        self.tx = None  # TxFaults (--inject txshort@T / txnone@T)
        self.dl = None  # its Download, made before the board's heap
        self.download = None  # the Download while it runs
        self.downloaded = None
        self._tms = clock.ticks_ms  # a bound method made once (no allocation later)
        self._t0 = [0, 0]  # ms, us since start when the trace started
        self.limit = limit
        self.clock = clock
        self.bus = bus
        self.chip = chip
        self.pin = button_pin
        self.n = n
        self.stall_us = o["stall"] * 1000
        self.next_stall = 0  # tick (us) of the next stall
        self.started = False
        self.events = []  # (ms, us, action) since the trace's start, sorted
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
                e = [(t, "unplug"), (t + int(dur * 1000000), "replug")]
            elif kind in ("i2c", "glitch", "txshort", "txnone"):
                e = [(t, kind)]
            else:
                raise ValueError("unknown fault %r (i2c@T, unplug@T+D, glitch@T, txshort@T, txnone@T)" % kind)
            self.events += [(x // 1000, x % 1000, what) for x, what in e]
        self.events.sort()
        self.switch = [int(x) for x in o["switch"].split(",") if x.strip()]
        self.release_at = -1  # tick (us) of the button's release; -1 none
        self.ended = False
        self.keep = o["keep"]
        self.peak = 0
        self._pass = 0
        chip.on_sample = self._due_seen

    def _due_seen(self, k, t):
        self._dues[k & 1023] = t

    def sampling_started(self, imu):
        """App.begin_sampling emptied the FIFO: the trace starts here (row
        0 is the next sample the chip makes)."""
        c = self.chip
        src = c.counts
        if c._rate is None or src is None:
            return
        src.set_pace(c._rate[0], c._rate[1])  # the chip samples the trace at its own ODR
        src.skip = -c.produced
        # the grid: the chip's rate grid at its last sample (us since start)
        src.origin = self.clock.ms * 1000 + self.clock.sub - ticks_diff(self.clock.tus, c.grid_us())
        self.grid = (c.produced, imu.seq)
        if not self.started:
            # faults and stalls are given in trace time: from here; the
            # button presses after trace rows: after the chip's samples
            # that read them
            sw = self.switch
            for i in range(len(sw)):
                sw[i] = src.chip_index(sw[i])
            self.started = True
            self._t0[0] = self.clock.ms
            self._t0[1] = self.clock.sub
            self.next_stall = self._tick_in(1000000)
            from sim import fakemachine

            fakemachine.set_clock(self._tms, self.clock.ticks_ms())  # LED/buzzer stamps: trace time

    def _tick_in(self, us):
        return ticks_add(self.clock.tus, us)

    def sample_due(self, seq):
        """Tick (us) at which the chip made the sample the app calls seq;
        None when that was more than 1024 samples ago."""
        p0, s0 = self.grid
        k = p0 + seq - s0
        if self.chip.produced - k > 1024 or k >= self.chip.produced:
            return None
        return self._dues[k & 1023]

    def risk(self):
        """Samples a power cut now would cost: made by the chip since
        sampling began, not yet in the log at its last sync (measured while
        nothing was lost, at every pass and every flash operation).
        Allocates nothing (it runs inside the flash's operations, under the
        guard in --board-heap runs)."""
        app = self.app
        g = self.grid
        if app is None or g is None or self.ended or app.lost or app.faults:
            return
        log = app.log
        c = self.chip
        if log is None or log.full or c._rate is None:
            return
        # made so far: those the emulation produced, and those due since
        # (the bus brings the chip to the clock at its next transfer only;
        # not past the end of the trace)
        t = self.clock.tus
        lim = self.limit
        if lim[1] and ticks_diff(t, lim[0]) > 0:
            t = lim[0]
        m = 1
        if ticks_diff(t, c.now_us) > 0:
            while ticks_diff(t, c.due_in(m)) >= 0:
                m += 1
        k = c.produced + m - 1 - g[0] - log.durable
        if k > self.max_risk:
            self.max_risk = k

    def charge_samples(self, n):
        """A read brought n samples: the CPU they cost a board, now."""
        self._charged += n
        self._read_charged = n
        self.clock.advance(n * self.cost_sample)

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
                due = self.sample_due(imu.first_seq + i)
                if due is not None:
                    # the cue comes after the read's samples went through:
                    # those charged at the read are on the clock already
                    self.stats.add(1, ticks_diff(self.clock.tus, due) + (n - self._read_charged) * self.cost_sample)
                return

    def __call__(self, app, now):
        # the pass's bookkeeping under the guard (no allocation: in
        # --board-heap runs the heap is locked), then what is due
        g = self.guard
        g.lock()
        try:
            act = self._tick(app)
        except MemoryError as e:
            g.allocs += 1
            g.where = e
        finally:
            g.unlock()
        if g.allocs:
            raise SimAllocError("the runner's bookkeeping allocated")
        if act:
            self._act(app, act)

    def _tick(self, app):
        self._pass += 1
        act = 0
        self.risk()
        if self.flash is not None:
            self.flash.new_pass()
        clock = self.clock
        us = clock.tus
        if app.reads != self._reads:
            self._reads = app.reads
            if app.last_read and not (app.lost or app.faults):
                if self._last_read >= 0:
                    self.stats.add(0, ticks_diff(us, self._last_read))
                self._last_read = us
        bh = self.board_heap
        if bh is not None and clock.ms >= bh.next_ms:
            # about as often as a board's collector runs (the heap fills
            # with garbage in ~20 s at ~100 bytes a sample); each sample
            # collects once, as a failing allocation would
            bh.next_ms = clock.ms + (2000 if self.download is not None else 10000)
            act |= _A_HEAP
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
        clock.advance(self.cost_pass + (k if k > 0 else 0) * self.cost_sample)
        if self._pass & 1023 == 0:
            act |= _A_PEAK
        us = clock.tus
        c = self.chip
        lim = self.limit
        if c._rate is not None and c.counts is not None:
            # the trace ends with its last row: on the chip's sample grid (a
            # power cycle restarts it) the sample that reads row n - 1;
            # known once it is near (a due time further than 2**29 us away
            # is not a tick)
            left = c.counts.count - c.produced - c.counts.skip
            if left <= 4096:
                lim[0] = c.due_in(left)
                lim[1] = 1
            else:
                lim[1] = 0
        if self.stall_us and ticks_diff(us, self.next_stall) >= 0 and not (lim[1] and ticks_diff(us, lim[0]) >= 0):
            self.next_stall = ticks_add(self.next_stall, 1000000)
            # the loop is stuck; the FIFO fills. Not past the end of the
            # trace by more than half a period: the chip stops there
            # (clocked_bus), the board's clock would not, and the driver
            # counts lost samples by that clock (rounded to whole periods:
            # mid-way between samples it is exact).
            st = self.stall_us
            if lim[1]:
                end = lim[0]
                if c._rate is not None:
                    end = ticks_add(end, c._rate[1] * 500000 // c._rate[0])
                if ticks_diff(end, us) < st:
                    st = ticks_diff(end, us)
            clock.advance(st)
        ev = self.events
        if ev and self.started:
            # ms, us since the trace started (events are in trace time)
            tm = clock.ms - self._t0[0]
            tu = clock.sub - self._t0[1]
            if tu < 0:
                tm -= 1
                tu += 1000
            if tm > ev[0][0] or (tm == ev[0][0] and tu >= ev[0][1]):
                act |= _A_EVENT
        if self.release_at >= 0 and ticks_diff(us, self.release_at) >= 0:
            act |= _A_RELEASE
        elif self.switch and app.samples >= self.switch[0] and self.release_at < 0:
            act |= _A_PRESS
        lk = app.link
        if lk is not None and getattr(lk.stream, "eof", False):
            app.stop_loop()  # the serial port closed: nobody is there any more
        if not self.ended and lim[1] and ticks_diff(us, lim[0]) >= 0 and app.last_read == 0 and app.sensor_ok:
            act |= _A_END
        return act

    def _act(self, app, act):
        # what may allocate: the heap's measurement, faults, the button,
        # the end of the trace (rare, and none of it on a board's heap but
        # the firmware's own work)
        clock = self.clock
        us = clock.tus
        if act & _A_HEAP:
            bh = self.board_heap
            if bh.native is not None:
                bh.native.sweep()
            bh.sample(clock.ms)
        if act & _A_PEAK:
            # live data: what is still in use after a collection
            import gc

            gc.collect()
            m = gc.mem_alloc()
            if m > self.peak:
                self.peak = m
        if act & _A_EVENT:
            ev = self.events
            what = ev.pop(0)[2]
            if what == "unplug":
                self.bus.unplug(self.chip.addr)
            elif what == "replug":
                self.bus.replug(self.chip.addr, power_cycle=True)
            elif what == "i2c":
                self.bus.fail_next(3)
            elif what == "glitch":
                self.chip.glitch(0x72, 0x1F, 2)
            elif what in ("txshort", "txnone"):
                self.tx.arm(what)  # the serial port's next write
        if act & _A_RELEASE:
            self.release_at = -1
            self.pin.set_input(1)
        elif act & _A_PRESS:
            self.switch.pop(0)
            self.pin.set_input(0)
            self.release_at = ticks_add(us, 200000)  # a 200 ms press: "short"
        if act & _A_END:
            self.ended = True
            if self.flash is not None:
                self.flash.new_pass()  # the loop's stalls end here (not the session's close)
                self.flash.sampling = False
            app.sampling = False
            if app.running:
                app.stop()
            if self.dl is not None:
                self.dl.begin(app)  # as a host would, over the link
                self.download = self.dl
            elif not self.keep:
                app.stop_loop()
            else:
                self.clock.set_speed(1.0)  # an idle device: real time at most


class SimAllocError(Exception):
    """The sim's own work allocated in the board's heap (--board-heap):
    its figures would not be the firmware's. Ends the run (exit 1)."""


class Guard:
    """The sim's own per-pass work (the chip, the bus clocking, the
    runner's bookkeeping) runs between lock() and unlock(): in
    --board-heap runs micropython.heap_lock(), so an allocation there (the
    sim's object in the board's heap) fails, and the run stops with
    SimAllocError (allocs counts it; sim: ram ... sim_allocs=0 says none
    tried). Otherwise no-ops."""

    def __init__(self, on):
        self.allocs = 0
        self.where = None  # the MemoryError (its traceback says where)
        self.on = False
        if on:
            import micropython

            if hasattr(micropython, "heap_lock"):
                self.on = True
                self._lock = micropython.heap_lock
                self._unlock = micropython.heap_unlock

    def lock(self):
        if self.on:
            self._lock()

    def unlock(self):
        if self.on:
            self._unlock()


class BoardHeap:
    """--board-heap BYTES: one heap for the firmware's code and data, the
    board's size. The unix port starts with a larger heap; once the sim's
    own objects exist (chip emulation, sample file, these helpers and
    their buffers), fill() sets aside one contiguous block of BYTES -
    --board-base (what the board's runtime holds before main.py) +
    --code-adjust, fills every other free byte with ballast (the holes
    among the sim's objects too) and frees the block: the firmware's
    modules then load, as on a board, into one free region of the board's
    size, and every allocation, code or data, competes for it. The sim's
    own work allocates nothing after that (tests/host/test_board_ram.py).

    largest_free(): the largest block an allocation can get now, after a
    collection (MicroPython collects and retries before it fails): a binary
    search over bytearray sizes. min_free_block keeps the smallest seen."""

    def __init__(self, o):
        self.target = o["board_heap"] - o["board_base"] + o["code_adjust"]
        self.ballast = []
        self.min_free_block = (1 << 30) - 1
        self.next_ms = 0
        self.native = None  # NativeHeap
        self.min_at_ms = 0
        self.after_boot_used = 0
        self.after_boot_largest = 0
        self.free_at_start = 0
        import os

        self.dump = bool(os.getenv("HEELDROP_HEAP_MAP"))

    def fill(self):
        import gc

        gc.collect()
        if gc.mem_free() < self.target + 4096:
            raise ValueError("--board-heap: the port's heap is %d bytes short: start micropython with a larger "
                             "-X heapsize" % (self.target + 4096 - gc.mem_free()))
        board = bytearray(self.target)  # the board's heap, one block: first fit, above the sim's objects
        self.ballast = fill_free_heap()
        board = None
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
        gc.collect()
        return lo

    def sample(self, now_ms):
        f = self.largest_free()
        if f < self.min_free_block:
            self.min_free_block = f
            self.min_at_ms = now_ms
            if self.dump:
                self.map("min %d at %d ms" % (f, now_ms))
        return f

    def map(self, what):
        # HEELDROP_HEAP_MAP=1: the heap's block map where a new minimum of
        # the largest free block is seen (the first: after boot), printed by
        # micropython.mem_info(1) (no allocation): 16 bytes a character, "."
        # free, "h" and a letter an object's head (T tuple, L list, D dict,
        # S str, A array, F float, B function, M module), "=" its tail;
        # `python -m heeldrop.bench_heapmap OUTPUT` lists the free runs
        import micropython

        sys.stdout.write("sim: heapmap %s\n" % what)
        micropython.mem_info(1)


class SinkStream:
    """The serial port in --board-heap --download runs: the runner writes
    commands into it as a host would (feed) and keeps what the device
    sends in a file (--download-to), counting CHUNK and REPLY frames by
    their type byte; the file is decoded after the run (check()). A
    host's work is not in a board's heap: nothing here allocates."""

    eof = False

    def __init__(self, path):
        self.inbox = bytearray(256)
        self.n_in = 0
        self.out_bytes = 0
        self.chunks = 0
        self.replies = 0
        self.counting = False
        self.path = path
        self.f = open(path, "wb")
        self.chunk_bytes = 0
        self.errors = 0

    def feed(self, frame, n):
        ib = self.inbox
        k = self.n_in
        for i in range(n):
            ib[k + i] = frame[i]
        self.n_in = k + n

    def read_into(self, buf):
        n = self.n_in
        if n > len(buf):
            n = len(buf)
        ib = self.inbox
        for i in range(n):
            buf[i] = ib[i]
        left = self.n_in - n
        for i in range(left):
            ib[i] = ib[n + i]
        self.n_in = left
        return n

    def write(self, data):
        n = len(data)
        self.out_bytes += n
        self.f.write(data)
        if self.counting and n > 3 and data[0] == 0xC0:
            # one frame a write (link.Link.send): SOF, the version (0x01:
            # escaped as 0xDB 0x21), the type
            t = data[3] if data[1] == 0xDB else data[2]
            if t == 0x12:  # T_CHUNK
                self.chunks += 1
            elif t == 0x11:  # T_REPLY: read_session answers with one only on error
                self.replies += 1
        return n

    def check(self, sid, total, session_path):
        """After the run: the CHUNK frames decoded, checked (CRC-32) and
        compared with the session file, piece by piece; all of it, in
        order, equal? Sets chunk_bytes and errors."""
        from heelcore import proto

        self.f.close()
        got = 0
        dec = proto.FrameDecoder()
        # session_path: the session file, or an object with read(n) (a
        # session in the raw log region: _StoreReader)
        sfile = open(session_path, "rb") if isinstance(session_path, str) else session_path
        with open(self.path, "rb") as f, sfile as sf:
            while True:
                data = f.read(4096)
                if not data:
                    break
                for fr in dec.feed(data):
                    if fr.type == proto.T_CHUNK:
                        c = proto.parse_chunk(fr.payload)
                        if c["ok"] and c["session"] == sid and c["offset"] == got and sf.read(len(c["data"])) == c["data"]:
                            got += len(c["data"])
                        else:
                            self.errors += 1
                    elif fr.type == proto.T_REPLY and proto.parse_reply(fr.payload)[1] != proto.OK:
                        self.errors += 1
            rest = sf.read(1)
        self.chunk_bytes = got
        return got == total and not rest and not self.errors


class Download:
    """After the trace: download the session over the link in 1024-byte
    pieces, one command after each answer, as `heeldrop download` does.
    Made before the board's heap (the host's buffers are not the
    board's); the command is a fixed-size template (numbers right-aligned:
    JSON allows the spaces) filled in place, framed by the firmware's own
    heelcore.proto (loaded by then): nothing allocated per request."""

    W = 10  # digits of the id and offset fields
    LN = 1024  # heelcore.proto.MAX_CHUNK
    NAME = b"read_session"

    def __init__(self, stream):
        self.stream = stream
        self.app = None
        self.proto = None
        self.sid = None
        self.total = 0
        self.off = 0
        self.req = 1
        self.waiting = False
        self.done = False
        sp = b" " * self.W
        args = b'{"id": ' + sp + b', "offset": ' + sp + (', "length": %d}' % self.LN).encode()
        head = 3 + len(self.NAME)
        self.cmd = bytearray(head + len(args))  # CMD: u16 request id, u8 name length, name, JSON args
        self.cmd[2] = len(self.NAME)
        self.cmd[3:head] = self.NAME
        self.cmd[head:] = args
        self.at_id = head + 7
        self.at_off = head + 7 + self.W + 12
        self.out = bytearray(1 + 2 * (6 + len(self.cmd) + 2))  # proto.max_frame_size

    def begin(self, app):
        import sys

        self.app = app
        self.proto = sys.modules["heelcore.proto"]  # the firmware's, loaded by its link
        self.sid = app.last_stop.get("session") if app.last_stop else None
        self.total = app.store.size(self.sid) if self.sid is not None else 0
        self.done = self.sid is None
        self._digits(self.at_id, self.sid or 0)
        self.stream.counting = True

    def _digits(self, at, v):
        c = self.cmd
        for i in range(self.W - 1, -1, -1):
            c[at + i] = 0x30 + v % 10 if (v or i == self.W - 1) else 0x20
            v //= 10

    def step(self):
        st = self.stream
        if self.waiting:
            if st.chunks + st.replies < self.req - 1:
                return
            self.waiting = False
            if st.replies:
                self.done = True
                return
        if self.off >= self.total and self.off > 0:
            self.done = True
            return
        p = self.proto
        c = self.cmd
        c[0] = self.req & 0xFF
        c[1] = (self.req >> 8) & 0xFF
        self._digits(self.at_off, self.off)
        n = p.encode_frame(p.T_CMD, self.req & 0xFF, c, self.out)
        st.feed(self.out, n)
        self.off += self.LN
        self.req += 1
        self.waiting = True


class Marks:
    """What the runner learns from the firmware as it runs: the FIFO
    (re)started (the trace's grid), an event's cue (its latency). Put
    around imu.restart and cues.on_engine_event on their classes, so the
    firmware's objects get no new attribute; made before the board's
    heap."""

    def __init__(self, sc):
        self.sc = sc
        self.app = None
        self.restart = None  # the driver class's own restart
        self.cue = None  # Cues.on_engine_event
        self.read = None  # the driver class's own read_fifo
        self.on_restart = _RestartMark(self)
        self.on_cue = _CueMark(self)
        self.on_read = _ReadMark(self)

    def attach(self, app):
        self.app = app
        imu = app.imu
        if imu is not None:
            cls = type(imu)
            self.restart = cls.restart
            cls.restart = self.on_restart
            self.read = cls.read_fifo
            cls.read_fifo = self.on_read
        cls = type(app.cues)
        self.cue = cls.on_engine_event
        cls.on_engine_event = self.on_cue


class _RestartMark:
    def __init__(self, m):
        self.m = m

    def __call__(self):
        m = self.m
        imu = m.app.imu
        m.restart(imu)
        m.sc.sampling_started(imu)


class _ReadMark:
    # the CPU a board spends on a read's samples (the I2C read, the engine,
    # the log, the link) is spent at the read, before the pass goes on: a
    # flash write later in the pass stalls after it
    def __init__(self, m):
        self.m = m

    def __call__(self, buf, maxn):
        m = self.m
        n = m.read(m.app.imu, buf, maxn)
        if n:
            m.sc.charge_samples(n)
        return n


class _CueMark:
    def __init__(self, m):
        self.m = m

    def __call__(self, ev, now):
        m = self.m
        m.sc.cue_seen(m.app, ev)
        m.cue(m.app.cues, ev, now)


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
        self.sum_ms = [0, 0]  # sums as ms + us (small ints: no allocation)
        self.sum_us = [0, 0]

    def mean(self, kind):
        c = self.count[kind]
        return (self.sum_ms[kind] * 1000 + self.sum_us[kind]) / c / 1000 if c else -1

    def add(self, kind, us):
        s = self.sum_us[kind] + us
        if s >= 1000 or s < 0:
            self.sum_ms[kind] += s // 1000
            s %= 1000
        self.sum_us[kind] = s
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


def fill_free_heap():
    """Every free byte taken by ballast blocks, largest first (64 KB halving
    down to 16 bytes, at most 4096 of them); returns the list that keeps
    them alive."""
    slots = [None] * 4096
    i = 0
    size = 1 << 16
    while size >= 16 and i < len(slots):
        try:
            slots[i] = bytearray(size)
            i += 1
        except MemoryError:
            size //= 2
    return slots


def reserve_heap(budget):
    """Before the code is loaded: set budget bytes aside in one block."""
    _reserve.append(bytearray(budget))


def limit_heap():
    """After the code is loaded: fill every other free byte with ballast,
    then free the reserved block, so the data heap is that one block."""
    import gc

    gc.collect()
    _ballast.append(fill_free_heap())
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
        return len(data)


class TxFaults:
    """--inject txshort@T / txnone@T: the serial port's first write at or
    after trace time T sends the first half of its bytes and returns that
    count (a board's USB CDC write that gave up on a host that does not
    read: MICROPY_HW_USB_CDC_TX_TIMEOUT), or sends nothing and returns
    None (a non-blocking write that would block). Made before the board's
    heap (--board-heap) and only when such faults are injected; the stream
    it wraps (s) is the board's, set when the link is made. A write with
    nothing armed allocates nothing."""

    def __init__(self):
        self.s = None
        self.q = 0  # the writes armed, oldest in bit 0: 1 txnone, 0 txshort
        self.nq = 0  # how many (small ints: arming allocates nothing)
        self.cut = 0  # writes cut so far
        self.cut_bytes = 0  # bytes they did not send

    def arm(self, kind):
        if self.nq < 30:
            self.q |= (1 if kind == "txnone" else 0) << self.nq
            self.nq += 1

    @property
    def eof(self):
        return self.s.eof

    def read_into(self, buf):
        return self.s.read_into(buf)

    def write(self, data):
        if not self.nq:
            return self.s.write(data)
        none = self.q & 1
        self.q >>= 1
        self.nq -= 1
        n = len(data)
        self.cut += 1
        if none:
            self.cut_bytes += n
            return None
        k = self.s.write(data[:n // 2])
        k = k or 0
        self.cut_bytes += n - k
        return k


class _StoreReader:
    """A session read from the store as a file is (read(n), a context
    manager): for a session in the raw log region, which has no path."""

    def __init__(self, store, sid):
        self.store = store
        self.sid = sid
        self.pos = 0

    def read(self, n):
        b = self.store.read_chunk(self.sid, self.pos, n)
        self.pos += len(b)
        return b

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _logged_bytes(store):
    # bytes of the store's session logs (files or the raw log)
    n = 0
    if store is None:
        return 0
    try:
        for s in store.list():
            n += s["size"]
    except OSError:
        pass
    return n


def sim_flash(o, clock):
    """--flash DIR: the board's flash, littlefs over the Pico's flash
    geometry in the image DIR/flash.img (sim/flash.py: programs and erases
    counted, their stalls on the clock). The SimFlash is the sim's own
    object, made before the board's heap (--board-heap); mount_flash()
    mounts it. None without --flash."""
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
    return SimFlash(flash + "/flash.img", blocks, clock, o["erase_ms"] * 1000, 400 if o["erase_ms"] else 0)


def mount_flash(fl, raw_kb=0):
    """Mount the flash at /flash (formatted first if new, as a board's
    first boot does) and make it the current folder, as a board's / is.
    In --board-heap runs after the board's heap is set: littlefs's objects
    (the filesystem, its caches) are in the board's heap, as a board's
    runtime mounts its flash there before main.py runs."""
    import os

    fl.mount(FLASH, raw_kb // 4 if raw_kb >= 0 else -1)  # -1: the frozen build's layout (flashboot.py)
    os.chdir(FLASH)


FLASH = "/flash"  # where the sim mounts the board's flash


def open_store(o, fl, os_stub):
    """The session store on the mounted flash (None without one); os_stub:
    the OsNoSync made before the board's heap."""
    if fl is None:
        return None
    import os

    import logstore
    from logstore import SessionStore

    logstore.os = os_stub
    # logging stops with 32 KB left, as on a board (app.run()); less on a
    # small image (--flash-kb: an eighth of it, at least 8 KB)
    total = fl.blocks * 4096
    reserve = 32 * 1024 if total >= 256 * 1024 else max(8 * 1024, total // 8)
    # as app.run(): the boot module imported to look for the raw log region
    # (on the .mpy route too: it is one of the board files), then unloaded
    raw = None
    try:
        import flashboot
    except ImportError:  # --from-flash with a firmware that has none
        flashboot = None
    if flashboot is not None:
        import sys

        if fl.raw is not None:  # the image has a raw log region: new sessions go there
            raw = flashboot.open_raw(fl.raw)
        flashboot = None
        sys.modules.pop("flashboot", None)
    return SessionStore(FLASH + "/sessions", reserve, os.statvfs, device_id=o["uid"], raw=raw)


def _load_ticks():
    global ticks_add, ticks_diff
    from heelcore import ticks

    ticks_add = ticks.ticks_add
    ticks_diff = ticks.ticks_diff


def main(argv):
    o = parse_args(argv)
    import gc
    import os

    clock = VirtualClock(o["speed"], o["clock_start_ms"])
    simflash = sim_flash(o, clock)
    mounted = False
    if simflash is not None and not o["board_heap"]:
        mount_flash(simflash, o["raw_kb"])  # before the firmware (--from-flash) is imported from it
        mounted = True
    try:
        _load_ticks()
    except ImportError:
        if simflash is None or mounted:
            raise
        # --board-heap with --from-flash: heelcore is on the flash, which
        # is then mounted before the board's heap (littlefs's objects are
        # the sim's, not in the board's heap)
        mount_flash(simflash, o["raw_kb"])
        mounted = True
        _load_ticks()
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
        from drivers import lsm6ds3 as _l, lsm6dsox as _x, mpu6050 as _m, qmi8658 as _q  # noqa: F401
        from heelcore import proto as _proto, record as _record  # noqa: F401
    from sim import chips as _chips, fakemachine  # noqa: F401

    stats = TimingStats()
    n = o["n"]
    limit = [0, 0]  # the tick of the trace's last sample; set (1) once known
    guard = Guard(ram)
    clock_bus = clocked_bus(clock, limit, guard)
    chip = make_chip(o["imu"])
    chip.now_us = clock.tus  # powered on with the board
    chip.counts = Samples(o["samples"], n, o["rate"])
    clock_bus.attach(chip)
    if simflash is not None:
        simflash.clock = EndClock(clock, limit, chip)
        simflash.guard = guard
    out = sys.stdout
    serial = o["serial"] == "stdio"
    if serial:
        out = sys.stderr  # stdout carries the protocol

    def emit(line):
        if not o["quiet"]:
            out.write(line + "\n")

    logged0 = [0]
    os_stub = OsNoSync()

    def store():
        if o["startup_ms"]:
            clock.advance(o["startup_ms"] * 1000)  # injected start-up work
        st = open_store(o, simflash, os_stub)
        if st is not None:  # what the sessions held before this boot's session
            logged0[0] = _logged_bytes(st)
        return st

    sink = None
    if ram and o["download"] and not serial:
        sink = SinkStream(o["download_to"] or "download.bin")

    # --inject txshort@T / txnone@T: the port's writes cut (made here, not
    # in the board's heap)
    tx = TxFaults() if ("txshort" in o["inject"] or "txnone" in o["inject"]) else None

    def stream(lk):
        if sink is not None:
            s = sink
        else:
            s = lk.StdioStream() if serial else NullStream()
        if tx is None:
            return s
        tx.s = s
        return tx

    # the sim's own objects before the board's heap is set (--board-heap):
    # none of them lands in it
    sc = Script(o, clock, clock_bus, chip, None, n, limit, stats, guard)
    sc.sink = sink
    sc.tx = tx
    sc.dl = Download(sink) if sink is not None else None
    marks = Marks(sc)
    tms = clock.ticks_ms
    if ram:
        board_heap.fill()  # the rest of the heap is the board's
        if simflash is not None and not mounted:
            mount_flash(simflash, o["raw_kb"])  # before the firmware is imported
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

    fakemachine.set_clock(tms, 0)
    fakemachine.set_output(False if o["quiet"] else emit)
    bus = clock_bus
    parts = simboard.build(i2c=bus)
    if ram:
        # the board file leaves the heap once the pin map is built, as
        # app.run() drops it on a board
        del simboard
        appmod._unload(("boards.sim", "boards"), None)
    rate = o["rate"]
    a = appmod.boot("sim", parts, clock, FLASH + "/heeldrop.json" if simflash is not None else None, store, stream,
                    int(rate) if rate == int(rate) else rate, o["side"])
    if not serial:
        for p in a.config_problems:
            out.write("sim: config: %s\n" % p)
    sc.pin = parts[3]
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
        board_heap.after_boot_largest = board_heap.sample(clock.ms)
        sc.board_heap = board_heap
    # the trace starts when the app starts sampling (App.begin_sampling,
    # and again at each recovery: the driver's restart); a read's samples
    # cost their CPU at the read
    marks.attach(a)
    if a.imu is not None:
        sc.sampling_started(a.imu)
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
        if ram:
            # the last measurement before the sim's own output (its
            # strings are the sim's, not the board's)
            board_heap.sample(clock.ms)
    except KeyboardInterrupt:
        out.write("sim: stopped by Ctrl-C\n")
        return 0
    except SimAllocError as e:
        if guard.where is not None:
            sys.print_exception(guard.where)
        sys.stderr.write("sim: error: %s in the board's heap (--board-ram figures would not be the firmware's); "
                         "a bug in firmware/sim\n" % e)
        return 1
    eng = a.eng
    res = a.last_stop or {}
    out.write("sim: end samples=%d lost=%d gaps=%d faults=%d session=%s reps=%d t_ms=%d engine_errors=%d\n" % (
        a.samples, a.lost, a.gaps, a.faults, res.get("session"), eng.rep if eng else 0, clock.ms - o["clock_start_ms"],
        a.engine_errors))
    out.write("sim: heap code_bytes=%d data_live_peak_bytes=%d data_heap=%d\n" % (
        code_bytes, sc.peak - base, o["data_heap"]))
    if tx is not None:
        out.write("sim: tx cut_writes=%d cut_bytes=%d armed_left=%d\n" % (tx.cut, tx.cut_bytes, tx.nq))
    if simflash is not None:
        c = simflash.counts()
        rate = sc.chip._rate
        out.write("sim: flash logged_bytes=%d program_bytes=%d erase_bytes=%d erases=%d stall_ms=%d max_stall_ms=%d "
                  "max_pass_stall_ms=%d at_risk_ms=%d program_span_bytes=%d reprogram_bytes=%d\n"
                  % (_logged_bytes(a.store) - logged0[0], c["program_bytes"], c["erase_bytes"],
                     c["erases"], c["stall_us"] // 1000, c["max_stall_us"] // 1000, c["max_pass_stall_us"] // 1000,
                     sc.max_risk * rate[1] * 1000 // rate[0] if rate else -1, c["program_span_bytes"],
                     c["reprogram_bytes"]))
    if ram:
        dl = sc.downloaded
        ok = 0
        if sink is not None and dl is not None and dl.done:
            board_heap.ballast.clear()  # the measurement is over: room for the host's check

            src = _StoreReader(a.store, dl.sid) if a.store._raw_of(dl.sid) is not None else a.store._path(dl.sid)
            ok = 1 if sink.check(dl.sid, dl.total, src) else 0
        out.write("sim: ram board_heap=%d board_base=%d code_adjust=%d free_at_start=%d after_boot_used=%d "
                  "after_boot_largest_free_block=%d "
                  "min_largest_free_block=%d min_at_s=%.1f download_bytes=%d download_ok=%d native_code_bytes=%d "
                  "sim_allocs=%d\n" % (
                      o["board_heap"], o["board_base"], o["code_adjust"], board_heap.free_at_start,
                      board_heap.after_boot_used, board_heap.after_boot_largest, board_heap.min_free_block, (board_heap.min_at_ms - o["clock_start_ms"]) / 1e3,
                      sink.chunk_bytes if sink else 0, ok,
                      native.total if native is not None else 0, guard.allocs))
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
