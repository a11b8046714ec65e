"""CPython-only driver checks: the emulations catch a wrong register map, and
a recorded trace round-trips through every chip's FIFO.

The mutants patch a driver module's register constants (module globals on
CPython; `const` inlines them on MicroPython, hence host only) and show the
shared tests' checks would fail: a wrong count register, byte order, frame
layout or WHO_AM_I cannot pass against the emulations.
"""
import glob
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "shared"))

import test_drivers as T  # noqa: E402
from drivers import IMUError, lsm6ds, lsm6ds3, lsm6dsox, mpu6050, qmi8658  # noqa: E402
from sim import chips  # noqa: E402

MUTANTS = [
    # (what is wrong, module, constant, wrong value, chip)
    ("FIFO count from COUNTL (0x73)", mpu6050, "_FIFO_COUNTH", 0x73, chips.MPU6050Chip),
    ("FIFO read from ACCEL_XOUT_H", mpu6050, "_FIFO_R_W", 0x3B, chips.MPU6500Chip),
    ("temperature in the FIFO frame", mpu6050, "_FIFO_EN_XYZG_ACCEL", 0xF8, chips.MPU6050Chip),
    ("FIFO status from 0x3B", lsm6ds3, "_FIFO_STATUS1", 0x3B, chips.LSM6DS3Chip),
    ("FIFO data from OUT_H (0x3F)", lsm6ds3, "_FIFO_DATA_OUT_L", 0x3F, chips.LSM6DS3TRCChip),
    ("DSOX FIFO status from 0x3B", lsm6dsox, "_FIFO_STATUS1", 0x3B, chips.LSM6DSOXChip),
    ("gyro and accel tags swapped", lsm6dsox, "_TAG_GYRO", 0x02, chips.LSM6DSOXChip),
    ("no IF_INC", lsm6ds, "_CTRL3_BDU_IF_INC", 0x40, chips.LSM6DSOXChip),
    ("big-endian data (CTRL1.BE)", qmi8658, "_CTRL1_AI", 0x60, chips.QMI8658Chip),
    ("FIFO count from FIFO_STATUS", qmi8658, "_FIFO_SMPL_CNT", 0x16, chips.QMI8658Chip),
    ("no STATUSINT handshake", qmi8658, "_CTRL8_HS", 0x00, chips.QMI8658Chip),
]


def _stream(chip_cls):
    rig = T.Rig(chip_cls, 100)
    t = 0
    for _ in range(20):
        t += 20000
        rig.run(t)
    assert rig.got == list(range(rig.produced())) and rig.imu.take_gap() == 0
    assert len(rig.got) > 30


@pytest.mark.parametrize("what,mod,name,value,chip", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_wrong_register_map_fails(monkeypatch, what, mod, name, value, chip):
    _stream(chip)  # the real driver passes
    monkeypatch.setattr(mod, name, value)
    with pytest.raises((AssertionError, OSError)):
        _stream(chip)


def test_wrong_whoami_table_fails(monkeypatch):
    monkeypatch.setattr(mpu6050, "WHOAMI", {0x68: "MPU-6050"})
    with pytest.raises(IMUError):
        T.probe_one(chips.MPU9250Chip)
    monkeypatch.setattr(lsm6ds, "WHOAMI", {0x69: "LSM6DS3"})
    with pytest.raises(IMUError):
        T.probe_one(chips.LSM6DSOXChip)


TRACES = sorted(glob.glob(os.path.join(ROOT, "tests", "traces", "*.csv")))


@pytest.mark.skipif(not TRACES, reason="no trace corpus")
def test_recorded_trace_round_trips_every_chip():
    from heeldrop.traceio import read_trace

    tr = read_trace(TRACES[0], skip_bad=True)
    n = min(len(tr.t_ms), 2000)
    cols = (tr.ax, tr.ay, tr.az, tr.gx, tr.gy, tr.gz)
    for cls in T.ALL:
        rig = T.Rig(cls, 100)
        rig.chip.source = None
        for k in range(n):
            rig.chip.feed(*(c[k] for c in cols))
        out = []
        t = 0
        while len(out) < n:
            t += 30000
            rig.chip.advance_to(t)
            m = rig.imu.read_fifo(rig.buf, T.MAXN)
            for i in range(m):
                out.append(tuple(rig.buf[6 * i : 6 * i + 6]))
        assert rig.imu.take_gap() == 0
        imu = rig.imu
        for k in range(n):
            for ax in range(6):
                lsb = imu.accel_lsb_per_g if ax < 3 else imu.gyro_lsb_per_dps
                full = imu.accel_range_g if ax < 3 else imu.gyro_range_dps
                want = cols[ax][k]
                if abs(want) * lsb >= 32767 or abs(want) > full:
                    continue  # clipped at full scale, as the sensor would
                assert abs(out[k][ax] / lsb - want) <= 1 / lsb + 1e-9, (cls.NAME, k, ax)


def _range_settings(chip):
    # (register, value) pairs selecting each accel and gyro range code
    if isinstance(chip, chips.MPU6050Chip):
        return [((0x1C, k << 3), (0x1B, k << 3)) for k in range(4)]
    if isinstance(chip, chips.QMI8658Chip):
        return [((0x03, k << 4), (0x04, k << 4)) for k in range(8)]
    return [((0x10, k << 2), (0x11, (k << 2) | f)) for k in range(4) for f in (0, 2)]  # LSM: FS_125 too


RATIO_CHIPS = (chips.MPU6050Chip, chips.LSM6DS3Chip, chips.QMI8658Chip)  # the others inherit their ranges


@pytest.mark.parametrize("cls", RATIO_CHIPS, ids=[c.NAME for c in RATIO_CHIPS])
def test_count_ratios_match_the_chips_sensitivity(cls):
    # chip.counts (the sim board) converts by exact integer ratios; they must
    # be the sensitivity each range register selects: equal to the float
    # path (g or dps times the chip's LSB per unit, rounded) for every
    # int16, except where the exact value is a tie the float path rounds
    # either way.
    chip = cls()
    for (ra, va), (rg, vg) in _range_settings(chip):
        chip.regs[ra] = va
        chip.regs[rg] = vg
        chip._ratios()
        for v in list(range(-32768, 32768, 7)) + [-32768, -1, 0, 1, 32767]:
            for acc in (True, False):
                n, d = (chip._an, chip._ad) if acc else (chip._gn, chip._gd)
                assert abs(2 * v * n + d) < 1 << 30  # a 32-bit port's small int
                got = chips._icounts(v, n, d)
                want = chips._counts(v / 8192 if acc else v / 65.5, chip.accel_lsb() if acc else chip.gyro_lsb())
                tie = (2 * v * n + d) % (2 * d) == 0
                assert got == want or tie, (cls.NAME, hex(va), hex(vg), acc, v, got, want)
