# Firmware bench, run in the MicroPython unix port:
#
#   .venv/bin/micropython -X heapsize=64m firmware/sim/bench_fw.py [TRACE.csv]
#       (default tests/traces/demo_session.csv; finds firmware/ from its own path)
#
# prints one name=value a line:
#   firmware_us_per_sample      the whole per-sample loop: the CPU time of
#                               every App.loop_once pass (FIFO read and
#                               decode of the MPU-6050 driver, engine, cues,
#                               button, session log codec and staging, the
#                               SAMPLES/EVENT/STATUS frames, housekeeping)
#                               divided by the samples; best of _RUNS whole
#                               sessions (the machine is shared)
#   firmware_madgwick_us_per_sample   the Madgwick reference of `make bench`
#                               (mp_bench.py), timed in this process between
#                               the firmware runs, best of _RUNS (same heap
#                               size as mp_bench: 64 MB)
#   firmware_to_madgwick_time_ratio   the goal: <= 1.0
#   firmware_peak_heap_bytes    most heap the firmware's data held (gc.collect
#                               then gc.mem_alloc, every 64 loop passes, minus
#                               what was in use before the app was built: code
#                               and the bench's own buffers)
#   firmware_alloc_bytes_per_sample   heap allocated per sample (gc disabled
#                               for 500 passes)
#   firmware_heap_churn_bytes_per_sample   every heap allocation of the
#                               timed loop, freed at once or not
#                               (micropython.mem_total, whole session): a
#                               bytecode frame over 11 words and a bound
#                               method call with over 4 arguments take heap
#                               blocks, each a gc_alloc whose search grows
#                               with fragmentation, which is why the read
#                               path is native code
#   firmware_samples, firmware_reps, firmware_loop_passes,
#   firmware_passes_per_second  (fake time)
#   firmware_{driver,engine,log_codec,stream}_us_per_sample   each stage
#                               alone over the same samples (where the time goes)
#
# Time: a fake clock is the board's ticks. The app's idle(ms) (a board's
# time.sleep_ms until the next deadline) advances it by ms and costs no CPU
# here, as it costs none on a board; a pass that does not idle advances it
# by _BUSY_US. The chip's samples appear in the FIFO when the clock passes
# their time. So the passes are the ones the board would run.
#
# Excluding the emulation: the MPU-6050 emulation (sim/chips.py) produces the
# trace's FIFO bytes beforehand, outside the timing; during the timed run a
# stand-in bus serves FIFO_COUNT and FIFO_R_W from those bytes with slice
# copies (what an I2C peripheral's DMA does on a board), every other
# register from the emulated chip. The stand-ins (bus, LED and buzzer pins,
# the null serial stream and session files) are Python methods here where a
# board runs C: their call costs are counted, so the figure errs high.
import array
import gc
import os
import sys
import time

import micropython

_BUSY_US = 1000  # fake time a pass takes when the app does not idle after it
_RUNS = 5  # whole sessions timed, each followed by a Madgwick run; the best of each counts (the machine is shared)
_PART = 10  # samples a FIFO read in parts(): 100 ms at 100 Hz, as the app reads
_MW_SAMPLES = 1 << 30  # the whole trace, as mp_bench (its live input list weighs on the collector)

_ROOT = "/".join(__file__.split("/")[:-3]) or "."
for _p in (_ROOT + "/firmware", _ROOT + "/firmware/lib"):  # MICROPYPATH not needed
    if _p not in sys.path:
        sys.path.insert(1, _p)

from heelcore.config import Config  # noqa: E402


def read_counts(path):
    """(rate_hz, array('h') of 6 counts a sample at 8192 LSB/g, 65.5 LSB/dps)."""
    import array

    rate = 100.0
    out = array.array("h")
    header = True
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                if line.startswith("# sample_rate_hz="):
                    rate = float(line.split("=", 1)[1])
                continue
            if header:
                header = False
                continue
            p = line.split(",")
            if len(p) < 7:
                continue
            a = 8192
            g = 65.5
            for i in range(1, 7):
                v = round(float(p[i]) * (a if i < 4 else g))
                out.append(-32768 if v < -32768 else (32767 if v > 32767 else v))
    return rate, out


# Stand-ins for C calls, as viper functions (a call costs about what a
# built-in's does): the clock (time.ticks_ms / ticks_us on a board), the
# FIFO registers' I2C reads (machine.I2C), the serial stream (USB CDC). State
# in arrays: _CLK the fake time in us; _BUS the stream position, the bytes
# exposed, the end; _FIFO the prepared FIFO bytes; _OUT bytes written.
_CLK = array.array("i", [0])
_BUS = array.array("i", [0, 0, 0])
_FIFO = [bytearray(0)]
_CHIP = [None]
_OUT = array.array("i", [0])


@micropython.viper
def ticks_ms() -> int:
    c = ptr32(_CLK)
    return (int(c[0]) // 1000) & 0x3FFFFFFF


@micropython.viper
def ticks_us() -> int:
    c = ptr32(_CLK)
    return int(c[0]) & 0x3FFFFFFF


@micropython.viper
def _bus_read(addr: int, reg: int, buf):
    st = ptr32(_BUS)
    if reg == 0x74:
        b = ptr8(buf)
        src = ptr8(_FIFO[0])
        n = int(len(buf))
        p = int(st[0])
        k = 0
        while k < n:
            b[k] = src[p + k]
            k += 1
        st[0] = p + n
        st[1] = int(st[1]) - n
    elif reg == 0x72:
        a = int(st[1])
        if a > 1020:
            a = 1020
        b = ptr8(buf)
        b[0] = a >> 8
        b[1] = a & 0xFF
    else:
        _CHIP[0].read_into(reg, buf)


@micropython.viper
def _read_nothing(buf) -> int:
    return 0


@micropython.viper
def _write_count(data) -> int:
    o = ptr32(_OUT)
    n = int(len(data))
    o[0] = int(o[0]) + n
    return n  # all of it sent (link.Link.send counts a short write as dropped)


class PrefilledBus:
    """FIFO_COUNT / FIFO_R_W from a prepared byte stream (_bus_read); the
    other registers from the chip."""

    def __init__(self, chip, stream):
        self.chip = chip
        _CHIP[0] = chip
        _FIFO[0] = stream
        _BUS[0] = 0
        _BUS[1] = 0
        _BUS[2] = len(stream)
        self.readfrom_mem_into = _bus_read

    @property
    def avail(self):
        return _BUS[1]

    @property
    def pos(self):
        return _BUS[0]

    @property
    def end(self):
        return _BUS[2]

    def expose(self, nbytes):
        a = _BUS[1] + nbytes
        left = _BUS[2] - _BUS[0]
        _BUS[1] = a if a < left else left

    def writeto_mem(self, addr, reg, buf):
        self.chip.write(reg, buf)


class NullFile:
    """A session file that keeps nothing (bench only)."""

    def __init__(self, path, mode):
        self.bytes = 0

    def write(self, b):
        self.bytes += len(b)
        return len(b)

    def flush(self):
        pass

    def close(self):
        pass


class NullStream:
    """The serial stream: nothing comes in, what goes out is only counted."""

    def __init__(self):
        _OUT[0] = 0
        self.read_into = _read_nothing
        self.write = _write_count

    @property
    def bytes(self):
        return _OUT[0]


def fifo_stream(counts, rate):
    """The MPU-6050 emulation's FIFO bytes for every sample (untimed)."""
    from sim import chips

    chip = chips.MPU6050Chip()
    c = counts
    last = len(c) // 6 - 1

    def source(k):
        j = 6 * (k if k <= last else last)
        return (c[j] / 8192, c[j + 1] / 8192, c[j + 2] / 8192, c[j + 3] / 65.5, c[j + 4] / 65.5, c[j + 5] / 65.5)

    chip.source = source
    from drivers.mpu6050 import MPU6050

    class Bus:
        def readfrom_mem_into(self, addr, reg, buf):
            chip.read_into(reg, buf)

        def writeto_mem(self, addr, reg, buf):
            chip.write(reg, buf)

    imu = MPU6050(Bus(), 0x68, None, None)
    imu.configure(rate)
    period = imu._den * 1000000 // imu._num
    out = bytearray(2 * len(counts))
    o = 0
    t = chip.now_us
    f = chip.fifo
    while o < len(out):
        t += period * 40
        chip.advance_to(t)
        while f.count and o < len(out):
            out[o] = f.pop()
            o += 1
    return chip, imu, out


def parts(counts, stream, chip, rate, n):
    """Each stage alone over the same samples, in reads of _PART samples
    as the app does them (us per sample): where the loop's time goes."""
    import array

    from drivers.mpu6050 import MPU6050
    from heelcore.engine import Engine
    from heelcore.record import LogWriter
    from link import Link

    tu = time.ticks_us
    td = time.ticks_diff
    out = {}
    chip.reset()
    bus = PrefilledBus(chip, stream)
    _CLK[0] = 0
    imu = MPU6050(bus, 0x68, None, ticks_us)
    imu.configure(rate)
    buf = array.array("h", bytearray(2 * 6 * 64))
    k = 0
    t0 = tu()
    while k < n:
        _CLK[0] += 10000 * _PART
        bus.expose(12 * _PART)
        k += imu.read_fifo(buf, 64)
    out["driver"] = td(tu(), t0) / n
    # the trace's counts in reads of _PART samples, with their ticks
    m = n - n % _PART
    c = counts
    ts = array.array("i", range(0, 10 * m, 10))
    e = Engine(Config(side="left"), 8192, 65.5)
    t0 = tu()
    for i in range(0, m, _PART):
        if e.feed(ts, c, i, i + _PART):
            while e.pop_event():
                pass
    out["engine"] = td(tu(), t0) / m
    w = LogWriter(lambda b: None, {}, 50)
    cb = array.array("h", bytearray(12 * _PART))
    tb = array.array("i", bytearray(4 * _PART))
    t0 = tu()
    for i in range(0, m, _PART):
        # (the copy into the read-sized buffers is part of the timing, a
        # little more than the app's work)
        cb[:] = c[6 * i:6 * i + 6 * _PART]
        tb[:] = ts[i:i + _PART]
        w.add_samples(i, tb, cb, _PART)
    out["log_codec"] = td(tu(), t0) / m
    lk = Link(NullStream(), batch_n=10)
    t0 = tu()
    for i in range(0, m, _PART):
        cb[:] = c[6 * i:6 * i + 6 * _PART]
        tb[:] = ts[i:i + _PART]
        lk.stream_samples(i, tb, cb, _PART)
    out["stream"] = td(tu(), t0) / m
    return out


def madgwick_inputs(path):
    """The reference of `make bench` (host/heeldrop/mp_bench.py): its
    Madgwick update and inputs prepared as it prepares them (float tuples
    in g and rad/s, with the tick), over the first _MW_SAMPLES samples;
    returns (run_madgwick, inputs) with inputs() making that list."""
    import math

    p = _ROOT + "/host/heeldrop"
    if p not in sys.path:
        sys.path.append(p)
    from mp_bench import run_madgwick

    rate, c = read_counts(path)
    k = math.pi / 180 / 65.5
    m = min(len(c) // 6, _MW_SAMPLES)

    def inputs():
        fl = []
        for i in range(m):
            j = 6 * i
            fl.append((i * 10, c[j] / 8192, c[j + 1] / 8192, c[j + 2] / 8192,
                       c[j + 3] * k, c[j + 4] * k, c[j + 5] * k))
        return fl

    return run_madgwick, inputs


def run(stream, chip, rate, n, tmp, measure):
    """One whole session through App.loop_once; returns a dict of figures.
    measure: also the peak heap and the allocation per sample (first run)."""
    from button import Button
    from cues import Cues
    from drivers.mpu6050 import MPU6050
    from link import Link
    from logstore import SessionStore
    from sim import fakemachine

    import app as appmod
    import boards.sim as simboard

    _CLK[0] = 0  # us
    fakemachine.set_clock(ticks_ms, 0)
    fakemachine.set_output(False)  # no LED/buzzer lines: not even formatted
    chip.reset()
    bus = PrefilledBus(chip, stream)
    gc.collect()
    base = gc.mem_alloc()
    imu = MPU6050(bus, 0x68, None, ticks_us)
    imu.configure(rate)
    _i2c, led, buzzer, pin = simboard.build(i2c=bus)
    cues = Cues(led, buzzer, "full")
    # session files in RAM: the host's write syscalls are not a board's flash
    # (whose stalls the FIFO covers); the codec and the staging are measured
    store = SessionStore(tmp + "/sessions", 32 * 1024, os.statvfs, NullFile)
    ns = NullStream()
    link = Link(ns, board="sim")
    slept = [0]

    def idle(ms):
        # the board sleeps until the app's next deadline: no CPU time
        _CLK[0] += ms * 1000
        slept[0] = 1

    a = appmod.App(imu, Config(side="left"), {"cue_style": "full", "sample_rate_hz": rate}, cues,
                   Button(pin), store, link, ticks_ms, idle, "sim")
    link.attach(a)
    link.send_hello()
    a.start("left")
    num = imu._num
    den = imu._den * 1000000
    exposed = 0
    peak = 0
    passes = 0
    alloc = -1.0
    al0 = s0 = 0
    us = 0
    t_us = time.ticks_us
    diff = time.ticks_diff
    churn = 0
    mt = getattr(micropython, "mem_total", None)  # MICROPY_MEM_STATS builds (the unix port's)
    while a.samples < n:
        due = _CLK[0] * num // den  # samples the chip has made by now
        if due > exposed:
            bus.expose(12 * (due - exposed))
            exposed = due
        if measure and passes == 1000:
            # allocation over 500 passes with the collector off
            gc.collect()
            gc.disable()
            al0 = gc.mem_alloc()
            s0 = a.samples
        slept[0] = 0
        m0 = mt() if mt is not None else 0
        t0 = t_us()
        a.loop_once()
        us += diff(t_us(), t0)
        if mt is not None:
            churn += mt() - m0
        if not slept[0]:
            _CLK[0] += _BUSY_US  # a pass that did not sleep still took time
        passes += 1
        if measure and passes == 1500:
            alloc = (gc.mem_alloc() - al0) / (a.samples - s0)
            gc.enable()
        if measure and passes & 63 == 0:
            gc.collect()
            m = gc.mem_alloc() - base
            if m > peak:
                peak = m
        if bus.avail == 0 and bus.pos >= bus.end and a.last_read == 0:
            break
    a.stop()
    return {"us": us, "samples": a.samples, "passes": passes, "peak": peak, "alloc": alloc,
            "churn": churn if mt is not None else -1,
            "reps": a.eng.rep, "stream_bytes": ns.bytes, "clock_us": _CLK[0]}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else _ROOT + "/tests/traces/demo_session.csv"
    rate, counts = read_counts(path)
    chip, imu0, stream = fifo_stream(counts, rate)
    n = len(counts) // 6
    split = parts(counts, stream, chip, rate, n)
    counts = None
    gc.collect()

    import logstore
    from sim.runner import OsNoSync

    logstore.os = OsNoSync()
    tmp = "/tmp/heeldrop-bench-%d" % (time.ticks_us() & 0xFFFFFF)
    try:
        os.mkdir(tmp)
    except OSError:
        pass
    mw, inputs = madgwick_inputs(path)
    best = None
    first = None
    mbest = None
    for k in range(_RUNS):
        # the firmware and the Madgwick reference take turns, so the load
        # of this shared machine weighs on both alike
        r = run(stream, chip, rate, n, tmp, k == 0)
        if first is None:
            first = r
        if best is None or r["us"] < best["us"]:
            best = r
        for f in os.listdir(tmp + "/sessions"):
            os.remove(tmp + "/sessions/" + f)
        fl = inputs()  # built for each turn: the firmware runs without it
        gc.collect()
        t0 = time.ticks_us()
        mw(fl)
        m = time.ticks_diff(time.ticks_us(), t0) / len(fl)
        fl = None
        gc.collect()
        if mbest is None or m < mbest:
            mbest = m
    samples = best["samples"]
    fw = best["us"] / samples
    print("firmware_us_per_sample=%.3f" % fw)
    print("firmware_madgwick_us_per_sample=%.3f" % mbest)
    print("firmware_to_madgwick_time_ratio=%.3f" % (fw / mbest))
    print("firmware_peak_heap_bytes=%d" % first["peak"])
    print("firmware_alloc_bytes_per_sample=%.1f" % first["alloc"])
    print("firmware_heap_churn_bytes_per_sample=%.1f" % (first["churn"] / first["samples"]))
    print("firmware_samples=%d" % samples)
    print("firmware_loop_passes=%d" % best["passes"])
    print("firmware_passes_per_second=%.1f" % (best["passes"] * 1000000 / best["clock_us"]))
    print("firmware_reps=%d" % best["reps"])
    print("firmware_stream_bytes_per_sample=%.1f" % (best["stream_bytes"] / samples))
    for k in ("driver", "engine", "log_codec", "stream"):
        print("firmware_%s_us_per_sample=%.3f" % (k, split[k]))
    os.rmdir(tmp + "/sessions")
    os.rmdir(tmp)


main()
