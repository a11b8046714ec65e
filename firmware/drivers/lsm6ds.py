# ST LSM6DS3 / LSM6DS3TR-C (untagged FIFO) and LSM6DSOX (tagged FIFO): the
# family's shared part.
#
# WHO_AM_I (0x0F): 0x69 LSM6DS3 (also the LSM6DS3H, 4 KB FIFO),
# 0x6A LSM6DS3TR-C (same value as LSM6DSL/DSM), 0x6C LSM6DSOX (and LSM6DSO).
# Addresses 0x6A (SA0 low) / 0x6B (SA0 high).
#
# The family is three modules, so a board loads only its chip's code (on an
# RP2040 a module's bytecode and machine code sit in the 246 KB heap with
# the data): this one (WHO_AM_I, the ODR and range tables, what both FIFO
# kinds share), drivers/lsm6ds3.py (LSM6DS3, LSM6DS3TR-C) and
# drivers/lsm6dsox.py (LSM6DSOX). drivers.probe() imports this one, then
# the chip's: each alone (a module imported inside another's import lands
# above the outer one's load garbage).
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

try:
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const

from drivers.imu import IMU, IMUError, _pick, _pick_range

_WHO_AM_I = const(0x0F)
_CTRL3_C = const(0x12)
_CTRL3_BDU_IF_INC = const(0x44)

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
        """Pick codes; returns the ODR code (1..8: 5 and up are 208 Hz and up)."""
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
