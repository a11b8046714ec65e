# ST LSM6DS3 / LSM6DS3TR-C (untagged FIFO) and LSM6DSOX (tagged FIFO) driver.
#
# WHO_AM_I (0x0F): 0x69 LSM6DS3 (also the LSM6DS3H, 4 KB FIFO),
# 0x6A LSM6DS3TR-C (same value as LSM6DSL/DSM), 0x6C LSM6DSOX (and LSM6DSO).
# Addresses 0x6A (SA0 low) / 0x6B (SA0 high).
#
# LSM6DS3 / DS3TR-C FIFO: 16-bit words, read from FIFO_DATA_OUT_L/H
# (0x3E/0x3F; a multi-byte read rolls back from 0x3F to 0x3E, as in Linux
# st_lsm6dsx_read_fifo). With gyro and accel batched at the same ODR, each
# sample is the data set gyro X Y Z then the data set accel X Y Z: 6 words
# little-endian. FIFO_STATUS1..4 (0x3A..0x3D): DIFF_FIFO (unread words, 12
# bits on DS3, 11 on DS3TR-C), FIFO_EMPTY (bit 12), OVER_RUN (bit 14),
# FIFO_PATTERN (index of the next word in the 6-word pattern).
# Continuous mode overwrites the oldest data set when full.
#
# LSM6DSOX FIFO: tagged 7-byte words from FIFO_DATA_OUT_TAG (0x78) +
# 0x79..0x7E; bursts roll back from 0x7E to 0x78 (Linux
# st_lsm6dsx_read_tagged_fifo). Tag byte: TAG_SENSOR[7:3] (0x01 gyro,
# 0x02 accel, 0x03 temperature, 0x04 timestamp, 0x05 config change),
# TAG_CNT[2:1] (time slot counter, pairs the gyro and accel words of one
# sample), TAG_PARITY[0]. FIFO_STATUS1/2 (0x3A/0x3B): DIFF_FIFO (10 bits,
# unread words), FIFO_OVR_IA (bit 14), FIFO_OVR_LATCHED (bit 11).
# FIFO_OVR_LATCHED stays set until FIFO_STATUS2 is read, through a bypass
# reset: _fifo_reset() reads it, or an overrun from before a restart (the
# FIFO fills while the board opens its session store at boot, each flash
# erase stalling the CPU) would make the first read after it discard good
# samples and book a whole FIFO of them as lost.
#
# Capacity and stall tolerance (samples = gyro + accel pairs):
#   LSM6DS3      8 KB = 4096 words = 682 samples: 104 Hz -> 6.5 s, 208 Hz -> 3.3 s
#   LSM6DS3TR-C  4 KB = 2048 words = 341 samples: 104 Hz -> 3.3 s, 208 Hz -> 1.6 s
#   LSM6DSOX     512 tagged words (3.5 KB; ST's "9 KB" counts compressed
#                data) = 256 samples: 104 Hz -> 2.5 s, 208 Hz -> 1.2 s
# All far above a 150 ms stall. (An LSM6DS3H answers 0x69 too: 341 samples.)
#
# Filters (accel): DS3 analog anti-alias BW_XL = 50 Hz (CTRL4_C
# XL_BW_SCAL_ODR = 1); DS3TR-C LPF1 ODR/4 (26 Hz at 104 Hz) or LPF2 ODR/9
# (23 Hz at 208 Hz); DSOX LPF2 ODR/4 (26 Hz) or ODR/10 (21 Hz). The gyro
# digital LPF1 is left at its default: at 104/208 Hz ODR the gyro chain
# bandwidth is set by the ODR (check against the datasheet LPF1 tables
# before relying on a sharper cut).

import array

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython


from drivers.imu import IMU, IMUError, _pick, _pick_range, _unpack

_WHO_AM_I = const(0x0F)
_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL3_C = const(0x12)
_CTRL4_C = const(0x13)
_CTRL6_C = const(0x15)
_CTRL7_G = const(0x16)
_CTRL8_XL = const(0x17)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_L = const(0x3E)  # DS3 / DS3TR-C
_FIFO_DATA_OUT_TAG = const(0x78)  # DSOX

# LSM6DS3 / DS3TR-C FIFO control
_DS3_FIFO_CTRL1 = const(0x06)
_DS3_FIFO_CTRL2 = const(0x07)
_DS3_FIFO_CTRL3 = const(0x08)
_DS3_FIFO_CTRL4 = const(0x09)
_DS3_FIFO_CTRL5 = const(0x0A)
# LSM6DSOX FIFO control
_OX_FIFO_CTRL1 = const(0x07)
_OX_FIFO_CTRL2 = const(0x08)
_OX_FIFO_CTRL3 = const(0x09)
_OX_FIFO_CTRL4 = const(0x0A)

_FIFO_MODE_CONT = const(0x06)
_CTRL3_BDU_IF_INC = const(0x44)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)

WHOAMI = {0x69: "LSM6DS3", 0x6A: "LSM6DS3TR-C", 0x6C: "LSM6DSOX"}

# ODR codes 1..8 for CTRL1_XL/CTRL2_G[7:4], FIFO_CTRL5 ODR_FIFO[6:3] (DS3)
# and FIFO_CTRL3 BDR (DSOX). Rates as (num, den) Hz.
_ODR_HZ = (12.5, 26, 52, 104, 208, 416, 833, 1666)
_ODR_ND = ((25, 2), (26, 1), (52, 1), (104, 1), (208, 1), (416, 1), (833, 1), (1666, 1))
_ACCEL_RANGES = (2, 4, 8, 16)  # g
_FS_XL = (0, 2, 3, 1)  # FS_XL[1:0] codes for 2, 4, 8, 16 g
_ACCEL_MG = (0.061, 0.122, 0.244, 0.488)  # mg per LSB (datasheet)
_GYRO_RANGES = (250, 500, 1000, 2000)  # deg/s, FS_G 0..3 (the first is 245 on DS3)
_GYRO_MDPS = (8.75, 17.5, 35.0, 70.0)  # mdps per LSB


def read_whoami(bus, addr):
    b = bytearray(1)
    bus.readfrom_mem_into(addr, _WHO_AM_I, b)
    return b[0]


class _LSM(IMU):
    def __init__(self, bus, addr=0x6A, whoami=None, clock_us=None):
        if whoami is None:
            whoami = read_whoami(bus, addr)
        if whoami not in WHOAMI:
            raise IMUError(19, "not an LSM6DS: WHO_AM_I 0x%02x at 0x%02x" % (whoami, addr))
        self.name = WHOAMI[whoami]
        IMU.__init__(self, bus, addr, whoami, clock_us)

    def _read_whoami(self):
        return self._r(_WHO_AM_I)

    def _common(self, rate_hz, accel_range_g, gyro_range_dps):
        """Pick codes; returns the ODR code (1..8)."""
        oi = _pick(_ODR_HZ, rate_hz)
        ai = _pick_range(_ACCEL_RANGES, accel_range_g)
        gi = _pick_range(_GYRO_RANGES, gyro_range_dps)
        num, den = _ODR_ND[oi]
        self._set_rate(num, den)
        self.accel_range_g = _ACCEL_RANGES[ai]
        self.gyro_range_dps = _GYRO_RANGES[gi]
        if self.whoami != 0x6C and gi == 0:
            self.gyro_range_dps = 245
        self.accel_lsb_per_g = 1000.0 / _ACCEL_MG[ai]
        self.gyro_lsb_per_dps = 1000.0 / _GYRO_MDPS[gi]
        self._fs_xl = _FS_XL[ai]
        self._fs_g = gi
        self._odr = oi + 1
        self._w(_CTRL3_C, _CTRL3_BDU_IF_INC)
        return oi + 1


class LSM6DS3(_LSM):
    """LSM6DS3 (WHO_AM_I 0x69) and LSM6DS3TR-C (0x6A): untagged FIFO."""

    FRAME = 12

    def __init__(self, bus, addr=0x6A, whoami=None, clock_us=None):
        _LSM.__init__(self, bus, addr, whoami, clock_us)
        if self.whoami == 0x69:
            self._cap_words = 4096
            self._diff_hi = 0x0F
        else:
            self._cap_words = 2048
            self._diff_hi = 0x07
        self.FIFO_SAMPLES = self._cap_words // 6

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        odr = self._common(rate_hz, accel_range_g, gyro_range_dps)
        fast = _ODR_HZ[odr - 1] >= 150
        if self.whoami == 0x69:
            # BW_XL = 11 (50 Hz anti-alias), selected by XL_BW_SCAL_ODR.
            self._w(_CTRL1_XL, (odr << 4) | (self._fs_xl << 2) | 0x03)
            self._w(_CTRL4_C, 0x80)
            self._w(_CTRL8_XL, 0x00)
        else:
            # LPF1_BW_SEL: ODR/4 below 150 Hz; LPF2 ODR/9 (HPCF_XL = 10) above.
            self._w(_CTRL1_XL, (odr << 4) | (self._fs_xl << 2) | (0x00 if fast else 0x02))
            self._w(_CTRL4_C, 0x00)
            self._w(_CTRL8_XL, 0xC0 if fast else 0x00)
        self._w(_CTRL2_G, (odr << 4) | (self._fs_g << 2))
        self._w(_CTRL6_C, 0x00)
        self._w(_CTRL7_G, 0x00)
        self._w(_DS3_FIFO_CTRL1, 0x00)  # watermark unused
        self._w(_DS3_FIFO_CTRL2, 0x00)  # no step counter / timestamp data set
        self._w(_DS3_FIFO_CTRL3, 0x09)  # gyro and accel in FIFO, no decimation
        self._w(_DS3_FIFO_CTRL4, 0x00)  # no 3rd/4th data set

    def _level(self):
        s = self._b4
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        if s[1] & 0x40:  # OVER_RUN
            return -1
        words = 0 if s[1] & 0x10 else s[0] | ((s[1] & self._diff_hi) << 8)
        return (words + 5) // 6

    def _fifo_reset(self):
        self._w(_DS3_FIFO_CTRL5, 0x00)  # bypass: empties the FIFO
        self._w(_DS3_FIFO_CTRL5, (self._odr << 3) | _FIFO_MODE_CONT)

    @micropython.native
    def _read(self, buf, max_samples):
        s = self._b4
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        s2 = s[1]
        if s2 & 0x40:  # OVER_RUN: oldest data sets overwritten
            self._discard(True)
            return 0
        words = 0 if s2 & 0x10 else s[0] | ((s2 & self._diff_hi) << 8)
        pattern = s[2] | ((s[3] & 0x03) << 8)
        if words > self._cap_words or (words and pattern != 0):
            # Impossible count, or the FIFO front is mid-sample: resync.
            self._discard(False)
            return 0
        avail = words // 6  # a partly written sample stays for next time
        if not self._check(avail):
            return 0
        n = avail if avail < max_samples else max_samples
        b = self._buf
        i = 0
        o = 0
        while i < n:
            k = self._burst(_FIFO_DATA_OUT_L, n - i)
            # little-endian; gyro words first, then accel -> ax ay az gx gy gz
            _unpack(b, k, buf, o, 0, 1)
            o += 6 * k
            i += k
        self._done(avail, n)
        return n


class LSM6DSOX(_LSM):
    """LSM6DSOX / LSM6DSO (WHO_AM_I 0x6C): tagged FIFO."""

    FRAME = 7  # one tagged word; a sample is two words

    def __init__(self, bus, addr=0x6A, whoami=None, clock_us=None):
        _LSM.__init__(self, bus, addr, whoami, clock_us)
        self._cap_words = 512
        self.FIFO_SAMPLES = 256
        # words waiting for their partner (gyro/accel of the same TAG_CNT)
        self._g = array.array("h", (0, 0, 0))
        self._a = array.array("h", (0, 0, 0))
        self._gcnt = -1
        self._acnt = -1
        self.unpaired = 0  # words dropped for lack of a partner (diagnostic)

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        odr = self._common(rate_hz, accel_range_g, gyro_range_dps)
        fast = _ODR_HZ[odr - 1] >= 150
        # LPF2_XL_EN; HPCF_XL = 000 (ODR/4) below 150 Hz, 001 (ODR/10) above.
        self._w(_CTRL1_XL, (odr << 4) | (self._fs_xl << 2) | 0x02)
        self._w(_CTRL8_XL, 0x20 if fast else 0x00)
        self._w(_CTRL2_G, (odr << 4) | (self._fs_g << 2))
        self._w(_CTRL4_C, 0x00)
        self._w(_CTRL6_C, 0x00)
        self._w(_CTRL7_G, 0x00)
        self._w(_OX_FIFO_CTRL1, 0x00)  # watermark unused
        self._w(_OX_FIFO_CTRL2, 0x00)
        self._w(_OX_FIFO_CTRL3, (odr << 4) | odr)  # BDR_GY, BDR_XL = ODR

    def _level(self):
        s = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        if s[1] & 0x48:  # FIFO_OVR_IA or FIFO_OVR_LATCHED
            return -1
        # the words in the FIFO and the half sample the driver holds
        pend = 1 if (self._gcnt >= 0 or self._acnt >= 0) else 0
        return (s[0] + ((s[1] & 0x03) << 8) + pend + 1) >> 1

    def _fifo_reset(self):
        self._w(_OX_FIFO_CTRL4, 0x00)  # bypass: empties the FIFO
        self._w(_OX_FIFO_CTRL4, _FIFO_MODE_CONT)  # no timestamp / temp batching
        self._r(_FIFO_STATUS1 + 1)  # FIFO_STATUS2: read-to-clear a stale FIFO_OVR_LATCHED
        self._gcnt = -1
        self._acnt = -1

    @micropython.native
    def _read(self, buf, max_samples):
        s = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        s2 = s[1]
        if s2 & 0x48:  # FIFO_OVR_IA or FIFO_OVR_LATCHED
            self._discard(True)
            return 0
        words = s[0] | ((s2 & 0x03) << 8)
        if words > self._cap_words:
            self._discard(False)
            return 0
        pend = 1 if (self._gcnt >= 0 or self._acnt >= 0) else 0
        avail = (words + pend) >> 1
        if not self._check(avail if avail or not words else 1):
            return 0
        todo = 2 * max_samples - pend
        if todo > words:
            todo = words
        b = self._buf
        g = self._g
        a = self._a
        n = 0
        o = 0
        while todo > 0:
            k = self._burst(_FIFO_DATA_OUT_TAG, todo)
            j = 0
            for _ in range(k):
                t = b[j]
                tag = t >> 3
                if tag == _TAG_GYRO or tag == _TAG_ACCEL:
                    d = g if tag == _TAG_GYRO else a
                    for m in range(3):
                        jj = j + 1 + 2 * m
                        v = b[jj] | (b[jj + 1] << 8)
                        if v & 0x8000:
                            v -= 0x10000
                        d[m] = v
                    cnt = (t >> 1) & 3
                    if tag == _TAG_GYRO:
                        if self._gcnt >= 0:
                            self.unpaired += 1
                        self._gcnt = cnt
                    else:
                        if self._acnt >= 0:
                            self.unpaired += 1
                        self._acnt = cnt
                    if self._gcnt >= 0 and self._acnt >= 0:
                        if self._gcnt == self._acnt:
                            buf[o] = a[0]
                            buf[o + 1] = a[1]
                            buf[o + 2] = a[2]
                            buf[o + 3] = g[0]
                            buf[o + 4] = g[1]
                            buf[o + 5] = g[2]
                            o += 6
                            n += 1
                            self._gcnt = -1
                            self._acnt = -1
                        else:  # slots differ: keep the word just read
                            self.unpaired += 1
                            if tag == _TAG_GYRO:
                                self._acnt = -1
                            else:
                                self._gcnt = -1
                j += 7
            todo -= k
        self._done(avail, n)
        return n


def driver_for(whoami):
    return LSM6DSOX if whoami == 0x6C else LSM6DS3
