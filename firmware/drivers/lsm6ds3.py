# ST LSM6DS3 / LSM6DS3TR-C driver (untagged FIFO); the family: drivers/lsm6ds.py.
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

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython

from drivers.imu import _unpack
from drivers.lsm6ds import _LSM

_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL4_C = const(0x13)
_CTRL6_C = const(0x15)
_CTRL7_G = const(0x16)
_CTRL8_XL = const(0x17)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_L = const(0x3E)
_FIFO_CTRL1 = const(0x06)
_FIFO_CTRL2 = const(0x07)
_FIFO_CTRL3 = const(0x08)
_FIFO_CTRL4 = const(0x09)
_FIFO_CTRL5 = const(0x0A)
_FIFO_MODE_CONT = const(0x06)


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
        fast = odr >= 5  # 208 Hz and up
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
        self._w(_FIFO_CTRL1, 0x00)  # watermark unused
        self._w(_FIFO_CTRL2, 0x00)  # no step counter / timestamp data set
        self._w(_FIFO_CTRL3, 0x09)  # gyro and accel in FIFO, no decimation
        self._w(_FIFO_CTRL4, 0x00)  # no 3rd/4th data set

    def _level(self):
        s = self._b4
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        if s[1] & 0x40:  # OVER_RUN
            return -1
        words = 0 if s[1] & 0x10 else s[0] | ((s[1] & self._diff_hi) << 8)
        return (words + 5) // 6

    def _fifo_reset(self):
        self._w(_FIFO_CTRL5, 0x00)  # bypass: empties the FIFO
        self._w(_FIFO_CTRL5, (self._odr << 3) | _FIFO_MODE_CONT)

    @micropython.native
    def _read(self, buf, max_samples):
        # native (937 bytes of machine code in an RP2040's heap): as
        # bytecode its frame, larger than the VM keeps on the C stack, was
        # allocated on the heap at each read (heap_lock does not see that)
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
