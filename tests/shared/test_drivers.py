# IMU drivers against the register-level chip emulations on the fake bus.
# Plain test functions: run by pytest on CPython and by tests/run_unix.py in
# the MicroPython unix port (where the zero-allocation test is real).
import array

from drivers import IMUError, probe
from drivers.lsm6ds3 import LSM6DS3
from drivers.lsm6dsox import LSM6DSOX
from drivers.mpu6050 import MPU6050
from drivers.qmi8658 import QMI8658
from sim import chips
from sim.i2cbus import FakeI2C

from heaplock import heap_locked

ALL = (
    chips.MPU6050Chip,
    chips.MPU6500Chip,
    chips.MPU9250Chip,
    chips.LSM6DS3Chip,
    chips.LSM6DS3TRCChip,
    chips.LSM6DSOXChip,
    chips.QMI8658Chip,
)
NAMES = {
    chips.MPU6050Chip: "MPU-6050",
    chips.MPU6500Chip: "MPU-6500",
    chips.MPU9250Chip: "MPU-9250",
    chips.LSM6DS3Chip: "LSM6DS3",
    chips.LSM6DS3TRCChip: "LSM6DS3TR-C",
    chips.LSM6DSOXChip: "LSM6DSOX",
    chips.QMI8658Chip: "QMI8658",
}
MAXN = 64


def ramp(k):
    # sample k of a trace: gz = k mod 400 deg/s identifies the sample; the
    # other axes vary with k so byte order and axis order are exercised.
    m = k % 400
    return (
        0.25 + 0.001 * m,
        -0.5 - 0.003 * (k % 97),
        1.0 - 0.002 * (k % 31),
        -120.0 + 0.7 * (k % 53),
        33.3 - 0.1 * (k % 71),
        float(m),
    )


class Rig:
    def __init__(self, chip_cls, rate=100, clock=True, addr=None, chip=None, driver=None):
        self.bus = FakeI2C()
        self.chip = chip if chip is not None else (chip_cls() if addr is None else chip_cls(addr))
        self.bus.attach(self.chip)
        self.chip.source = ramp
        c = self.chip
        clk = (lambda: c.now_us) if clock else None
        if driver is None:
            self.imu = probe(self.bus, clock_us=clk)
        else:
            self.imu = driver(self.bus, self.chip.addr, None, clk)
        self.imu.configure(rate)
        self.base = self.chip.produced  # chip sample index of seq 0
        self.buf = array.array("h", bytearray(2 * 6 * MAXN))
        self.got = []  # seq of every delivered sample
        self.strict = True
        self.last_k = -1

    def run(self, t_us, maxn=MAXN):
        """Advance the chip to t_us, then drain the FIFO. Returns samples."""
        self.chip.advance_to(t_us)
        total = 0
        while True:
            n = self.imu.read_fifo(self.buf, maxn)
            self.check(n)
            total += n
            if n < maxn:
                return total

    def check(self, n):
        # every delivered sample must be chip sample base + seq, all 6 axes
        # within one LSB (strict = False: the sample within +-4 of that
        # number, in increasing order: values and order, not the numbering)
        imu = self.imu
        for i in range(n):
            s = imu.first_seq + i
            ks = (self.base + s,) if self.strict else range(self.base + s - 4, self.base + s + 5)
            hit = None
            for k in ks:
                if self.matches(i, ramp(k)):
                    hit = k
                    break
            assert hit is not None, (imu.name, s, list(self.buf[6 * i : 6 * i + 6]))
            assert hit > self.last_k, (imu.name, s, hit, self.last_k)
            self.last_k = hit
            self.got.append(s)

    def matches(self, i, want):
        imu = self.imu
        for ax in range(6):
            lsb = imu.accel_lsb_per_g if ax < 3 else imu.gyro_lsb_per_dps
            if abs(self.buf[6 * i + ax] / lsb - want[ax]) > 1.0 / lsb + 1e-9:
                return False
        return True

    def produced(self):
        return self.chip.produced - self.base


def test_probe_identifies_each_chip():
    for cls in ALL:
        addrs = (0x68, 0x69) if cls.WHOAMI_REG == 0x75 else (0x6A, 0x6B)
        for a in addrs:
            bus = FakeI2C()
            bus.attach(cls(a))
            imu = probe(bus)
            assert imu.name == NAMES[cls], (imu.name, cls.NAME)
            assert imu.addr == a
    assert isinstance(probe_one(chips.MPU6050Chip), MPU6050)
    assert isinstance(probe_one(chips.LSM6DS3Chip), LSM6DS3)
    assert isinstance(probe_one(chips.LSM6DS3TRCChip), LSM6DS3)
    assert isinstance(probe_one(chips.LSM6DSOXChip), LSM6DSOX)
    assert isinstance(probe_one(chips.QMI8658Chip), QMI8658)


def probe_one(cls):
    bus = FakeI2C()
    bus.attach(cls())
    return probe(bus)


def test_probe_loads_only_the_driver_of_the_chip_found():
    # On an RP2040 a driver module's bytecode and machine code sit in the
    # heap: probe() reads WHO_AM_I itself and imports the one driver it
    # needs (before, all three loaded and two were dropped after boot,
    # leaving holes among the code: the Pico model's smallest largest free
    # block went from 9.4 to 13.9 KB without them). The LSM6DS family is
    # split the same way: its shared module and the chip's own (one
    # lsm6ds module with both classes kept the other chip's code in the
    # heap, the LSM6DSOX's 2 KB of native pairing loop on an LSM6DS3 too).
    import sys

    import drivers
    from drivers import imu as imu_mod, lsm6ds, mpu6050, qmi8658

    assert sorted(imu_mod._MPU_IDS) == sorted(mpu6050.WHOAMI)
    assert sorted(imu_mod._LSM_IDS) == sorted(lsm6ds.WHOAMI)
    assert imu_mod._QMI_ID == qmi8658.WHOAMI
    names = ("drivers.mpu6050", "drivers.lsm6ds", "drivers.lsm6ds3", "drivers.lsm6dsox", "drivers.qmi8658")
    for cls, want in ((chips.MPU6050Chip, ["drivers.mpu6050"]), (chips.MPU6500Chip, ["drivers.mpu6050"]),
                      (chips.LSM6DS3Chip, ["drivers.lsm6ds", "drivers.lsm6ds3"]),
                      (chips.LSM6DS3TRCChip, ["drivers.lsm6ds", "drivers.lsm6ds3"]),
                      (chips.LSM6DSOXChip, ["drivers.lsm6ds", "drivers.lsm6dsox"]),
                      (chips.QMI8658Chip, ["drivers.qmi8658"])):
        saved = {}
        for n in names:
            if n in sys.modules:
                saved[n] = sys.modules.pop(n)
            attr = n.split(".")[1]
            if hasattr(drivers, attr):
                delattr(drivers, attr)
        try:
            probe_one(cls)
            loaded = [n for n in names if n in sys.modules]
            assert loaded == want, (cls.NAME, loaded)
        finally:
            for n in names:
                sys.modules.pop(n, None)
                attr = n.split(".")[1]
                if hasattr(drivers, attr):
                    delattr(drivers, attr)
            for n in saved:
                sys.modules[n] = saved[n]
                setattr(drivers, n.split(".")[1], saved[n])


def test_probe_error_names_what_was_found():
    bus = FakeI2C()
    try:
        probe(bus)
        assert False, "empty bus must raise"
    except IMUError as e:
        assert isinstance(e, OSError)
        assert "0x68: no answer" in str(e) and "0x6b: no answer" in str(e), str(e)
    bus = FakeI2C()
    bus.attach(chips.MPU6050Chip(0x68, whoami=0x12))  # something else at 0x68
    bus.attach(chips.LSM6DS3Chip(0x6A, whoami=0x33))
    try:
        probe(bus)
        assert False, "unknown chips must raise"
    except IMUError as e:
        msg = str(e)
        assert "0x68: WHO_AM_I(0x75)=0x12" in msg, msg
        assert "0x6a: WHO_AM_I(0x0f)=0x33" in msg, msg


def test_probe_prefers_known_chip_and_checks_whoami():
    # an LSM6DS at 0x6A and a QMI8658 at 0x6B: the first match wins
    bus = FakeI2C()
    bus.attach(chips.QMI8658Chip(0x6B))
    bus.attach(chips.LSM6DSOXChip(0x6A))
    assert probe(bus).name == "LSM6DSOX"
    # a direct constructor refuses a wrong WHO_AM_I
    bus = FakeI2C()
    bus.attach(chips.QMI8658Chip(0x6B, whoami=0x07))
    try:
        QMI8658(bus, 0x6B)
        assert False
    except IMUError:
        pass


def test_mpu_config_registers():
    r = Rig(chips.MPU6050Chip, 100).chip.regs
    assert r[0x6B] == 0x01 and r[0x19] == 9 and r[0x1A] == 4  # 100 Hz, DLPF 21 Hz
    assert r[0x1B] == 0x08 and r[0x1C] == 0x08  # 500 dps, 4 g
    assert r[0x23] == 0x78 and r[0x6A] == 0x40 and r[0x38] == 0x10
    rig = Rig(chips.MPU6500Chip, 200)
    r = rig.chip.regs
    assert r[0x19] == 4 and r[0x1A] == 0x43 and r[0x1D] == 3  # FIFO_MODE, DLPF 44 Hz
    assert rig.imu.rate_hz == 200 and rig.imu.FIFO_SAMPLES == 42
    imu = rig.imu
    imu.configure(100, accel_range_g=8, gyro_range_dps=2000)
    assert r[0x1C] == 0x10 and r[0x1B] == 0x18
    assert imu.accel_lsb_per_g == 4096 and imu.gyro_lsb_per_dps == 16.4
    imu.configure(333)
    assert r[0x19] == 2 and abs(imu.rate_hz - 333.33) < 0.01


def test_lsm_config_registers():
    rig = Rig(chips.LSM6DS3Chip, 100)
    r = rig.chip.regs
    assert rig.imu.rate_hz == 104
    assert r[0x10] == 0x4B and r[0x11] == 0x44 and r[0x12] == 0x44 and r[0x13] == 0x80
    assert r[0x08] == 0x09 and r[0x0A] == 0x26  # both in FIFO, 104 Hz, continuous
    rig = Rig(chips.LSM6DS3TRCChip, 200)
    r = rig.chip.regs
    assert rig.imu.rate_hz == 208 and r[0x10] == 0x58 and r[0x17] == 0xC0 and r[0x0A] == 0x2E
    rig = Rig(chips.LSM6DSOXChip, 100)
    r = rig.chip.regs
    assert r[0x10] == 0x4A and r[0x11] == 0x44 and r[0x09] == 0x44 and r[0x0A] == 0x06
    rig.imu.configure(100, accel_range_g=16, gyro_range_dps=250)
    assert r[0x10] == 0x46 and r[0x11] == 0x40
    assert abs(rig.imu.accel_lsb_per_g - 1000 / 0.488) < 1e-6
    assert rig.imu.gyro_range_dps == 250


def test_qmi_config_registers():
    rig = Rig(chips.QMI8658Chip, 100)
    r = rig.chip.regs
    assert abs(rig.imu.rate_hz - 112.1) < 1e-9
    assert r[0x02] == 0x40 and r[0x03] == 0x16 and r[0x04] == 0x56
    assert r[0x06] == 0x77 and r[0x08] == 0x03 and r[0x09] == 0x80 and r[0x14] == 0x0E
    assert rig.imu.accel_lsb_per_g == 8192 and rig.imu.gyro_lsb_per_dps == 64
    rig.imu.configure(200, accel_range_g=2, gyro_range_dps=2000)
    assert abs(rig.imu.rate_hz - 224.2) < 1e-9
    assert r[0x03] == 0x05 and r[0x04] == 0x75


def test_round_trip_known_values():
    # a trace fed through the registers comes back within one LSB, in order
    for cls in ALL:
        for rate in (100, 200):
            rig = Rig(cls, rate)
            t = 0
            while rig.produced() < 300:
                t += 20000
                rig.run(t)
            assert rig.got == list(range(len(rig.got))), cls.NAME
            assert rig.imu.seq == rig.produced() and rig.imu.take_gap() == 0


def test_fed_values_through_queue():
    # feed() values (not the ramp source) reach the driver unchanged
    rig = Rig(chips.LSM6DSOXChip, 100)
    vals = ((0.5, -1.25, 3.9, 499.0, -499.0, 0.0), (-3.9, 0.0, 0.001, -0.5, 0.25, 250.0))
    rig.chip.source = None
    for v in vals:
        rig.chip.feed(*v)
    rig.chip.advance_to(20000)  # 2 samples at 104 Hz
    n = rig.imu.read_fifo(rig.buf, MAXN)
    assert n == 2
    for i in range(2):
        for ax in range(6):
            lsb = rig.imu.accel_lsb_per_g if ax < 3 else rig.imu.gyro_lsb_per_dps
            assert abs(rig.buf[6 * i + ax] / lsb - vals[i][ax]) <= 1 / lsb


def test_stall_150ms_loses_nothing():
    for cls in ALL:
        for rate in (100, 200):
            rig = Rig(cls, rate)
            t = 0
            for _ in range(10):
                t += 10000
                rig.run(t)
            t += 150000  # main loop stalled
            rig.run(t)
            for _ in range(5):
                t += 10000
                rig.run(t)
            assert rig.imu.take_gap() == 0 and rig.imu.lost == 0, cls.NAME
            assert rig.imu.overflows == 0
            assert rig.got == list(range(rig.produced())), cls.NAME


def test_long_stall_overflow_reported_exactly():
    # reads on a 250 ms grid (a whole number of periods at 100 / 104 Hz, so
    # the clock-based count is exact); an 8 s stall overflows every FIFO
    for cls in ALL:
        rig = Rig(cls, 100)
        imu = rig.imu
        t = 0
        for _ in range(4):
            t += 250000
            rig.run(t)
        delivered = len(rig.got)
        t += 8000000
        rig.chip.advance_to(t)
        before = rig.produced()
        n = imu.read_fifo(rig.buf, MAXN)
        assert n == 0 and imu.overflows == 1, (cls.NAME, n, imu.overflows)
        gap = imu.take_gap()
        assert gap == before - delivered, (cls.NAME, gap, before - delivered)
        assert imu.take_gap() == 0 and imu.lost == gap
        assert imu.seq == before
        for _ in range(4):
            t += 250000
            rig.run(t)
        assert imu.take_gap() == 0 and imu.seq == rig.produced(), cls.NAME
        # samples after the gap carry their true sequence numbers
        assert rig.got[-1] == rig.produced() - 1 and rig.got[delivered] == before, cls.NAME


def test_restart_after_an_overflow_starts_clean():
    # start-up work (opening the session store: flash erases) can overflow
    # the FIFO between configure() and the loop's restart(); a status bit
    # that stays latched until read (LSM6DSOX FIFO_OVR_LATCHED) must not
    # make the first read after restart() discard good samples and book a
    # FIFO's worth of them as lost
    for cls in ALL:
        rig = Rig(cls, 100)
        imu = rig.imu
        rig.chip.advance_to(8000000)  # 8 s with nobody reading: overflowed
        imu.restart()
        rig.base = rig.chip.produced - imu.seq  # seq counts on from here
        rig.run(8100000)
        rig.run(8200000)
        assert imu.overflows == 0 and imu.take_gap() == 0 and imu.lost == 0, cls.NAME
        assert len(rig.got) >= 18 and rig.got == list(range(imu.seq - len(rig.got), imu.seq)), (cls.NAME, rig.got)


def test_overflow_without_clock_is_still_reported():
    for cls in ALL:
        rig = Rig(cls, 100, clock=False)
        rig.run(100000)
        rig.chip.advance_to(10000000)
        assert rig.imu.read_fifo(rig.buf, MAXN) == 0
        gap = rig.imu.take_gap()
        assert gap >= rig.imu.FIFO_SAMPLES + 1 and rig.imu.overflows == 1, cls.NAME


def test_unplug_raises_and_recover_keeps_seq():
    for cls in ALL:
        rig = Rig(cls, 100)
        imu = rig.imu
        t = 0
        for _ in range(4):
            t += 250000
            rig.run(t)
        seq_before = imu.seq
        rig.chip.advance_to(t + 100000)
        rig.bus.unplug(rig.chip.addr)
        try:
            imu.read_fifo(rig.buf, MAXN)
            assert False, "read on an unplugged sensor must raise"
        except OSError as e:
            assert e.args[0] == 19
        try:
            imu.recover()
            assert False, "recover while unplugged must raise"
        except OSError:
            pass
        t += 1000000
        rig.chip.advance_to(t)
        rig.bus.replug(rig.chip.addr, power_cycle=True)
        imu.recover()
        # 1 s at 100 / 104 Hz since the last good read: all booked as a gap
        periods = (1000000 * int(imu._num)) // (imu._den * 1000000)
        gap = imu.take_gap()
        assert gap == periods, (cls.NAME, gap, periods)
        assert imu.seq == seq_before + gap and imu.recoveries == 1
        base_seq = imu.seq
        rig.base = rig.chip.produced - base_seq  # the chip restarted its count
        for _ in range(4):
            t += 250000
            rig.run(t)
        assert imu.take_gap() == 0, cls.NAME
        assert imu.seq == rig.chip.produced - rig.base
        assert rig.got[-1] == imu.seq - 1


def test_bus_error_mid_burst_resyncs():
    # an EIO in the middle of the FIFO burst: the next read flushes the
    # half-read FIFO and books it, the stream stays aligned and numbered
    for cls in ALL:
        rig = Rig(cls, 100)
        imu = rig.imu
        t = 250000
        rig.run(t)
        t += 250000
        rig.chip.advance_to(t)
        rig.bus.fail_after(1, n=1, errno=5)  # the 2nd transaction: a burst
        try:
            imu.read_fifo(rig.buf, 16)
            assert False, "EIO must propagate: " + cls.NAME
        except OSError as e:
            assert e.args[0] == 5
        t += 250000
        rig.run(t)
        gap = imu.take_gap()
        assert gap > 0 and imu.errors == 1, cls.NAME
        t += 250000
        rig.run(t)
        assert imu.take_gap() == 0 and imu.seq == rig.produced(), (cls.NAME, imu.seq, rig.produced())


def test_partial_sample_waits_for_next_read():
    # a read racing the chip's FIFO write sees part of a sample: only whole
    # samples are returned, the rest completes on the next read
    units = {chips.QMI8658Chip: 4, chips.LSM6DSOXChip: 7, chips.LSM6DS3Chip: 6}
    for cls in ALL:
        rig = Rig(cls, 100)
        t = 100000
        rig.run(t)
        rig.chip.split_next(units.get(cls, 5))
        k = rig.imu.read_fifo(rig.buf, MAXN)
        assert k == 0, (cls.NAME, k)
        t += 100000
        rig.run(t)
        assert rig.imu.take_gap() == 0 and rig.got == list(range(rig.produced())), cls.NAME


def test_corrupted_count():
    regs = {
        chips.MPU6050Chip: (0x72, 0xFF),
        chips.MPU6500Chip: (0x72, 0x1F),
        chips.MPU9250Chip: (0x72, 0x1F),
        chips.LSM6DS3Chip: (0x3B, 0x0F),
        chips.LSM6DS3TRCChip: (0x3B, 0x07),
        chips.LSM6DSOXChip: (0x3B, 0x03),
        chips.QMI8658Chip: (0x16, 0x13),
    }
    for cls in ALL:
        rig = Rig(cls, 100)
        t = 250000
        rig.run(t)
        reg, val = regs[cls]
        t += 250000
        rig.chip.advance_to(t)
        # the MPU driver re-reads an impossible count once: glitch it twice
        rig.chip.glitch(reg, val, times=2 if reg == 0x72 else 1)
        assert rig.imu.read_fifo(rig.buf, MAXN) == 0
        gap = rig.imu.take_gap()
        assert gap == rig.produced() - len(rig.got), (cls.NAME, gap)
        t += 250000
        rig.run(t)
        assert rig.imu.seq == rig.produced() and rig.imu.take_gap() == 0, cls.NAME
    # a single glitch on the MPU count is re-read and costs nothing
    rig = Rig(chips.MPU6050Chip, 100)
    rig.chip.advance_to(100000)
    rig.chip.glitch(0x72, 0xFF, times=1)
    rig.run(100000)
    assert rig.imu.take_gap() == 0 and len(rig.got) == 10


def test_dsox_pairs_words_by_tag_counter():
    rig = Rig(None, 100, chip=chips.LSM6DSOXChip(accel_first=True))
    t = 0
    for _ in range(10):
        t += 50000
        rig.run(t, maxn=3)
    assert rig.got == list(range(rig.produced())) and rig.imu.unpaired == 0


def test_dsox_pairing_drops_a_word_without_partner_and_carries_a_half_sample():
    # drivers.lsm6dsox._pair (viper on a board, 64- and 32-bit ports too):
    # a gyro and an accel word of the same TAG_CNT make a sample; a word
    # whose partner never came is dropped and counted; other tags are
    # skipped; a half sample waits across calls (a burst or a read may end
    # between the two words of one sample).
    from drivers import lsm6dsox

    def word(tag, cnt, x, y, z):
        b = bytearray(7)
        b[0] = (tag << 3) | (cnt << 1)
        for m, v in enumerate((x, y, z)):
            b[1 + 2 * m] = v & 0xFF
            b[2 + 2 * m] = (v >> 8) & 0xFF
        return b

    G, A, TEMP = 1, 2, 3
    words = [word(G, 0, 1, 2, 3), word(A, 0, 4, 5, 6),  # sample 0
             word(G, 1, 7, 8, 9), word(G, 2, -7, -8, -9),  # a gyro word without its accel: dropped
             word(TEMP, 2, 99, 99, 99),  # not batched here, skipped
             word(A, 2, -4, -5, -32768),  # sample 1
             word(G, 3, 10, 11, 12), word(A, 0, 13, 14, 15),  # slots differ: the gyro word dropped
             word(G, 0, 16, 17, 18),  # sample 2 (the accel word kept)
             word(A, 1, 19, 20, 21)]  # half a sample: waits for the next call
    b = bytearray()
    for w in words:
        b += w
    st = array.array("i", (4, 4, 0, 0, 0, 0, 0, 0, 0))  # nothing waiting (_NONE)
    out = array.array("h", bytearray(2 * 6 * 8))
    n = lsm6dsox._pair(b, 5, st, out, 0)  # a burst ends inside sample 1
    n += lsm6dsox._pair(b[35:], len(words) - 5, st, out, 6 * n)
    assert n == 3, n
    assert list(out[:18]) == [4, 5, 6, 1, 2, 3, -4, -5, -32768, -7, -8, -9, 13, 14, 15, 16, 17, 18], list(out[:18])
    assert st[8] == 2 and st[0] == 4 and st[1] == 1, list(st)  # two dropped; the accel of slot 1 waits
    n = lsm6dsox._pair(word(G, 1, 22, 23, 24), 1, st, out, 0)
    assert n == 1 and list(out[:6]) == [19, 20, 21, 22, 23, 24], list(out[:6])
    assert st[0] == 4 and st[1] == 4 and st[8] == 2


def test_sensor_that_stops_is_reported():
    # a brown-out without a bus error: the chip comes back asleep at
    # power-on defaults, the FIFO stays empty; after 250 ms the driver says
    # so (a read 100 ms after the last samples, the app's longest period,
    # is not yet a fault)
    rig = Rig(chips.MPU6050Chip, 100)
    rig.run(100000)
    rig.bus.unplug(0x68)
    rig.bus.replug(0x68)
    rig.run(200000)
    try:
        rig.run(400000)
        assert False, "a silent sensor must raise"
    except IMUError:
        pass
    rig.imu.recover()
    assert rig.imu.take_gap() == 30


def test_slow_bus_keeps_count():
    # clock stretching: chip time passes during every transaction
    for cls in ALL:
        rig = Rig(cls, 200)
        rig.bus.stall_us = 700
        # The QMI8658 stores nothing while its FIFO is in read mode: samples
        # due during a read are dropped and counted (exactly) as lost, but a
        # sample landing between the counter read and the read-mode request
        # can shift the numbering of a read by one.
        rig.strict = cls is not chips.QMI8658Chip
        t = 0
        for _ in range(30):
            t += 20000
            rig.run(max(t, rig.chip.now_us))
        rig.bus.stall_us = 0
        rig.run(rig.chip.now_us + 50000)
        imu = rig.imu
        assert imu.seq == rig.produced(), (cls.NAME, imu.seq, rig.produced())
        # only the QMI8658 drops samples (FIFO read mode), and says how many
        assert imu.lost == rig.chip.dropped, (cls.NAME, imu.lost, rig.chip.dropped)
        assert sorted(rig.got) == rig.got


def test_read_fifo_does_not_allocate():
    for cls in ALL:
        rig = Rig(cls, 200)
        imu = rig.imu
        buf = rig.buf

        def read():
            return imu.read_fifo(buf, 8)

        rig.chip.advance_to(50000)
        imu.read_fifo(buf, MAXN)  # warm up
        total = 0
        t = 50000
        for i in range(20):
            t += 15000 if i % 2 else 1000  # also empty reads
            rig.chip.advance_to(t)
            n = heap_locked(read)
            total += n
        assert total > 0 and imu.take_gap() == 0, cls.NAME
        assert imu.seq + (rig.produced() - imu.seq) == rig.produced()


try:
    import micropython as _mp
except ImportError:  # CPython
    _mp = None


class _ImageBus:
    """A bus that reads registers from a fixed image (a burst from reg
    copies image[reg:]) and ignores writes: no chip emulation, so nothing
    but the driver allocates. Its methods are small bytecode (a frame the
    VM keeps on the C stack) or viper."""

    def __init__(self, image):
        self.img = image

    def readfrom_mem_into(self, addr, reg, buf):
        _copy_from(buf, self.img, reg, len(buf))

    def writeto_mem(self, addr, reg, buf):
        pass


def _copy_from_py(dst, src, at, n):
    for i in range(n):
        dst[i] = src[at + i]


if _mp is not None and hasattr(_mp, "viper"):
    exec("""
@micropython.viper
def _copy_from(dst, src, at: int, n: int):
    d = ptr8(dst)
    s = ptr8(src)
    i = 0
    while i < n:
        d[i] = s[at + i]
        i += 1
""", globals())
else:
    _copy_from = _copy_from_py


def test_read_fifo_makes_no_heap_frame():
    # heap_lock (above) does not see a bytecode frame the VM allocates on
    # the heap: with the heap locked it goes to the C stack instead. A
    # frame of more than 11 words (a _read with its locals) is allocated on
    # the heap at each call otherwise, then freed: heap churn on every read
    # (micropython.mem_total counts it). The LSM6DS chips' _read as
    # bytecode did: 200 bytes a read on the 64-bit port.
    def image(pairs):
        img = bytearray(256)
        for reg, val in pairs:
            img[reg] = val
        return img

    tagged = []
    for cnt in (0, 1):
        for tag in (1, 2):  # gyro, accel
            tagged += [(tag << 3) | (cnt << 1), 1, 0, 2, 0, 3, 0]
    cases = (
        (MPU6050, 0x68, image([(0x72, 0), (0x73, 24), (0x3A, 0)])),  # 2 frames
        (LSM6DS3, 0x69, image([(0x3A, 12), (0x3B, 0), (0x3C, 0), (0x3D, 0)])),  # 12 words: 2 samples
        (LSM6DSOX, 0x6C, image([(0x3A, 4), (0x3B, 0)] + [(0x78 + i, v) for i, v in enumerate(tagged)])),
    )
    mt = getattr(_mp, "mem_total", None)  # MICROPY_MEM_STATS builds (the unix ports)
    for cls, who, img in cases:
        imu = cls(_ImageBus(img), 0x6A, who, None)
        imu.configure(100)
        buf = array.array("h", bytearray(2 * 6 * 8))
        got = imu.read_fifo(buf, 8)  # warm up
        before = mt() if mt else 0
        for _ in range(10):
            got += imu.read_fifo(buf, 8)
        after = mt() if mt else 0
        assert got == 22, (cls.__name__, got)
        assert after - before == 0, (cls.__name__, after - before)


def test_bus_api_and_error_injection():
    bus = FakeI2C()
    bus.attach(chips.MPU6050Chip())
    bus.attach(chips.QMI8658Chip(0x6B))
    assert bus.scan() == [0x68, 0x6B]
    assert bus.readfrom_mem(0x68, 0x75, 1) == b"\x68"
    assert bus.readfrom_mem(0x6B, 0x00, 1) == b"\x05"
    bus.fail_next(2, errno=5)
    for _ in range(2):
        try:
            bus.readfrom_mem(0x68, 0x75, 1)
            assert False
        except OSError as e:
            assert e.args[0] == 5
    assert bus.readfrom_mem(0x68, 0x75, 1) == b"\x68"
    try:
        bus.writeto_mem(0x50, 0x00, b"\x00")
        assert False
    except OSError as e:
        assert e.args[0] == 19


def test_chip_soft_resets_restore_power_on_values():
    # MPU-6050 DEVICE_RESET, LSM6DS SW_RESET, QMI8658 RESET = 0xB0: registers
    # back to power-on values (MPU asleep), FIFO empty, WHO_AM_I intact
    cases = (
        (chips.MPU6050Chip, 0x6B, 0x80, 0x6B, 0x40),
        (chips.LSM6DS3Chip, 0x12, 0x01, 0x12, 0x04),
        (chips.LSM6DSOXChip, 0x12, 0x01, 0x10, 0x00),
        (chips.QMI8658Chip, 0x60, 0xB0, 0x02, 0x20),
    )
    for cls, reg, val, check_reg, check_val in cases:
        rig = Rig(cls, 100)
        rig.run(100000)
        rig.chip.advance_to(150000)
        assert rig.chip.fifo.count > 0
        rig.bus.writeto_mem(rig.chip.addr, reg, bytes([val]))
        c = rig.chip
        assert c.regs[c.WHOAMI_REG] == c.WHOAMI and c.fifo.count == 0, cls.NAME
        assert c.regs[check_reg] == check_val, (cls.NAME, c.regs[check_reg])
        # the driver notices the silence (250 ms), recover() brings it back
        c.advance_to(400000)
        try:
            rig.imu.read_fifo(rig.buf, MAXN)
            assert False, "silent sensor must raise: " + cls.NAME
        except IMUError:
            pass
        rig.imu.recover()
        assert rig.imu.take_gap() > 0
        rig.base = c.produced - rig.imu.seq
        rig.run(600000)
        assert rig.imu.take_gap() == 0 and len(rig.got) > 10, cls.NAME


class CountRamp:
    """A chip.counts source as the sim board's sample file: row k as int16
    counts at 8192 LSB/g and 65.5 LSB/dps (the ramp's values, rounded)."""

    def __init__(self):
        self.rows = [[int(round(v * (8192 if ax < 3 else 65.5))) for ax, v in enumerate(ramp(k))]
                     for k in range(400)]

    def read(self, k, out):
        row = self.rows[k % 400]
        for i in range(6):
            out[i] = row[i]


def test_counts_source_makes_samples_without_allocating():
    # The sim board's chip shares one heap with the firmware (heeldrop sim
    # --board-ram): making a sample from chip.counts must allocate nothing,
    # or the emulation's garbage and objects would fragment the firmware's
    # heap as nothing on a board does. Every range the drivers use, past
    # 2**30 us (the clock wraps like ticks_us).
    t0 = (1 << 30) - 30000  # ticks_us wraps 30 ms in
    for cls in ALL:
        chip = cls()
        chip.now_us = t0
        rig = Rig(cls, 200, chip=chip)
        src = CountRamp()
        chip.source = None
        chip.counts = src
        rig.imu.restart()
        first = chip.produced
        for i in range(6):
            t = (t0 + 20000 * (i + 1)) & ((1 << 30) - 1)
            heap_locked(lambda: chip.advance_to(t))
        made = chip.produced - first
        assert 20 <= made <= 30, (cls.NAME, made)
        n = rig.imu.read_fifo(rig.buf, MAXN)
        assert n == made and rig.imu.take_gap() == 0, (cls.NAME, n, made)
        # the values: each axis within one LSB of the source's count
        imu = rig.imu
        for i in range(n):
            row = src.rows[(first + i) % 400]
            for ax in range(6):
                lsb = imu.accel_lsb_per_g if ax < 3 else imu.gyro_lsb_per_dps
                want = row[ax] / (8192 if ax < 3 else 65.5)
                assert abs(rig.buf[6 * i + ax] / lsb - want) <= 1.0 / lsb + 1e-9, (cls.NAME, i, ax)
