# Register-level emulations of the IMUs the drivers support, for the fake
# bus of sim/i2cbus.py. Each chip has its register map and power-on values,
# WHO_AM_I, the configuration registers that set ODR / ranges / filters,
# its FIFO with the real byte order, frame layout, count registers, overflow
# behaviour and flags, and software reset. Written from the datasheets and
# register maps (MPU-6000A/6500/9250 register maps, LSM6DS3 / LSM6DS3TR-C /
# LSM6DSOX datasheets and AN, QMI8658A datasheet rev A), not from driver
# code: a driver with a wrong register address, byte order, frame layout or
# count register reads garbage here.
#
# Physical input and time:
#   chip.feed(ax_g, ay_g, az_g, gx_dps, gy_dps, gz_dps)  # queue one sample
#   chip.advance_to(t_us)   # produce every sample due up to t_us at the ODR
#                           # the registers set (queued values in order, then
#                           # the last value held)
#   chip.source = fn        # optional: fn(k) -> (ax, ay, az, gx, gy, gz)
#                           # for sample k (k = produced count) when the
#                           # queue is empty: long traces without a queue
#   chip.counts = src       # optional, instead of source: src.read(k, v)
#                           # puts sample k into v, an array('h', 6) of
#                           # counts at 8192 LSB/g and 65.5 LSB/dps (the
#                           # sim's trace file); v keeps its values when
#                           # src has no more (the last value held)
#   chip.produced           # samples produced since power-on
# Values become counts with the sensitivity the range registers select,
# rounded to nearest and clamped to int16, as the ADC would. From counts
# (chip.counts) by exact integer ratios: the sim board's samples.
#
# Time: advance_to() takes the bus clock in us, which may wrap like
# ticks_us() (every comparison is a wrap-safe difference, heelcore.ticks;
# steps of less than 2**29 us). The sample schedule is kept as the next
# sample's due time plus an exact remainder: sample n after the rate was
# set is due ceil(n * period) us after it, for any ODR (7174.4 Hz / 2**k).
#
# Memory: with chip.counts, producing a sample allocates nothing (integer
# ratios, the frame built in a preallocated buffer): on the sim board the
# chip shares one heap with the firmware, and a board's IMU is hardware,
# not garbage in the firmware's heap (tests/shared/test_drivers.py checks
# it under micropython.heap_lock()).
#
# Test hooks: chip.glitch(reg, value, times=1) makes the next read(s) of
# register reg return value (a corrupted count); chip.split_next(k) writes
# the first k FIFO units (bytes / words) of the next sample now and the rest
# when it is due (a read racing the FIFO write).
#
# Reads never allocate (the bus is used under micropython.heap_lock() in
# tests); advance_to() allocates only on the float paths (feed(), source),
# writes only when the sample rate changes.

import array
import math

from heelcore.ticks import ticks_add, ticks_diff


class _Ring:
    """Fixed-size byte FIFO."""

    def __init__(self, cap):
        self.cap = cap
        self.buf = bytearray(cap)
        self.head = 0
        self.count = 0

    def clear(self):
        self.head = 0
        self.count = 0

    def push(self, b):
        i = self.head + self.count
        if i >= self.cap:
            i -= self.cap
        self.buf[i] = b
        self.count += 1

    def pop(self):
        b = self.buf[self.head]
        self.head += 1
        if self.head == self.cap:
            self.head = 0
        self.count -= 1
        return b

    def peek(self, k):
        i = self.head + k
        if i >= self.cap:
            i -= self.cap
        return self.buf[i]

    def drop(self, n):
        for _ in range(n):
            self.pop()


def _counts(v, lsb):
    c = int(math.floor(v * lsb + 0.5))
    if c > 32767:
        return 32767
    if c < -32768:
        return -32768
    return c


def _icounts(v, n, d):
    # round(v * n / d), half up as _counts, clamped to int16; with the
    # ratios below every intermediate is a 31-bit small int
    c = (2 * v * n + d) // (2 * d)
    if c > 32767:
        return 32767
    if c < -32768:
        return -32768
    return c


# chip.counts gives 8192 LSB/g and 65.5 LSB/dps; a chip's count is that
# times n / d (reduced), per range code (the ranges' LSB per g or per dps
# over 8192 or 65.5). tests/host/test_drivers_host.py checks each against
# the float path over every int16 value.
_MPU_A = ((2, 1), (1, 1), (1, 2), (1, 4))  # 16384 >> code LSB/g
_MPU_G = ((2, 1), (1, 1), (328, 655), (164, 655))  # 131, 65.5, 32.8, 16.4 LSB/dps
_LSM_A = ((15625, 7808), (15625, 62464), (15625, 15616), (15625, 31232))  # 1000 / (0.061, 0.488, 0.122, 0.244 mg)
_LSM_G = ((1600, 917), (800, 917), (400, 917), (200, 917))  # 1000 / (8.75, 17.5, 35, 70 mdps)
_LSM_G125 = (3200, 917)  # 1000 / 4.375 mdps
_QMI_A = ((2, 1), (1, 1), (1, 2), (1, 4), (1, 8), (1, 16), (1, 32), (1, 64))  # 16384 >> code LSB/g
_QMI_G = tuple((4096 >> k, 131) for k in range(8))  # 2048 >> code LSB/dps


class Chip:
    """Common machinery: registers, sample clock, physical input queue."""

    NAME = "chip"
    ADDR = 0
    WHOAMI_REG = 0
    WHOAMI = 0
    UNIT = 1  # bytes per FIFO unit (split_next granularity)

    def __init__(self, addr=None, whoami=None):
        self.addr = self.ADDR if addr is None else addr
        self.whoami = self.WHOAMI if whoami is None else whoami
        self.regs = bytearray(256)
        self.now_us = 0
        self.produced = 0
        self.dropped = 0  # samples the FIFO lost (overflow / read mode)
        self.resets = 0
        self._queue = []
        self._qi = 0
        self._hold = (0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
        self.source = None
        self.counts = None
        self._v = array.array("h", (0, 0, 8192, 0, 0, 0))  # chip.counts' sample (1 g up)
        self._c = array.array("i", bytes(24))  # the sample in this chip's counts
        self._fb = bytearray(16)  # the sample's FIFO frame
        self._glitch = {}
        self._rate = None
        self._t0 = 0
        self._due = 0  # tick (us) the next sample is due
        self._base = 0  # tick t0 + floor(n * period)
        self._e = 0  # (n * period) mod 1 us, in 1/num us
        self._q = 0  # period: _q + _r / num us
        self._r = 0
        self._num = 1
        self._an = self._ad = self._gn = self._gd = 1  # count ratios (_ratios)
        self._pending = None  # rest of a split frame
        self.on_sample = None  # fn(k, tick): sample k (produced count) was due at tick (us)
        self.reset()

    # -- physical side -----------------------------------------------------
    def feed(self, ax_g, ay_g, az_g, gx_dps, gy_dps, gz_dps):
        self._queue.append((ax_g, ay_g, az_g, gx_dps, gy_dps, gz_dps))

    def _next_phys(self, k):
        if self._qi < len(self._queue):
            self._hold = self._queue[self._qi]
            self._qi += 1
            if self._qi == len(self._queue):
                self._queue = []
                self._qi = 0
        elif self.source is not None:
            self._hold = self.source(k)
        return self._hold

    def _sample(self, k):
        # sample k into self._c (this chip's counts at its ranges)
        c = self._c
        if self.counts is not None and self._qi >= len(self._queue):
            v = self._v
            self.counts.read(k, v)
            an = self._an
            ad = self._ad
            gn = self._gn
            gd = self._gd
            c[0] = _icounts(v[0], an, ad)
            c[1] = _icounts(v[1], an, ad)
            c[2] = _icounts(v[2], an, ad)
            c[3] = _icounts(v[3], gn, gd)
            c[4] = _icounts(v[4], gn, gd)
            c[5] = _icounts(v[5], gn, gd)
            return
        p = self._next_phys(k)
        al = self.accel_lsb()
        gl = self.gyro_lsb()
        for i in range(3):
            c[i] = _counts(p[i], al)
            c[3 + i] = _counts(p[3 + i], gl)

    def _ratios(self):
        # self._an / _ad, _gn / _gd for the range registers (see _MPU_A):
        # no allocation (register writes happen inside a driver's read)
        pass

    def _produce(self):
        if self._pending is not None:
            units = self._pending
            self._pending = None
            self._store(units, len(units))
        else:
            self._sample(self.produced)
            self._store(self._fb, self._frame_into())
        self.produced += 1

    def advance_to(self, t_us):
        if ticks_diff(t_us, self.now_us) < 0:
            raise ValueError("time runs forward only")
        if self._rate is not None:
            while ticks_diff(t_us, self._due) >= 0:
                self._n += 1
                if self.on_sample is not None:
                    self.on_sample(self.produced, self._due)
                self._produce()
                self._step()
        self.now_us = t_us

    def _step(self):
        # the next sample's due time: t0 + ceil(n * period)
        e = self._e + self._r
        b = ticks_add(self._base, self._q)
        if e >= self._num:
            e -= self._num
            b = ticks_add(b, 1)
        self._e = e
        self._base = b
        self._due = ticks_add(b, 1) if e else b

    def due_in(self, m):
        """Tick (us) at which the m-th sample from now is due (m >= 1; 0:
        the last one made), m * period within 2**29 us; None when not
        sampling."""
        if self._rate is None:
            return None
        if m < 1:
            e = self._e - self._r
            if e < 0:
                e += self._num
            return ticks_add(self.grid_us(), 1) if e else self.grid_us()
        x = self._e + (m - 1) * self._r
        b = ticks_add(self._base, (m - 1) * self._q + x // self._num)
        return ticks_add(b, 1) if x % self._num else b

    def grid_us(self):
        """Tick (us) of the rate's grid at the last sample made: t0 +
        floor(n * period), n samples since the rate was set."""
        carry = 1 if self._e < self._r else 0
        return ticks_add(self._base, -(self._q + carry))

    def split_next(self, k):
        """Write the first k units of the next sample's FIFO frame now."""
        self._sample(self.produced)
        units = bytes(self._fb[: self._frame_into()])
        self._store(units[:k], k, partial=True)
        self._pending = units[k:]

    def _clock_check(self):
        # Restart the sample clock when the registers change the ODR (or
        # start / stop sampling).
        r = self._sample_rate()
        if r != self._rate:
            self._rate = r
            self._t0 = self.now_us
            self._n = 0
            self._pending = None
            if r is not None:
                num, den = r
                per = den * 1000000
                self._num = num
                self._q = per // num
                self._r = per % num
                self._e = 0
                self._base = self.now_us
                self._step()
        self._ratios()

    def glitch(self, reg, value, times=1):
        self._glitch[reg] = (value, times)

    # -- bus side ----------------------------------------------------------
    def read_into(self, reg, buf):
        a = reg
        g = self._glitch
        for i in range(len(buf)):
            if g and a in g:
                v, times = g[a]
                if times <= 1:
                    del g[a]
                else:
                    g[a] = (v, times - 1)
                buf[i] = v
            else:
                buf[i] = self._rd(a)
            a = self._next_addr(a)

    def write(self, reg, buf):
        a = reg
        for i in range(len(buf)):
            self._wr(a, buf[i])
            a = self._next_addr(a)
        self._clock_check()

    def reset(self):
        self.regs = bytearray(256)
        self.regs[self.WHOAMI_REG] = self.whoami
        self._pending = None
        self._defaults()
        self.resets += 1
        self._clock_check()

    # -- per chip ----------------------------------------------------------
    def _defaults(self):
        pass

    def _sample_rate(self):
        return None

    def _frame_into(self):
        # the FIFO frame of the sample in self._c into self._fb; its length
        return 0

    def _store(self, units, n, partial=False):
        pass

    def accel_lsb(self):
        return 1.0

    def gyro_lsb(self):
        return 1.0

    def _rd(self, a):
        return self.regs[a]

    def _wr(self, a, v):
        self.regs[a] = v

    def _next_addr(self, a):
        return (a + 1) & 0xFF


def _be16(out, i, v):
    out[i] = (v >> 8) & 0xFF
    out[i + 1] = v & 0xFF


def _le16(out, i, v):
    out[i] = v & 0xFF
    out[i + 1] = (v >> 8) & 0xFF


def _copy(dst, i, src, j, n):
    # dst[i:i + n] = src[j:j + n] without a temporary
    for k in range(n):
        dst[i + k] = src[j + k]


# ---------------------------------------------------------------------------
# InvenSense MPU-6050 / MPU-6500 family


class MPU6050Chip(Chip):
    """MPU-6050 (WHO_AM_I 0x68, 1024-byte FIFO; when full the oldest byte is
    overwritten). MPU6500Chip / MPU9250Chip: 512-byte FIFO, CONFIG.FIFO_MODE
    (bit 6) = 1 stops writing when full instead."""

    NAME = "MPU-6050"
    ADDR = 0x68
    WHOAMI_REG = 0x75
    WHOAMI = 0x68
    FIFO_BYTES = 1024

    def __init__(self, addr=None, whoami=None):
        self.fifo = _Ring(self.FIFO_BYTES)
        Chip.__init__(self, addr, whoami)

    def _defaults(self):
        self.regs[0x6B] = 0x40  # PWR_MGMT_1: SLEEP
        self.fifo.clear()

    def _sample_rate(self):
        r = self.regs
        if r[0x6B] & 0x40:  # asleep
            return None
        dlpf = r[0x1A] & 0x07
        base = 8000 if dlpf == 0 or dlpf == 7 else 1000
        return (base, 1 + r[0x19])

    def accel_lsb(self):
        return 16384 >> ((self.regs[0x1C] >> 3) & 3)

    def gyro_lsb(self):
        return (131.0, 65.5, 32.8, 16.4)[(self.regs[0x1B] >> 3) & 3]

    def _ratios(self):
        self._an, self._ad = _MPU_A[(self.regs[0x1C] >> 3) & 3]
        self._gn, self._gd = _MPU_G[(self.regs[0x1B] >> 3) & 3]

    def _frame_into(self):
        c = self._c
        r = self.regs
        # data registers ACCEL_XOUT_H 0x3B .. GYRO_ZOUT_L 0x48 (temp 25 C)
        _be16(r, 0x3B, c[0])
        _be16(r, 0x3D, c[1])
        _be16(r, 0x3F, c[2])
        _be16(r, 0x41, -3920)  # int((25 - 36.53) * 340): 25 C
        _be16(r, 0x43, c[3])
        _be16(r, 0x45, c[4])
        _be16(r, 0x47, c[5])
        # FIFO frame: registers in address order, for the enabled sources
        en = r[0x23]
        f = self._fb
        n = 0
        if en & 0x08:
            _copy(f, n, r, 0x3B, 6)
            n += 6
        if en & 0x80:
            _copy(f, n, r, 0x41, 2)
            n += 2
        if en & 0x40:
            _copy(f, n, r, 0x43, 2)
            n += 2
        if en & 0x20:
            _copy(f, n, r, 0x45, 2)
            n += 2
        if en & 0x10:
            _copy(f, n, r, 0x47, 2)
            n += 2
        return n

    def _store(self, units, n, partial=False):
        r = self.regs
        r[0x3A] |= 0x01  # DATA_RDY_INT
        if not (r[0x6A] & 0x40) or not n:  # USER_CTRL.FIFO_EN
            return
        stop = self.whoami != 0x68 and (r[0x1A] & 0x40)
        f = self.fifo
        lost = False
        for i in range(n):
            if f.count == f.cap:
                lost = True
                if stop:
                    break
                f.pop()  # oldest byte overwritten
            f.push(units[i])
        if lost:
            r[0x3A] |= 0x10  # FIFO_OFLOW_INT
            self.dropped += 1

    def _rd(self, a):
        r = self.regs
        if a == 0x74:  # FIFO_R_W
            return self.fifo.pop() if self.fifo.count else 0xFF
        if a == 0x72:
            return (self.fifo.count >> 8) & 0x1F
        if a == 0x73:
            return self.fifo.count & 0xFF
        if a == 0x3A:  # INT_STATUS: cleared by reading
            v = r[0x3A]
            r[0x3A] = 0
            return v
        return r[a]

    def _next_addr(self, a):
        return a if a == 0x74 else (a + 1) & 0xFF  # FIFO_R_W is a port

    def _wr(self, a, v):
        r = self.regs
        if a == 0x6B and v & 0x80:  # DEVICE_RESET
            self.reset()
            return
        if a == 0x6A:  # USER_CTRL
            if v & 0x04 and not (v & 0x40):  # FIFO_RESET while FIFO_EN = 0
                self.fifo.clear()
                self._pending = None
            v &= 0xF8  # reset bits clear themselves
        if a in (0x75, 0x72, 0x73, 0x3A) or 0x3B <= a <= 0x48:
            return  # read-only
        r[a] = v


class MPU6500Chip(MPU6050Chip):
    NAME = "MPU-6500"
    WHOAMI = 0x70
    FIFO_BYTES = 512


class MPU9250Chip(MPU6050Chip):
    NAME = "MPU-9250"
    WHOAMI = 0x71
    FIFO_BYTES = 512


# ---------------------------------------------------------------------------
# ST LSM6DS3 / LSM6DS3TR-C (untagged FIFO)

_LSM_ODR = {
    1: (25, 2),
    2: (26, 1),
    3: (52, 1),
    4: (104, 1),
    5: (208, 1),
    6: (416, 1),
    7: (833, 1),
    8: (1666, 1),
    9: (3332, 1),
    10: (6664, 1),
}
_LSM_XL_MG = {0: 0.061, 2: 0.122, 3: 0.244, 1: 0.488}  # FS_XL code -> mg/LSB
_LSM_G_MDPS = (8.75, 17.5, 35.0, 70.0)  # FS_G code -> mdps/LSB


class _LSMChip(Chip):
    ADDR = 0x6A
    WHOAMI_REG = 0x0F
    UNIT = 2

    def _defaults(self):
        self.regs[0x12] = 0x04  # CTRL3_C: IF_INC
        self.ovr = False
        self.fifo.clear()
        self._slot = 0

    def accel_lsb(self):
        x = self.regs[0x10]
        return 1000.0 / _LSM_XL_MG[(x >> 2) & 3]

    def gyro_lsb(self):
        g = self.regs[0x11]
        if g & 0x02:  # FS_125
            return 1000.0 / 4.375
        return 1000.0 / _LSM_G_MDPS[(g >> 2) & 3]

    def _ratios(self):
        r = self.regs
        self._an, self._ad = _LSM_A[(r[0x10] >> 2) & 3]
        self._gn, self._gd = _LSM_G125 if r[0x11] & 0x02 else _LSM_G[(r[0x11] >> 2) & 3]

    def _words(self):
        # OUTX_L_G .. OUTZ_H_XL (0x22..0x2D): gyro then accel, little-endian
        c = self._c
        r = self.regs
        for i in range(3):
            _le16(r, 0x22 + 2 * i, c[3 + i])
            _le16(r, 0x28 + 2 * i, c[i])

    def _wr(self, a, v):
        if a == 0x12 and v & 0x01:  # SW_RESET
            self.reset()
            return
        if a == self.WHOAMI_REG or 0x1E <= a <= 0x3F or a >= 0x78:
            return  # read-only (status, outputs, FIFO)
        self.regs[a] = v
        if a == self.FIFO_MODE_REG and (v & 0x07) == 0:  # bypass empties it
            self.fifo.clear()
            self.ovr = False
            self._slot = 0
            self._rdidx = 0
            self._pending = None

    def _next_addr(self, a):
        if not (self.regs[0x12] & 0x04):  # IF_INC = 0: no auto-increment
            return a
        return (a + 1) & 0xFF


class LSM6DS3Chip(_LSMChip):
    """LSM6DS3 (WHO_AM_I 0x69): 8 KB FIFO = 4096 words, DIFF_FIFO 12 bits.
    LSM6DS3TRCChip (0x6A): 4 KB = 2048 words, DIFF_FIFO 11 bits."""

    NAME = "LSM6DS3"
    WHOAMI = 0x69
    FIFO_WORDS = 4096
    DIFF_HI = 0x0F
    FIFO_MODE_REG = 0x0A

    def __init__(self, addr=None, whoami=None):
        self.fifo = _Ring(2 * self.FIFO_WORDS)
        Chip.__init__(self, addr, whoami)

    def _defaults(self):
        _LSMChip._defaults(self)
        r = self.regs
        r[0x18] = 0x38  # CTRL9_XL: accel axes on
        r[0x19] = 0x38  # CTRL10_C: gyro axes on
        self._rdidx = 0  # words read since the pattern start (mod 6)

    def _sample_rate(self):
        r = self.regs
        code = (r[0x0A] >> 3) & 0x0F  # ODR_FIFO
        if not code:
            code = r[0x10] >> 4  # not batching: data registers at ODR_XL
        return _LSM_ODR.get(code)

    def _frame_into(self):
        self._words()
        r = self.regs
        fcode = (r[0x0A] >> 3) & 0x0F
        dec = r[0x08]
        f = self._fb
        n = 0
        if fcode and (dec & 0x38) == 0x08 and (r[0x11] >> 4) >= fcode:
            _copy(f, n, r, 0x22, 6)
            n += 6
        if fcode and (dec & 0x07) == 0x01 and (r[0x10] >> 4) >= fcode:
            _copy(f, n, r, 0x28, 6)
            n += 6
        return n

    def _store(self, units, n, partial=False):
        mode = self.regs[0x0A] & 0x07
        if mode == 0 or not n:
            return
        f = self.fifo
        if f.count + n > f.cap:
            if mode == 0x01:  # FIFO mode: stop when full
                self.dropped += 1
                return
            # continuous: the oldest data sets (6 bytes) are overwritten
            while f.count + n > f.cap:
                f.drop(6)
                self._rdidx = (self._rdidx + 3) % 6
            self.ovr = True
            self.dropped += 1
        for i in range(n):
            f.push(units[i])

    def _rd(self, a):
        r = self.regs
        f = self.fifo
        words = f.count >> 1
        if a == 0x3A:
            return words & 0xFF
        if a == 0x3B:
            v = (words >> 8) & self.DIFF_HI
            if words == 0:
                v |= 0x10  # FIFO_EMPTY
            if f.count + 2 > f.cap:
                v |= 0x20  # FIFO_FULL
            if self.ovr:
                v |= 0x40  # OVER_RUN
            th = r[0x06] | ((r[0x07] & 0x0F) << 8)
            if th and words >= th:
                v |= 0x80
            return v
        if a == 0x3C:
            return self._rdidx & 0xFF if words else 0
        if a == 0x3D:
            return 0
        if a == 0x3E:  # FIFO_DATA_OUT_L
            return f.peek(0) if f.count >= 2 else 0
        if a == 0x3F:  # FIFO_DATA_OUT_H: completes the word
            if f.count < 2:
                return 0
            f.pop()
            self._rdidx = (self._rdidx + 1) % 6
            return f.pop()
        return r[a]

    def _next_addr(self, a):
        if a == 0x3F and self.regs[0x12] & 0x04:
            return 0x3E  # FIFO output rolls back for multi-word reads
        return _LSMChip._next_addr(self, a)


class LSM6DS3TRCChip(LSM6DS3Chip):
    NAME = "LSM6DS3TR-C"
    WHOAMI = 0x6A
    FIFO_WORDS = 2048
    DIFF_HI = 0x07

    def _defaults(self):
        _LSMChip._defaults(self)
        self._rdidx = 0


# ---------------------------------------------------------------------------
# ST LSM6DSOX (tagged FIFO)


class LSM6DSOXChip(_LSMChip):
    """LSM6DSOX (WHO_AM_I 0x6C): 512 tagged words of 7 bytes, DIFF_FIFO 10
    bits. Continuous mode overwrites the oldest word when full and sets
    FIFO_OVR_IA / FIFO_OVR_LATCHED. Within one BDR time slot the gyro word
    comes first (accel_first=True swaps them; drivers must pair by TAG_CNT)."""

    NAME = "LSM6DSOX"
    WHOAMI = 0x6C
    FIFO_WORDS = 512
    FIFO_MODE_REG = 0x0A
    UNIT = 7

    def __init__(self, addr=None, whoami=None, accel_first=False):
        self.fifo = _Ring(7 * self.FIFO_WORDS)
        self.accel_first = accel_first
        Chip.__init__(self, addr, whoami)

    def _defaults(self):
        _LSMChip._defaults(self)
        self.ovr_latched = False
        self._pos = 0  # byte position inside the front word being read

    def _sample_rate(self):
        r = self.regs
        bdr = r[0x09]
        code = max(bdr >> 4, bdr & 0x0F)
        if not code:
            code = r[0x10] >> 4
        return _LSM_ODR.get(code)

    @staticmethod
    def _tag(sensor, cnt):
        t = (sensor << 3) | (cnt << 1)
        ones = 0
        x = t
        while x:
            ones += x & 1
            x >>= 1
        return t | (ones & 1)  # TAG_PARITY: makes the byte's parity even

    def _frame_into(self):
        self._words()
        r = self.regs
        bg = r[0x09] >> 4
        bx = r[0x09] & 0x0F
        top = bg if bg > bx else bx
        cnt = self._slot & 3
        self._slot += 1
        # a sensor with a lower BDR is batched every 2**(top - bdr) slots
        g = bg and (r[0x11] >> 4) >= bg and (self._slot - 1) % (1 << (top - bg)) == 0
        x = bx and (r[0x10] >> 4) >= bx and (self._slot - 1) % (1 << (top - bx)) == 0
        f = self._fb
        n = 0
        if x and self.accel_first:
            n = self._word(f, n, 0x02, cnt, 0x28)
        if g:
            n = self._word(f, n, 0x01, cnt, 0x22)
        if x and not self.accel_first:
            n = self._word(f, n, 0x02, cnt, 0x28)
        return n

    def _word(self, f, n, sensor, cnt, reg):
        # one tagged word: TAG, then the sensor's 6 output bytes
        f[n] = self._tag(sensor, cnt)
        _copy(f, n + 1, self.regs, reg, 6)
        return n + 7

    def _store(self, units, n, partial=False):
        mode = self.regs[0x0A] & 0x07
        if mode == 0 or not n:
            return
        f = self.fifo
        if f.count + n > f.cap:
            if mode == 0x01:  # FIFO mode: stop when full
                self.dropped += 1
                return
            while f.count + n > f.cap:
                f.drop(7)  # oldest word overwritten
                self._pos = 0
            self.ovr = True
            self.ovr_latched = True
            self.dropped += 1
        for i in range(n):
            f.push(units[i])

    def _rd(self, a):
        r = self.regs
        f = self.fifo
        words = f.count // 7
        if a == 0x3A:
            return words & 0xFF
        if a == 0x3B:
            v = (words >> 8) & 0x03
            if self.ovr_latched:
                v |= 0x08  # FIFO_OVR_LATCHED, cleared by this read
                self.ovr_latched = False
            if self.ovr:
                v |= 0x40  # FIFO_OVR_IA
            if f.count + 7 > f.cap:
                v |= 0x20  # FIFO_FULL_IA
            th = r[0x07] | ((r[0x08] & 0x01) << 8)
            if th and words >= th:
                v |= 0x80
            return v
        if 0x78 <= a <= 0x7E:  # FIFO_DATA_OUT_TAG, FIFO_DATA_OUT_X_L..Z_H
            if words == 0:
                return 0
            v = f.peek(a - 0x78)
            if a == 0x7E:  # last byte of the word: next word
                f.drop(7)
            return v
        return r[a]

    def _next_addr(self, a):
        if a == 0x7E and self.regs[0x12] & 0x04:
            return 0x78  # rolls back: bursts read consecutive words
        return _LSMChip._next_addr(self, a)


# ---------------------------------------------------------------------------
# QST QMI8658

# Rates as (num, den) Hz, built once: _sample_rate() runs on register
# writes, which the QMI8658 driver does inside read_fifo (no allocation).
_QMI_GYR_ND = tuple((71744, 10 << c) for c in range(9))  # 7174.4 Hz / 2**c
_QMI_ACC_ND = tuple((800000 >> c, 100) for c in range(9))  # 8000 Hz / 2**c


class QMI8658Chip(Chip):
    """QMI8658 (WHO_AM_I 0x05 at 0x00). FIFO of FIFO_SIZE samples (16, 32,
    64, 128) of accel then gyro, int16 little-endian unless CTRL1.BE.
    FIFO_SMPL_CNT/FIFO_STATUS[1:0] count 2-byte units. Stream mode drops the
    oldest sample when full, FIFO mode the newest; both set FIFO_OVFLOW.
    FIFO_DATA is only readable in read mode (CTRL9 CTRL_CMD_REQ_FIFO), during
    which new samples are not stored. TIMESTAMP counts every sample."""

    NAME = "QMI8658"
    ADDR = 0x6B
    WHOAMI_REG = 0x00
    WHOAMI = 0x05
    UNIT = 2

    def __init__(self, addr=None, whoami=None):
        self.fifo = _Ring(128 * 12)
        Chip.__init__(self, addr, whoami)

    def _defaults(self):
        r = self.regs
        r[0x01] = 0x7C  # REVISION_ID
        r[0x02] = 0x20  # CTRL1: BE = 1 at power-on
        self.fifo.clear()
        self.ovf = False
        self.stamp = 0

    def _sample_rate(self):
        r = self.regs
        if r[0x02] & 0x01:  # SensorDisable: oscillator off
            return None
        en = r[0x08] & 0x03
        if en & 0x02:  # gyro on: 7174.4 Hz / 2**gODR
            code = r[0x04] & 0x0F
            return _QMI_GYR_ND[code] if code <= 8 else None
        if en & 0x01:
            code = r[0x03] & 0x0F
            return _QMI_ACC_ND[code] if code <= 8 else None
        return None

    def accel_lsb(self):
        return 16384 >> ((self.regs[0x03] >> 4) & 0x07)

    def gyro_lsb(self):
        return 2048 >> ((self.regs[0x04] >> 4) & 0x07)

    def _per(self):
        e = self.regs[0x08]
        return 6 * ((e & 1) + ((e >> 1) & 1))  # bytes per sample

    def _cap(self):
        return (16 << ((self.regs[0x14] >> 2) & 3)) * self._per()

    def _ratios(self):
        r = self.regs
        self._an, self._ad = _QMI_A[(r[0x03] >> 4) & 0x07]
        self._gn, self._gd = _QMI_G[(r[0x04] >> 4) & 0x07]

    def _frame_into(self):
        r = self.regs
        c = self._c
        w = _be16 if r[0x02] & 0x20 else _le16
        for i in range(6):
            w(r, 0x35 + 2 * i, c[i])  # AX_L .. GZ_H: accel then gyro
        f = self._fb
        n = 0
        if r[0x08] & 1:
            _copy(f, n, r, 0x35, 6)
            n += 6
        if r[0x08] & 2:
            _copy(f, n, r, 0x3B, 6)
            n += 6
        return n

    def _store(self, units, n, partial=False):
        r = self.regs
        if not partial:
            self.stamp = (self.stamp + 1) & 0xFFFFFF
            r[0x30] = self.stamp & 0xFF
            r[0x31] = (self.stamp >> 8) & 0xFF
            r[0x32] = self.stamp >> 16
        mode = r[0x14] & 0x03
        if mode == 0 or not n:
            return
        if r[0x14] & 0x80:  # read mode: not stored
            self.dropped += 1
            return
        cap = self._cap()
        per = self._per()
        f = self.fifo
        if f.count + n > cap:
            self.ovf = True
            self.dropped += 1
            if mode == 0x01:  # FIFO mode: newest dropped
                return
            while f.count + n > cap:
                f.drop(per)  # stream: oldest sample dropped
        for i in range(n):
            f.push(units[i])

    def _rd(self, a):
        r = self.regs
        f = self.fifo
        if a == 0x15:
            return (f.count >> 1) & 0xFF
        if a == 0x16:
            cap = self._cap()
            per = self._per()
            v = (f.count >> 9) & 0x03
            if f.count:
                v |= 0x10
            if self.ovf:
                v |= 0x20
            if r[0x13] and f.count >= r[0x13] * per:
                v |= 0x40
            if cap and f.count + per > cap:
                v |= 0x80
            return v
        if a == 0x17:  # FIFO_DATA: only in read mode
            if not (r[0x14] & 0x80) or not f.count:
                return 0
            return f.pop()
        return r[a]

    def _next_addr(self, a):
        if not (self.regs[0x02] & 0x40):  # ADDR_AI = 0
            return a
        return (a + 1) & 0xFF

    def _wr(self, a, v):
        r = self.regs
        if a == 0x60:
            if v == 0xB0:  # soft reset
                self.reset()
            return
        if a == 0x0A:  # CTRL9 command
            r[0x0A] = v
            if v == 0x00:  # CTRL_CMD_ACK
                r[0x2D] &= 0x7F
                return
            if v == 0x04:  # CTRL_CMD_RST_FIFO
                self.fifo.clear()
                self.ovf = False
                r[0x14] &= 0x7F
                self._pending = None
            elif v == 0x05:  # CTRL_CMD_REQ_FIFO
                r[0x14] |= 0x80
            if r[0x09] & 0x80:  # handshake on STATUSINT.bit7
                r[0x2D] |= 0x80
            return
        if a == 0x14:  # FIFO_CTRL
            old = r[0x14]
            if (v ^ old) & 0x0F or (v & 0x03) == 0:  # size/mode change, bypass
                self.fifo.clear()
                self.ovf = False
            r[0x14] = (old & 0x80) & v | (v & 0x7F)  # RD_MODE clears only
            return
        if a == 0x00 or a == 0x01 or 0x15 <= a <= 0x17 or 0x2D <= a <= 0x5F:
            return  # read-only
        r[a] = v
