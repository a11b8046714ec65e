# InvenSense MPU-6050 and MPU-6500 family (MPU-6500, MPU-9250, MPU-9255,
# MPU-6515) FIFO driver. Register map: PS-MPU-6000A / RM-MPU-6000A (6050),
# RM-MPU-6500 / RM-MPU-9250A (6500 family).
#
# FIFO: 1024 B on the MPU-6050, 512 B on the 6500 family (as in Linux
# inv_mpu6050 hw_info). One sample = ACCEL_XOUT_H..ACCEL_ZOUT_L then
# GYRO_XOUT_H..GYRO_ZOUT_L (FIFO_EN = XG|YG|ZG|ACCEL, no temperature):
# 12 bytes, big-endian int16, already in ax ay az gx gy gz order.
#
# Capacity and stall tolerance (whole 12-byte frames):
#   MPU-6050  1024 B = 85 frames: 100 Hz -> 850 ms, 200 Hz -> 425 ms
#   MPU-6500/9250  512 B = 42 frames: 100 Hz -> 420 ms, 200 Hz -> 210 ms
# so a 150 ms main-loop stall loses nothing at 100 or 200 Hz on either.
#
# Overflow: the MPU-6050 keeps writing when full and drops the OLDEST BYTES
# (RM-MPU-6000A, FIFO_R_W): 1024 is not a multiple of 12, so after an
# overflow the FIFO front is mid-frame (byte 8 of a frame). The 6500 family
# is set to CONFIG.FIFO_MODE = 1 (stop writing when full), which leaves a
# truncated last frame (512 = 42 * 12 + 8). Either way the count then reads
# the full capacity (1024 or 512, never a multiple of 12) and INT_STATUS
# FIFO_OFLOW_INT is set: the driver discards the FIFO and books the gap.

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython


from drivers.imu import IMU, IMUError, _pick_range, _unpack

_SMPLRT_DIV = const(0x19)
_CONFIG = const(0x1A)
_GYRO_CONFIG = const(0x1B)
_ACCEL_CONFIG = const(0x1C)
_ACCEL_CONFIG2 = const(0x1D)  # 6500 family only
_FIFO_EN = const(0x23)
_INT_ENABLE = const(0x38)
_INT_STATUS = const(0x3A)
_USER_CTRL = const(0x6A)
_PWR_MGMT_1 = const(0x6B)
_PWR_MGMT_2 = const(0x6C)
_FIFO_COUNTH = const(0x72)  # COUNTH then COUNTL: big-endian
_FIFO_R_W = const(0x74)
_WHO_AM_I = const(0x75)

_FIFO_OFLOW = const(0x10)  # INT_STATUS / INT_ENABLE bit 4
_USER_FIFO_EN = const(0x40)
_USER_FIFO_RESET = const(0x04)
_FIFO_EN_XYZG_ACCEL = const(0x78)  # XG_FIFO_EN | YG | ZG | ACCEL_FIFO_EN

WHOAMI = {
    0x68: "MPU-6050",
    0x70: "MPU-6500",
    0x71: "MPU-9250",
    0x73: "MPU-9255",
    0x74: "MPU-6515",
}

_ACCEL_RANGES = (2, 4, 8, 16)  # g, AFS_SEL 0..3: 16384 >> AFS_SEL LSB/g
_GYRO_RANGES = (250, 500, 1000, 2000)  # deg/s, FS_SEL 0..3
_GYRO_LSB = (131.0, 65.5, 32.8, 16.4)  # LSB per deg/s


def read_whoami(bus, addr):
    b = bytearray(1)
    bus.readfrom_mem_into(addr, _WHO_AM_I, b)
    return b[0]


class MPU6050(IMU):
    """MPU-6050 / MPU-6500 family. Use drivers.probe() or
    MPU6050(bus, addr=0x68, whoami=None, clock_us=None)."""

    FRAME = 12

    def __init__(self, bus, addr=0x68, whoami=None, clock_us=None):
        if whoami is None:
            whoami = read_whoami(bus, addr)
        if whoami not in WHOAMI:
            raise IMUError(19, "not an MPU-6xx0: WHO_AM_I 0x%02x at 0x%02x" % (whoami, addr))
        self.name = WHOAMI[whoami]
        self.is_6050 = whoami == 0x68
        self.fifo_bytes = 1024 if self.is_6050 else 512
        self.FIFO_SAMPLES = self.fifo_bytes // 12
        IMU.__init__(self, bus, addr, whoami, clock_us)

    def _read_whoami(self):
        return self._r(_WHO_AM_I)

    def _setup(self, rate_hz, accel_range_g, gyro_range_dps):
        self._w(_PWR_MGMT_1, 0x01)  # awake, clock = PLL on X gyro
        self._w(_PWR_MGMT_2, 0x00)  # all axes on
        self._w(_USER_CTRL, 0x00)  # FIFO and I2C master off while configuring
        self._w(_FIFO_EN, 0x00)
        # With the DLPF on (DLPF_CFG 1..6) the gyro output rate is 1 kHz and
        # ODR = 1000 / (1 + SMPLRT_DIV).
        div = int(1000 / rate_hz + 0.5) - 1
        if div < 0:
            div = 0
        if div > 255:
            div = 255
        # DLPF_CFG 3: accel 44 Hz / gyro 42 Hz (6500: 44.8 / 41 Hz) for ODR >=
        # 150 Hz; DLPF_CFG 4: 21 / 20 Hz below, keeping it under Nyquist.
        dlpf = 3 if 1000 / (1 + div) >= 150 else 4
        self._w(_CONFIG, dlpf if self.is_6050 else dlpf | 0x40)  # 0x40: FIFO_MODE
        self._w(_SMPLRT_DIV, div)
        gi = _pick_range(_GYRO_RANGES, gyro_range_dps)
        ai = _pick_range(_ACCEL_RANGES, accel_range_g)
        self._w(_GYRO_CONFIG, gi << 3)  # 6500: FCHOICE_B = 00 (DLPF used)
        self._w(_ACCEL_CONFIG, ai << 3)
        if not self.is_6050:
            self._w(_ACCEL_CONFIG2, dlpf)  # A_DLPF_CFG 3: 44.8 Hz, 4: 21.2 Hz
        self._w(_INT_ENABLE, _FIFO_OFLOW)
        self._set_rate(1000, 1 + div)
        self.accel_range_g = _ACCEL_RANGES[ai]
        self.gyro_range_dps = _GYRO_RANGES[gi]
        self.accel_lsb_per_g = 16384 >> ai
        self.gyro_lsb_per_dps = _GYRO_LSB[gi]
        self.dlpf_cfg = dlpf

    def _fifo_reset(self):
        self._w(_USER_CTRL, _USER_FIFO_RESET)  # FIFO_RESET acts while FIFO_EN = 0
        self._w(_FIFO_EN, _FIFO_EN_XYZG_ACCEL)
        self._w(_USER_CTRL, _USER_FIFO_EN)
        self._r(_INT_STATUS)  # read-to-clear a stale FIFO_OFLOW_INT

    def _count(self):
        b = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_COUNTH, b)
        return ((b[0] << 8) | b[1]) & 0x1FFF

    def _level(self):
        c = self._count()
        return -1 if c >= self.fifo_bytes else (c + 11) // 12

    @micropython.native
    def _read(self, buf, max_samples):
        b = self._b2
        self.bus.readfrom_mem_into(self.addr, _FIFO_COUNTH, b)  # _count(), inline
        count = ((b[0] << 8) | b[1]) & 0x1FFF
        cap = self.fifo_bytes
        if count > cap:
            # Impossible value: a glitch on the bus or a confused chip. Read
            # again; if it stays impossible the stream cannot be trusted.
            count = self._count()
            if count > cap:
                self._discard(False)
                return 0
        if count == cap:
            # Full: bytes were dropped (6050) or a frame was cut (6500).
            self._r(_INT_STATUS)  # clears FIFO_OFLOW_INT
            self._discard(True)
            return 0
        # count % 12 != 0: a frame is being written; take whole frames only.
        avail = count // 12
        if not self._check(avail):
            return 0
        n = avail if avail < max_samples else max_samples
        b = self._buf
        i = 0
        o = 0
        while i < n:
            k = self._burst(_FIFO_R_W, n - i)
            _unpack(b, k, buf, o, 1, 0)  # big-endian, ax..gz
            o += 6 * k
            i += k
        self._done(avail, n)
        return n
