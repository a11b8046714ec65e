# IMU driver base class, shared FIFO bookkeeping and probe().
#
# Runs unchanged on MicroPython (boards, unix port) and CPython (tests).
# Imports only array/gc/micropython (heelcore.mpcompat on CPython): never
# machine or time. The bus is injected and duck-typed (readfrom_mem_into,
# writeto_mem: machine.I2C, machine.SoftI2C or firmware/sim/i2cbus.FakeI2C);
# so is the optional clock
# (a function returning microseconds that wrap like time.ticks_us, e.g.
# clock_us=time.ticks_us on the board).
#
#   from drivers import probe
#   imu = probe(i2c, clock_us=time.ticks_us)
#   imu.configure(100)                     # rate_hz -> nearest ODR, FIFO on
#   buf = array.array("h", bytearray(2 * 6 * 32))
#   n = imu.read_fifo(buf, 32)             # raw counts ax ay az gx gy gz
#   ax_g = buf[0] / imu.accel_lsb_per_g    # g; gyro: / imu.gyro_lsb_per_dps
#   gap = imu.take_gap()                   # samples lost since last call
#
# Sample accounting (never silent):
#   seq        samples the chip produced since configure(), lost ones included
#   first_seq  sequence number of buf[0:6] after the last read_fifo()
#   lost       samples lost in total (overflow, I2C error, unplug)
#   overflows  FIFO overflow events seen
#   take_gap() samples lost since the previous take_gap() (0 if none)
# After read_fifo() returns n, the samples have sequence numbers
# first_seq .. first_seq + n - 1 and seq == first_seq + n. Lost samples sit
# before first_seq (a jump from the previous read's last number).
#
# Error policy: I2C errors propagate as OSError (the app turns them into a
# gap and a cue). After an error the FIFO content cannot be trusted (a burst
# may have stopped mid-frame), so the next read_fifo() flushes it first and
# books what was in it as lost. After the sensor came back (replugged,
# brown-out), recover() re-reads WHO_AM_I, re-applies the configuration and
# books the samples missed meanwhile. On FIFO overflow the content is
# discarded (an overwritten FIFO is misaligned on the MPU-6050 and stale on
# all chips) and everything since the last good read is booked as lost.
#
# Bus time per read_fifo at 400 kHz (~22.5 us a byte): a few status bytes
# plus 12 B a sample (14 B on the LSM6DSOX): ~0.3 ms a sample, so the
# app's read of 10 samples every 100 ms (at 100 Hz) costs ~3 ms; a 150 ms
# stall at 200 Hz (30 samples) ~9 ms. Give read_fifo a buffer of >= 64 samples (6 * 64 int16 =
# 768 B) so one call drains what a 150 ms stall leaves at 200+ Hz.
#
# Lost counts come from the elapsed time on clock_us (exact when the sensor
# clock matches the MCU clock; off by the ODR tolerance, about 1 % for long
# gaps) or, on the QMI8658, from its on-chip sample counter. Without a clock
# the driver still reports every gap, with a lower bound as the count
# (capacity + 1 for an overflow, 1 for an error).

import array
import gc

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr8, ptr16


_CHUNK = const(16)  # most samples per I2C burst (a read of n <= 16 is one burst)
_STALE_MIN = const(4)  # min periods without any sample => sensor stopped
_EIO = const(5)
_ENODEV = const(19)


class IMUError(OSError):
    """A sensor problem that is not a plain bus error: unknown chip,
    sensor stopped producing samples, command timeout."""


@micropython.viper
def _unpack(srcb, k: int, dstb, o: int, big: int, swap: int):
    # k FIFO frames of six int16 words (12 bytes each) from srcb into
    # dstb[o:o + 6 * k] (array('h')) as ax ay az gx gy gz. big: big-endian
    # words (else little-endian); swap: a frame holds gx gy gz, then ax ay az.
    # Viper (plain Python on CPython): ~40x the interpreted loop.
    s = ptr8(srcb)
    d = ptr16(dstb)
    j = 0
    e = o + 6 * k
    while o < e:
        m = 0
        while m < 6:
            w = m
            if swap:
                w = m + 3
                if w >= 6:
                    w -= 6
            jj = j + 2 * w
            if big:
                v = (int(s[jj]) << 8) | int(s[jj + 1])
            else:
                v = int(s[jj]) | (int(s[jj + 1]) << 8)
            if v >= 32768:
                v -= 65536
            d[o + m] = v
            m += 1
        o += 6
        j += 12


def _wrap_diff(a, b):
    # a - b for tick values that wrap at 2**30 (time.ticks_us on every port),
    # written so every intermediate stays a small int on 32-bit ports.
    d = (a - b) & 0x3FFFFFFF
    if d >= 0x20000000:
        d = d - 0x20000000 - 0x20000000
    return d


class IMU:
    """Base class. Subclasses set the chip constants and implement
    _setup(), _fifo_reset(), _read()."""

    name = "imu"
    FRAME = 12  # bytes per whole sample as read from the FIFO
    FIFO_SAMPLES = 0  # capacity in whole samples

    def __init__(self, bus, addr, whoami=None, clock_us=None):
        self.bus = bus
        self.addr = addr
        self.whoami = whoami
        self.clock_us = clock_us
        self.rate_hz = 0.0  # actual ODR, Hz
        self.accel_lsb_per_g = 0.0  # counts per g
        self.gyro_lsb_per_dps = 0.0  # counts per degree/s
        self.accel_range_g = 0
        self.gyro_range_dps = 0
        self.seq = 0
        self.first_seq = 0
        self.lost = 0
        self.overflows = 0
        self.errors = 0
        self.recoveries = 0
        self._gap = 0
        self._num = 0  # ODR = _num / _den Hz, exactly as the chip derives it
        self._den = 1
        self._stale_us = 0
        self._t_last = 0  # clock when the FIFO last held data we accounted for
        self.t_start_us = 0  # clock_us when configure()/restart() emptied the FIFO: sample 0's origin
        self._tc = 0  # the clock as _check() read it
        self._period_us = 0
        self._left = 0  # whole samples left in the FIFO by the last read
        self._dirty = False  # FIFO content untrusted (after an error)
        self._cfg = None
        self._b1 = bytearray(1)
        self._b2 = bytearray(2)
        self._b4 = bytearray(4)
        self._buf = bytearray(_CHUNK * self.FRAME)
        # Preallocated views for bursts of 1..16 samples (_views[k - 1]):
        # slicing a memoryview allocates, so it is done once here.
        mv = memoryview(self._buf)
        self._views = [mv[0 : k * self.FRAME] for k in range(1, _CHUNK + 1)]

    # -- register helpers (allocation-free: the QMI8658 writes in read_fifo)
    def _w(self, reg, val):
        self._b1[0] = val & 0xFF
        self.bus.writeto_mem(self.addr, reg, self._b1)

    def _r(self, reg):
        self.bus.readfrom_mem_into(self.addr, reg, self._b1)
        return self._b1[0]

    def _now(self):
        c = self.clock_us
        return c() if c is not None else 0

    def _periods(self, now):
        """Whole sample periods between the last good read and now (rounded);
        None without a clock. Error paths only: the products here leave the
        small-int range of 32-bit ports (a few bytes of heap)."""
        if self.clock_us is None:
            return None
        dt = _wrap_diff(now, self._t_last)
        if dt <= 0:
            return 0
        d = self._den * 1000000
        return (dt * self._num * 2 + d) // (2 * d)

    def _set_rate(self, num, den):
        self._num = num
        self._den = den
        self.rate_hz = num / den
        self._period_us = den * 1000000 // num
        # 250 ms (and at least _STALE_MIN periods) without a single sample
        # means the sensor stopped (reset, brown-out, asleep): longer than
        # the app's longest read period (100 ms), so one read that finds the
        # FIFO empty is not yet a fault.
        s = _STALE_MIN * 1000000 * den // num
        self._stale_us = s if s > 250000 else 250000

    # -- public API --------------------------------------------------------
    def configure(self, rate_hz, accel_range_g=4, gyro_range_dps=500):
        """Set the nearest supported ODR (rate_hz, Hz), the smallest ranges
        covering accel_range_g (g) and gyro_range_dps (deg/s), the chip's low
        pass filter (about 20-44 Hz where it has one), the FIFO for accel +
        gyro, and reset the FIFO. Restarts the sample counters."""
        self._cfg = (rate_hz, accel_range_g, gyro_range_dps)
        self._setup(rate_hz, accel_range_g, gyro_range_dps)
        self._fifo_reset()
        self._t_last = self.t_start_us = self._now()
        self._left = 0
        self._dirty = False
        self.seq = 0
        self.first_seq = 0
        self.lost = 0
        self.overflows = 0
        self._gap = 0

    def restart(self):
        """Empty the FIFO and count from now on, keeping seq: for a caller
        that did other work since configure() (a board's start-up: imports,
        opening the session store) and would otherwise find the FIFO full
        of samples from before it was ready, or overflowed. The next sample
        is seq, one period after t_start_us. Raises OSError if the sensor
        does not answer."""
        self._fifo_reset()
        self._t_last = self.t_start_us = self._now()
        self._left = 0
        self._dirty = False

    def take_gap(self):
        """Number of samples lost since the previous call (0 if none)."""
        g = self._gap
        self._gap = 0
        return g

    @micropython.native
    def read_fifo(self, buf_counts, max_samples):
        """Drain up to max_samples whole samples from the FIFO into
        buf_counts (array('h') of at least 6 * max_samples: ax, ay, az, gx,
        gy, gz raw counts per sample, sensor axes). Returns the count.
        Allocation-free on the steady path. Raises OSError on bus errors and
        IMUError when the sensor stopped producing samples."""
        try:
            if self._dirty:
                self._discard(False)
            n = self._read(buf_counts, max_samples)
        except OSError as e:
            self._dirty = True
            self.errors += 1
            raise e  # (a bare raise is not native code)
        self.first_seq = self.seq
        self.seq += n
        return n

    def recover(self):
        """Call after the sensor came back (read_fifo raised OSError): checks
        WHO_AM_I at the same address, re-applies the configuration, resets
        the FIFO and books the samples missed meanwhile as a gap, keeping
        seq continuous. Raises OSError while the sensor is still absent."""
        who = self._read_whoami()
        if who != self.whoami:
            raise IMUError(
                _ENODEV, "%s gone: WHO_AM_I 0x%02x at 0x%02x" % (self.name, who, self.addr)
            )
        now = self._now()
        p = self._periods(now)
        missed = self._left + (p if p is not None else 1)
        # The samples since the last good read are in the FIFO (the chip
        # sampled on through a bus error): its level, read before the
        # configuration stops the FIFO, counts them exactly where the clock
        # can only round (a fault comes at any phase of the sample period:
        # one too many or too few, every few faults). The clock's count
        # stays when the chip cannot tell (overflowed, no level) or tells
        # something else (a power cycle emptied it).
        k = self._level()
        if k >= 0 and (p is None or -1 <= k - missed <= 1):
            missed = k
        if self._cfg is not None:
            r, a, g = self._cfg
            self._setup(r, a, g)
        self._fifo_reset()
        self._t_last = self.t_start_us = self._now()
        self._left = 0
        self._dirty = False
        self.recoveries += 1
        self._book_lost(missed)

    # -- shared bookkeeping ------------------------------------------------
    def _book_lost(self, n):
        if n > 0:
            self.lost += n
            self._gap += n
            self.seq += n

    def _discard(self, overflow):
        """Drop the FIFO content and book everything since the last good
        read as lost (overflow, corrupted count, or after a bus error)."""
        now = self._now()
        p = self._periods(now)
        self._fifo_reset()
        t = now
        if p is None:
            lost = self.FIFO_SAMPLES + 1 if overflow else 1
        else:
            lost = self._left + p
            if overflow and lost < self.FIFO_SAMPLES + 1:
                lost = self.FIFO_SAMPLES + 1
            else:
                # The next estimate counts from where these p periods end
                # on the sample grid, not from now: a discard comes at any
                # phase (the end of a stall), and counting from it would
                # round one sample away every so often; from the grid the
                # count stays exact while the clocks agree.
                t = (self._t_last + p * self._period_us) & 0x3FFFFFFF
                if _wrap_diff(t, now) > self._period_us:
                    t = now  # (never more than half a period ahead)
        if overflow:
            self.overflows += 1
        self._t_last = t
        self._left = 0
        self._dirty = False
        self._book_lost(lost)

    def _check(self, avail):
        """Sanity of a FIFO level (whole samples) before reading it. With a
        clock: no sample for 250 ms means the chip stopped (reset, asleep):
        IMUError; more samples than the elapsed time allows (10 % + 4
        slack) means a corrupted count: resync and return False. Only
        small-int arithmetic: this runs on every poll. Keeps the clock
        reading for _done()."""
        c = self.clock_us
        if c is None:
            return True
        now = c()
        self._tc = now
        dt = (now - self._t_last) & 0x3FFFFFFF  # _wrap_diff, inline
        if dt >= 0x20000000:
            dt = dt - 0x20000000 - 0x20000000
        if avail == 0:
            if dt >= self._stale_us:
                self._dirty = True
                raise IMUError(_EIO, "%s: no sample for %d us" % (self.name, dt))
            return True
        if (avail - self._left - 4) * self._period_us > dt + dt // 9:
            self._discard(False)
            return False
        return True

    def _done(self, avail, n):
        # Bookkeeping after a successful read of n of avail samples. An
        # empty FIFO leaves _t_last alone: the last time data was seen (the
        # clock as _check read it) is what the stale check and the loss
        # estimate count from.
        self._left = avail - n
        if avail and self.clock_us is not None:
            self._t_last = self._tc

    def _burst(self, reg, nsamples):
        """Read k whole frames from FIFO register reg into self._buf, k =
        nsamples up to _CHUNK (>= 1): one I2C transaction; returns k."""
        k = nsamples if nsamples < _CHUNK else _CHUNK
        self.bus.readfrom_mem_into(self.addr, reg, self._views[k - 1])
        return k

    # -- subclass hooks ----------------------------------------------------
    def _read_whoami(self):
        raise NotImplementedError

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        raise NotImplementedError

    def _fifo_reset(self):
        raise NotImplementedError

    def _level(self):
        # whole samples made since the last good read and not read (in the
        # FIFO, a partly written one included); -1 when the chip cannot
        # tell (overflowed)
        return -1

    def _read(self, buf, max_samples):
        raise NotImplementedError


def _pick(table, want):
    """Index of the entry of table (sorted ascending) nearest to want."""
    best = 0
    for i in range(len(table)):
        if abs(table[i] - want) < abs(table[best] - want):
            best = i
    return best


def _pick_range(table, want):
    """Index of the smallest range >= want (the largest if none is)."""
    for i in range(len(table)):
        if table[i] >= want:
            return i
    return len(table) - 1


# WHO_AM_I values of the chips probe() knows, as each driver module's
# WHOAMI (tests/shared/test_drivers.py checks they agree): probe() reads
# the register itself and imports only the driver of the chip that
# answers, so the others never load into the heap (on an RP2040 their
# bytecode and machine code would sit there, or leave holes among the
# code when dropped after boot)
_MPU_IDS = (0x68, 0x70, 0x71, 0x73, 0x74)  # drivers.mpu6050.WHOAMI, reg 0x75
_LSM_IDS = (0x69, 0x6A, 0x6C)  # drivers.lsm6ds.WHOAMI, reg 0x0F (0x6C: lsm6dsox)
_QMI_ID = 0x05  # drivers.qmi8658.WHOAMI, reg 0x00


def _whoami(bus, addr, reg):
    b = bytearray(1)
    bus.readfrom_mem_into(addr, reg, b)
    return b[0]


def probe(bus, clock_us=None):
    """Find the IMU on bus and return a driver instance (not configured).
    Tries MPU-6050/6500/9250 at 0x68/0x69, LSM6DS3/LSM6DS3TR-C/LSM6DSOX and
    QMI8658 at 0x6A/0x6B. Raises IMUError naming what answered where when
    nothing matches. Imports only the driver module of the chip found."""
    seen = []
    for addr in (0x68, 0x69):
        try:
            who = _whoami(bus, addr, 0x75)
        except OSError:
            seen.append("0x%02x: no answer" % addr)
            continue
        if who in _MPU_IDS:
            from drivers import mpu6050

            gc.collect()  # the load's garbage goes before the driver's objects are made
            return mpu6050.MPU6050(bus, addr, who, clock_us)
        seen.append("0x%02x: WHO_AM_I(0x75)=0x%02x" % (addr, who))
    for addr in (0x6A, 0x6B):
        try:
            who = _whoami(bus, addr, 0x0F)
        except OSError:
            seen.append("0x%02x: no answer" % addr)
            continue
        if who in _LSM_IDS:
            # the family's module, then the chip's, each alone (a module
            # loaded inside another's import lands above that import's
            # garbage: a hole among the code once collected)
            import drivers.lsm6ds  # noqa: F401

            gc.collect()
            if who == 0x6C:
                from drivers import lsm6dsox

                gc.collect()
                return lsm6dsox.LSM6DSOX(bus, addr, who, clock_us)
            from drivers import lsm6ds3

            gc.collect()
            return lsm6ds3.LSM6DS3(bus, addr, who, clock_us)
        try:
            who2 = _whoami(bus, addr, 0x00)
        except OSError:
            who2 = -1
        if who2 == _QMI_ID:
            from drivers import qmi8658

            gc.collect()
            return qmi8658.QMI8658(bus, addr, who2, clock_us)
        seen.append("0x%02x: WHO_AM_I(0x0f)=0x%02x, (0x00)=0x%02x" % (addr, who, who2 & 0xFF))
    raise IMUError(_ENODEV, "no supported IMU; " + "; ".join(seen))
