# ST LSM6DSOX / LSM6DSO driver (tagged FIFO); the family: drivers/lsm6ds.py.
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

import array

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr8, ptr16, ptr32

from drivers.lsm6ds import _LSM

_CTRL1_XL = const(0x10)
_CTRL2_G = const(0x11)
_CTRL4_C = const(0x13)
_CTRL6_C = const(0x15)
_CTRL7_G = const(0x16)
_CTRL8_XL = const(0x17)
_FIFO_STATUS1 = const(0x3A)
_FIFO_DATA_OUT_TAG = const(0x78)
_FIFO_CTRL1 = const(0x07)
_FIFO_CTRL2 = const(0x08)
_FIFO_CTRL3 = const(0x09)
_FIFO_CTRL4 = const(0x0A)
_FIFO_MODE_CONT = const(0x06)
_TAG_GYRO = const(0x01)
_TAG_ACCEL = const(0x02)
_CAP_WORDS = const(512)  # FIFO words: 256 samples
_NONE = const(4)  # no word waiting for its partner (TAG_CNT is 0..3; not -1:
# a 64-bit port's viper loads a ptr32 word unsigned)


@micropython.viper
def _pair(b, k: int, st, dst, o: int) -> int:
    # k tagged FIFO words (7 bytes each) from b into dst[o:] (array('h')) as
    # samples ax ay az gx gy gz; returns how many. st (array('i')) carries
    # the pairing across bursts and reads: [0] the gyro word's TAG_CNT
    # (0..3; _NONE: none waiting), [1] the accel word's, [2:5] gyro x y z, [5:8]
    # accel x y z, [8] words dropped for lack of a partner. A gyro and an
    # accel word of the same TAG_CNT make a sample; a word whose slot
    # differs from its waiting partner's replaces it (the partner is
    # dropped). Other tags (temperature, timestamp, config) are skipped.
    # Viper (plain Python on CPython): as a native _read this loop took
    # 2 KB of an RP2040's heap.
    s = ptr8(b)
    p = ptr32(st)
    d = ptr16(dst)
    n = 0
    j = 0
    e = 7 * k
    while j < e:
        t = int(s[j])
        tag = t >> 3
        if tag == _TAG_GYRO or tag == _TAG_ACCEL:
            c = 0 if tag == _TAG_GYRO else 1  # this word's slot in st
            w = 2 + 3 * c
            jj = j + 1
            while jj < j + 7:
                v = int(s[jj]) | (int(s[jj + 1]) << 8)
                if v >= 32768:
                    v -= 65536
                p[w] = v
                w += 1
                jj += 2
            if p[c] != _NONE:
                p[8] = p[8] + 1
            p[c] = (t >> 1) & 3
            if p[0] != _NONE and p[1] != _NONE:
                if p[0] == p[1]:
                    m = 0
                    while m < 3:
                        d[o + m] = p[5 + m]
                        d[o + 3 + m] = p[2 + m]
                        m += 1
                    o += 6
                    n += 1
                    p[0] = _NONE
                    p[1] = _NONE
                else:  # slots differ: keep the word just read
                    p[8] = p[8] + 1
                    p[1 - c] = _NONE
        j += 7
    return n


@micropython.viper
def _take(imu, buf, max_samples: int, words: int) -> int:
    # the words to read now (up to max_samples samples with the half
    # sample imu._st holds, at most the words in the FIFO), read in bursts
    # and paired into buf: returns the samples
    st = ptr32(imu._st)
    todo = 2 * max_samples
    if st[0] != _NONE or st[1] != _NONE:
        todo -= 1
    if todo > words:
        todo = words
    n = 0
    while todo > 0:
        k = int(imu._burst(_FIFO_DATA_OUT_TAG, todo))
        n += int(_pair(imu._buf, k, imu._st, buf, 6 * n))
        todo -= k
    return n


class LSM6DSOX(_LSM):
    """LSM6DSOX / LSM6DSO (WHO_AM_I 0x6C): tagged FIFO."""

    FRAME = 7  # one tagged word; a sample is two words

    def __init__(self, bus, addr=0x6A, whoami=None, clock_us=None):
        _LSM.__init__(self, bus, addr, whoami, clock_us)
        self.FIFO_SAMPLES = _CAP_WORDS // 2
        # the pairing state (_pair): nothing waiting, nothing dropped
        self._st = array.array("i", (_NONE, _NONE, 0, 0, 0, 0, 0, 0, 0))

    @property
    def unpaired(self):
        """Words dropped for lack of a partner (diagnostic)."""
        return self._st[8]

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        odr = self._common(rate_hz, accel_range_g, gyro_range_dps)
        fast = odr >= 5  # 208 Hz and up
        # LPF2_XL_EN; HPCF_XL = 000 (ODR/4) below 150 Hz, 001 (ODR/10) above.
        self._w(_CTRL1_XL, (odr << 4) | (self._fs_xl << 2) | 0x02)
        self._w(_CTRL8_XL, 0x20 if fast else 0x00)
        self._w(_CTRL2_G, (odr << 4) | (self._fs_g << 2))
        self._w(_CTRL4_C, 0x00)
        self._w(_CTRL6_C, 0x00)
        self._w(_CTRL7_G, 0x00)
        self._w(_FIFO_CTRL1, 0x00)  # watermark unused
        self._w(_FIFO_CTRL2, 0x00)
        self._w(_FIFO_CTRL3, (odr << 4) | odr)  # BDR_GY, BDR_XL = ODR

    def _words(self):
        """Words in the FIFO (FIFO_STATUS1/2: DIFF_FIFO); -1 when it
        overflowed (FIFO_OVR_IA or FIFO_OVR_LATCHED). Bytecode with a frame
        the VM keeps on the C stack (at most 11 words): _read calls it."""
        s = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_STATUS1, s)
        if s[1] & 0x48:
            return -1
        return s[0] | ((s[1] & 0x03) << 8)

    def _pend(self):
        """1 when half a sample waits in _st for its partner word, else 0."""
        st = self._st
        return 0 if st[0] == _NONE and st[1] == _NONE else 1

    def _level(self):
        w = self._words()
        # the words in the FIFO and the half sample the driver holds
        return -1 if w < 0 else (w + self._pend() + 1) >> 1

    def _fifo_reset(self):
        self._w(_FIFO_CTRL4, 0x00)  # bypass: empties the FIFO
        self._w(_FIFO_CTRL4, _FIFO_MODE_CONT)  # no timestamp / temp batching
        self._r(_FIFO_STATUS1 + 1)  # FIFO_STATUS2: read-to-clear a stale FIFO_OVR_LATCHED
        st = self._st
        st[0] = _NONE
        st[1] = _NONE

    def _read(self, buf, max_samples):
        # bytecode with a frame of at most 11 words (6 locals, a stack of
        # 5), which the VM keeps on the C stack (a larger one it allocates
        # on the heap at each call: test_read_fifo_makes_no_heap_frame);
        # the bursts and their pairing are the viper _take and _pair (as
        # one native _read they took 2 KB of an RP2040's heap)
        words = self._words()
        if words < 0 or words > _CAP_WORDS:  # overflowed, or an impossible count
            self._discard(words < 0)
            return 0
        avail = (words + self._pend()) >> 1
        if not self._check(avail if avail or not words else 1):
            return 0
        n = _take(self, buf, max_samples, words)
        self._done(avail, n)
        return n
