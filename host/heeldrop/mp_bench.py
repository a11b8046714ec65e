# Benchmark run inside the MicroPython unix port: the engine against a
# reference 6-axis Madgwick update over the same samples.
# stdin: "t ax ay az gx gy gz" integer lines (counts at 8192 LSB/g, 65.5 LSB/dps).
# Prints name=value lines.
import gc
import math
import sys
import time

from heelcore.config import Config
from heelcore.engine import Engine


class Madgwick:
    """Reference 6-axis Madgwick IMU update (gradient descent, beta 0.1), for scale."""

    def __init__(self, beta=0.1):
        self.beta = beta
        self.q0 = 1.0
        self.q1 = 0.0
        self.q2 = 0.0
        self.q3 = 0.0

    def update(self, gx, gy, gz, ax, ay, az, dt):
        q0 = self.q0
        q1 = self.q1
        q2 = self.q2
        q3 = self.q3
        # rate of change of the quaternion from the gyroscope
        qd0 = 0.5 * (-q1 * gx - q2 * gy - q3 * gz)
        qd1 = 0.5 * (q0 * gx + q2 * gz - q3 * gy)
        qd2 = 0.5 * (q0 * gy - q1 * gz + q3 * gx)
        qd3 = 0.5 * (q0 * gz + q1 * gy - q2 * gx)
        n = ax * ax + ay * ay + az * az
        if n > 0.0:
            r = 1.0 / math.sqrt(n)
            ax *= r
            ay *= r
            az *= r
            # objective function and its gradient (gravity direction error)
            f0 = 2.0 * (q1 * q3 - q0 * q2) - ax
            f1 = 2.0 * (q0 * q1 + q2 * q3) - ay
            f2 = 2.0 * (0.5 - q1 * q1 - q2 * q2) - az
            s0 = -2.0 * q2 * f0 + 2.0 * q1 * f1
            s1 = 2.0 * q3 * f0 + 2.0 * q0 * f1 - 4.0 * q1 * f2
            s2 = -2.0 * q0 * f0 + 2.0 * q3 * f1 - 4.0 * q2 * f2
            s3 = 2.0 * q1 * f0 + 2.0 * q2 * f1
            n = s0 * s0 + s1 * s1 + s2 * s2 + s3 * s3
            if n > 0.0:
                r = self.beta / math.sqrt(n)
                qd0 -= r * s0
                qd1 -= r * s1
                qd2 -= r * s2
                qd3 -= r * s3
        q0 += qd0 * dt
        q1 += qd1 * dt
        q2 += qd2 * dt
        q3 += qd3 * dt
        r = 1.0 / math.sqrt(q0 * q0 + q1 * q1 + q2 * q2 + q3 * q3)
        self.q0 = q0 * r
        self.q1 = q1 * r
        self.q2 = q2 * r
        self.q3 = q3 * r


def run_engine(samples):
    eng = Engine(Config(side="left"), 8192, 65.5)
    for s in samples:
        c = eng.step(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
        while c:
            eng.pop_event()
            c -= 1
    return eng


def run_madgwick(fl):
    m = Madgwick()
    last = fl[0][0]
    for s in fl:
        dt = (s[0] - last) * 0.001
        last = s[0]
        m.update(s[4], s[5], s[6], s[1], s[2], s[3], dt)
    return m


def timed(fn, data):
    # best of 3, the collector on (its time is part of the cost)
    best = None
    for _ in range(3):
        gc.collect()
        t0 = time.ticks_us()
        fn(data)
        d = time.ticks_diff(time.ticks_us(), t0)
        if best is None or d < best:
            best = d
    return best / len(data)


def allocated(fn, data):
    # heap allocated per sample with the collector off
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    fn(data)
    a1 = gc.mem_alloc()
    gc.enable()
    gc.collect()
    return (a1 - a0) / len(data)


def main():
    samples = []
    rd = sys.stdin.readline
    while True:
        line = rd()
        if not line:
            break
        f = line.split()
        samples.append((int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]), int(f[5]), int(f[6])))
    n = len(samples)
    # Madgwick inputs: floats in g and rad/s, prepared outside the timed loop
    k = math.pi / 180 / 65.5
    fl = [(s[0], s[1] / 8192, s[2] / 8192, s[3] / 8192, s[4] * k, s[5] * k, s[6] * k) for s in samples]
    e_us = timed(run_engine, samples)
    m_us = timed(run_madgwick, fl)
    part = min(n, 3000)
    e_alloc = allocated(run_engine, samples)
    m_alloc = allocated(run_madgwick, fl[:part])
    print("samples=%d" % n)
    print("engine_us_per_sample=%.3f" % e_us)
    print("madgwick_us_per_sample=%.3f" % m_us)
    print("engine_alloc_bytes_per_sample=%.1f" % e_alloc)
    print("madgwick_alloc_bytes_per_sample=%.1f" % m_alloc)
    print("engine_to_madgwick_time_ratio=%.3f" % (e_us / m_us))
    print("engine_to_madgwick_alloc_ratio=%.4f" % (e_alloc / m_alloc))
    print("engine_reps=%d" % run_engine(samples).rep)


if __name__ == "__main__":
    main()
