# QST QMI8658 (QMI8658A/C) FIFO driver. Register map: QMI8658A datasheet
# rev A. WHO_AM_I (0x00) = 0x05. Address 0x6B (SA0 low) or 0x6A (SA0 high).
#
# FIFO: FIFO_CTRL (0x14) FIFO_SIZE[3:2] = 11 -> 128 samples, FIFO_MODE[1:0]
# = 10 stream (oldest sample dropped when full). With accel and gyro on,
# one sample = accel X Y Z then gyro X Y Z, int16 little-endian (CTRL1.BE
# = 0): 12 bytes; 128 samples = 1536 B. FIFO_SMPL_CNT (0x15) and
# FIFO_STATUS[1:0] (0x16) give the fill level in 2-byte units. FIFO_STATUS:
# bit 7 full, bit 6 watermark, bit 5 overflow, bit 4 not empty.
# Reading: CTRL9 command CTRL_CMD_REQ_FIFO (0x05) puts the FIFO in read mode
# (FIFO_CTRL bit 7 FIFO_RD_MODE = 1); with CTRL8 bit 7 = 1 the command
# completion is STATUSINT (0x2D) bit 7, acknowledged by writing CTRL_CMD_ACK
# (0x00) to CTRL9. FIFO_DATA (0x17) is then burst-read with address
# auto-increment off (CTRL1.ADDR_AI = 0), and writing FIFO_CTRL with
# FIFO_RD_MODE = 0 resumes storing. Samples due while the FIFO is in read
# mode are not stored (the emulation assumes the worst here); they are
# counted, see below. Per read_fifo: ~8 transactions + the data burst
# (12 B per sample, ~0.3 ms per sample at 400 kHz).
#
# Loss accounting is exact: TIMESTAMP (0x30..0x32) is a 24-bit counter
# incremented once per sample, so every sample the chip produced but the
# FIFO did not hand over (overflow, read-mode window) is counted. Where a
# read-mode loss sits in the sequence is exact too, except when a sample
# lands between the counter read and the read-mode request: then one read's
# numbering can be off by one (the count stays right).
#
# ODR in 6DOF mode follows the gyro: 7174.4 Hz / 2**gODR; the nearest to
# 100 Hz is 112.1 Hz, to 200 Hz 224.2 Hz. Stall tolerance: 128 samples ->
# 1.14 s at 112.1 Hz, 0.57 s at 224.2 Hz (both well over 150 ms).
# Low pass: CTRL5 aLPF/gLPF on, mode 11 = 13.37 % of ODR (15 Hz at 112 Hz,
# 30 Hz at 224 Hz).

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython


from drivers.imu import IMU, IMUError, _pick, _pick_range, _unpack

_WHO_AM_I = const(0x00)
_CTRL1 = const(0x02)
_CTRL2 = const(0x03)
_CTRL3 = const(0x04)
_CTRL5 = const(0x06)
_CTRL7 = const(0x08)
_CTRL8 = const(0x09)
_CTRL9 = const(0x0A)
_FIFO_WTM_TH = const(0x13)
_FIFO_CTRL = const(0x14)
_FIFO_SMPL_CNT = const(0x15)
_FIFO_DATA = const(0x17)
_STATUSINT = const(0x2D)
_TIMESTAMP_L = const(0x30)

_CMD_ACK = const(0x00)
_CMD_RST_FIFO = const(0x04)
_CMD_REQ_FIFO = const(0x05)
_CTRL1_AI = const(0x40)  # ADDR_AI; BE = 0 (little-endian); oscillator on
_CTRL5_LPF = const(0x77)  # gLPF mode 11 + en, aLPF mode 11 + en
_CTRL7_AG = const(0x03)  # aEN | gEN
_CTRL8_HS = const(0x80)  # CTRL9 handshake on STATUSINT.bit7
_FIFO_CTRL_VAL = const(0x0E)  # 128 samples, stream mode
_CAP_BYTES = const(1536)
_CMD_POLLS = const(200)

WHOAMI = 0x05

_ODR_HZ = (896.8, 448.4, 224.2, 112.1, 56.05, 28.025)  # gODR codes 3..8
_ACCEL_RANGES = (2, 4, 8, 16)  # aFS 0..3: 16384 >> aFS LSB/g
_GYRO_RANGES = (16, 32, 64, 128, 256, 512, 1024, 2048)  # gFS 0..7: 2048 >> gFS


def read_whoami(bus, addr):
    b = bytearray(1)
    bus.readfrom_mem_into(addr, _WHO_AM_I, b)
    return b[0]


class QMI8658(IMU):
    """QMI8658. Use drivers.probe() or QMI8658(bus, addr=0x6B)."""

    name = "QMI8658"
    FRAME = 12
    FIFO_SAMPLES = 128

    def __init__(self, bus, addr=0x6B, whoami=None, clock_us=None):
        if whoami is None:
            whoami = read_whoami(bus, addr)
        if whoami != WHOAMI:
            raise IMUError(19, "not a QMI8658: WHO_AM_I 0x%02x at 0x%02x" % (whoami, addr))
        IMU.__init__(self, bus, addr, whoami, clock_us)
        self._b3 = bytearray(3)
        self._ts_last = 0

    def _read_whoami(self):
        return self._r(_WHO_AM_I)

    def _cmd(self, c):
        self._w(_CTRL9, c)
        i = 0
        while not (self._r(_STATUSINT) & 0x80):
            i += 1
            if i >= _CMD_POLLS:
                raise IMUError(5, "QMI8658: CTRL9 command 0x%02x timed out" % c)
        self._w(_CTRL9, _CMD_ACK)

    def _stamp(self):
        b = self._b3
        self.bus.readfrom_mem_into(self.addr, _TIMESTAMP_L, b)
        return b[0] | (b[1] << 8) | (b[2] << 16)

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        self._w(_CTRL1, _CTRL1_AI)
        self._w(_CTRL7, 0x00)  # sensors off while configuring
        self._w(_CTRL8, _CTRL8_HS)
        oi = _pick(_ODR_HZ, rate_hz)
        code = oi + 3
        ai = _pick_range(_ACCEL_RANGES, accel_range_g)
        gi = _pick_range(_GYRO_RANGES, gyro_range_dps)
        self._w(_CTRL2, (ai << 4) | code)
        self._w(_CTRL3, (gi << 4) | code)
        self._w(_CTRL5, _CTRL5_LPF)
        self._w(_FIFO_WTM_TH, 0x00)
        self._w(_FIFO_CTRL, _FIFO_CTRL_VAL)
        self._w(_CTRL7, _CTRL7_AG)
        self._set_rate(71744, 10 << code)  # 7174.4 Hz / 2**code
        self.accel_range_g = _ACCEL_RANGES[ai]
        self.gyro_range_dps = _GYRO_RANGES[gi]
        self.accel_lsb_per_g = 16384 >> ai
        self.gyro_lsb_per_dps = 2048 >> gi

    def _fifo_reset(self):
        self._cmd(_CMD_RST_FIFO)
        self._w(_FIFO_CTRL, _FIFO_CTRL_VAL)
        self._ts_last = self._stamp()

    def _level(self):
        # the sample counter: produced since the last good read
        return self._left + ((self._stamp() - self._ts_last) & 0xFFFFFF)

    def _discard(self, overflow):
        # Exact version of IMU._discard: the sample counter says how many
        # samples were produced since the last good read.
        t = self._stamp()
        lost = self._left + ((t - self._ts_last) & 0xFFFFFF)
        self._fifo_reset()  # re-reads the counter into _ts_last
        lost += (self._ts_last - t) & 0xFFFFFF  # produced during the reset
        if overflow:
            self.overflows += 1
        self._left = 0
        self._dirty = False
        if self.clock_us is not None:
            self._t_last = self.clock_us()
        self._book_lost(lost)

    @micropython.native
    def _read(self, buf, max_samples):
        # Order matters. 1. the sample counter; 2. read mode (the FIFO
        # freezes: later samples are dropped, counted by the counter);
        # 3. the level of the frozen FIFO, exact. Samples landing between 1
        # and 2 are in the FIFO but not in the counter reading (a surplus,
        # absorbed below); samples dropped from 2 on are counted next time,
        # where they belong: after everything read now, before what the
        # FIFO stores once read mode ends.
        t = self._stamp()
        self._cmd(_CMD_REQ_FIFO)
        s = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_SMPL_CNT, s)
        st = s[1]
        nbytes = (s[0] | ((st & 0x03) << 8)) << 1
        if nbytes > _CAP_BYTES:
            self._discard(False)
            return 0
        if st & 0x20:  # FIFO_OVFLOW: samples were dropped
            self._discard(True)
            return 0
        avail = nbytes // 12
        if not self._check(avail):
            return 0
        lost = self._left + ((t - self._ts_last) & 0xFFFFFF) - avail
        if lost < 0:
            self._ts_last = (t - lost) & 0xFFFFFF
        else:
            self._ts_last = t
            self._book_lost(lost)
        n = avail if avail < max_samples else max_samples
        if n:
            self._w(_CTRL1, 0x00)  # FIFO_DATA is a port: no auto-increment
            b = self._buf
            i = 0
            o = 0
            while i < n:
                k = self._burst(_FIFO_DATA, n - i)
                _unpack(b, k, buf, o, 0, 0)  # little-endian, ax..gz
                o += 6 * k
                i += k
            self._w(_CTRL1, _CTRL1_AI)
        self._w(_FIFO_CTRL, _FIFO_CTRL_VAL)  # FIFO_RD_MODE = 0: store again
        self._done(avail, n)
        return n
