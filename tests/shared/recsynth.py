# Synthetic raw IMU counts for the log codec tests (both interpreters).
#
# A heel-strapped MPU-6050 at 100 Hz, +-4 g (8192 LSB/g) and +-500 dps
# (65.5 LSB/dps): standing still, smooth heel drops of about 20 degrees with
# holds and postural sway, gyro bias, and Gaussian-like sensor noise of a few
# LSB (sum of four uniforms from a fixed LCG, so both interpreters produce
# the same numbers). Not a physics model: only what the codec sees matters
# (smooth signals plus noise).
import math

ACCEL_LSB_PER_G = 8192
GYRO_LSB_PER_DPS = 65.5


class _Lcg:
    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def unit(self):
        self.x = (1103515245 * self.x + 12345) & 0x7FFFFFFF
        return self.x / 2147483648.0

    def gauss(self, sigma):
        # sum of 4 uniforms: variance 4/12 -> scale to sigma
        s = self.unit() + self.unit() + self.unit() + self.unit() - 2.0
        return s * sigma * 1.7320508


def _clip(v):
    v = int(round(v))
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def pitch_deg(t):
    """Foot pitch (deg) at t seconds: 3 s still, then 14 s reps."""
    if t < 3.0:
        return 0.0
    u = (t - 3.0) % 14.0
    if u < 2.0:  # descent
        return -10.0 * (1 - math.cos(math.pi * u / 2.0))
    if u < 11.0:  # hold with sway
        return -20.0 + 0.6 * math.sin(2 * math.pi * 0.3 * (u - 2.0))
    if u < 12.5:  # rise
        return -20.0 * (1 + math.cos(math.pi * (u - 11.0) / 1.5)) / 2.0
    return 0.0


def samples(n, rate_hz=100, accel_noise=4.0, gyro_noise=2.5, seed=1, jitter_ms=0):
    """n samples as a list of (seq, t_ms, ax, ay, az, gx, gy, gz) int tuples."""
    return list(iter_samples(n, rate_hz, accel_noise, gyro_noise, seed, jitter_ms))


def iter_samples(n, rate_hz=100, accel_noise=4.0, gyro_noise=2.5, seed=1, jitter_ms=0):
    """The same samples one at a time (no list: on the unix port a long list
    built between float temporaries fragments a small heap)."""
    rng = _Lcg(seed)
    dt = 1.0 / rate_hz
    prev = pitch_deg(0.0)
    for i in range(n):
        t = i * dt
        th = pitch_deg(t)
        rate = (th - prev) * rate_hz
        prev = th
        r = math.radians(th)
        roll = math.radians(1.5 * math.sin(2 * math.pi * 0.17 * t))
        ax = math.sin(r) * ACCEL_LSB_PER_G + 0.003 * ACCEL_LSB_PER_G * math.sin(2 * math.pi * 1.1 * t)
        ay = math.sin(roll) * ACCEL_LSB_PER_G
        az = math.cos(r) * math.cos(roll) * ACCEL_LSB_PER_G
        gx = 1.5 * 2 * math.pi * 0.17 * math.cos(2 * math.pi * 0.17 * t) * 57.3 / 57.3
        t_ms = int(round(i * 1000.0 / rate_hz))
        if jitter_ms:
            t_ms += int(rng.unit() * (jitter_ms + 1))
        yield (
            i, t_ms,
            _clip(ax + rng.gauss(accel_noise)),
            _clip(ay + rng.gauss(accel_noise) + 40),
            _clip(az + rng.gauss(accel_noise) - 120),
            _clip(gx * GYRO_LSB_PER_DPS + rng.gauss(gyro_noise) - 23),
            _clip(rate * GYRO_LSB_PER_DPS + rng.gauss(gyro_noise) + 11),
            _clip(rng.gauss(gyro_noise) + 6),
        )
