# A tiny heel-drop generator for the shared engine tests (runs on CPython
# and in the MicroPython unix port). Ideal by default (no noise, no linear
# acceleration); the options add what a person on a step brings: postural
# sway (docs/DOMAIN.md section 5: 0.1-1 Hz), the heel's acceleration about the forefoot
# pivot, gyro bias, the sensor's clipping. The physics-rich simulator with
# every error source is heeldrop.synth; this one only has to be exact,
# deterministic and small.
import math


def _rot(axis, ang):
    # rotation matrix (rows) for a rotation of ang radians about a unit axis
    x, y, z = axis
    c = math.cos(ang)
    s = math.sin(ang)
    C = 1 - c
    return (
        (c + x * x * C, x * y * C - z * s, x * z * C + y * s),
        (y * x * C + z * s, c + y * y * C, y * z * C - x * s),
        (z * x * C - y * s, z * y * C + x * s, c + z * z * C),
    )


def _mul(A, B):
    # written out (the same sums in the same order as a loop: the same floats), 5x faster
    (a, b, c), (d, e, f), (g, h, i) = A
    (p, q, r), (s, t, u), (v, w, x) = B
    return ((a * p + b * s + c * v, a * q + b * t + c * w, a * r + b * u + c * x),
            (d * p + e * s + f * v, d * q + e * t + f * w, d * r + e * u + f * x),
            (g * p + h * s + i * v, g * q + h * t + i * w, g * r + h * u + i * x))


def _mv(A, v):
    return (A[0][0] * v[0] + A[0][1] * v[1] + A[0][2] * v[2],
            A[1][0] * v[0] + A[1][1] * v[1] + A[1][2] * v[2],
            A[2][0] * v[0] + A[2][1] * v[1] + A[2][2] * v[2])


def _tr(A):
    return ((A[0][0], A[1][0], A[2][0]), (A[0][1], A[1][1], A[2][1]), (A[0][2], A[1][2], A[2][2]))


# Mountings: the sensor-to-foot rotation. Foot frame: x forward (toes),
# y left, z up. MOUNTS[k] maps sensor coordinates to foot coordinates.
def mounting(k, tilt_deg=0.0):
    axes = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    M = _rot(axes[k % 3], (k // 3) * math.pi / 2)
    if tilt_deg:
        M = _mul(_rot((0.6, 0.64, 0.48), math.radians(tilt_deg)), M)
    return M


def _mj(s):
    if s <= 0:
        return 0.0
    if s >= 1:
        return 1.0
    return s * s * s * (10 - 15 * s + 6 * s * s)


def rep_script(reps=3, depth=24.0, descent=3.0, hold=6.0, rise=2.0, top=3.0, still=3.0, roll_extra=0.0):
    """Return a list of (t_start_s, t_end_s, pitch_from, pitch_to, roll_to) segments."""
    segs = []
    t = still
    for _ in range(reps):
        segs.append((t, t + descent, 0.0, depth, 0.0))
        t += descent
        segs.append((t, t + hold, depth, depth, roll_extra))
        t += hold
        segs.append((t, t + rise, depth, 0.0, 0.0))
        t += rise + top
    return segs, t


def angles_at(segs, t):
    pitch = segs[0][2] if segs and t < segs[0][0] else 0.0
    roll = 0.0
    for (t0, t1, a, b, r) in segs:
        if t < t0:
            break
        if t <= t1:
            pitch = a + (b - a) * _mj((t - t0) / (t1 - t0))
            if r:
                s = (t - t0) / (t1 - t0)
                roll = r * _mj(min(1.0, s * 4)) * _mj(min(1.0, (1 - s) * 4))
            return pitch, roll
        pitch = b
    return pitch, roll


def script(*moves, still=3.0):
    """Segments from (duration_s, pitch_to_deg) moves after a still start
    at level; a duration with the same pitch is a pause there."""
    segs = []
    t = still
    p = 0.0
    for dur, to in moves:
        segs.append((t, t + dur, p, to, 0.0))
        t += dur
        p = to
    return segs, t + 2.0


# postural sway: (frequency Hz, phase) pairs, summed with equal weights
_SWAY_P = ((0.23, 0.4), (0.61, 2.1), (0.97, 4.0))
_SWAY_R = ((0.17, 1.3), (0.47, 5.2), (0.89, 0.7))


def sway_at(t, pitch_amp, roll_amp):
    p = 0.0
    r = 0.0
    for f, ph in _SWAY_P:
        p += math.sin(2 * math.pi * f * t + ph)
    for f, ph in _SWAY_R:
        r += math.sin(2 * math.pi * f * t + ph)
    return pitch_amp * p / 3, roll_amp * r / 3


def foot_R(pitch_deg, roll_deg, side="left"):
    # heel down = toes up = rotation about the foot's y (left) axis by -pitch
    # (x forward rotated towards z up): R maps foot coords to world coords.
    Rp = _rot((0, 1, 0), -math.radians(pitch_deg))
    # inversion: for the left foot the left edge (the lateral side) goes down
    sgn = 1 if side == "left" else -1
    Rr = _rot((1, 0, 0), -sgn * math.radians(roll_deg))
    return _mul(Rp, Rr)


def _clip(v):
    return -32768 if v < -32768 else (32767 if v > 32767 else v)


def generate(segs, t_end, rate_hz=100, mount=0, side="left", t0_ms=0, alsb=8192, glsb=65.5,
             bias=(0.0, 0.0, 0.0), tilt_deg=0.0, sway=None, radius=0.0, extra=None, lin=None):
    """Yield integer samples (t_ms, ax, ay, az, gx, gy, gz) in sensor counts.

    sway: (pitch_amp_deg, roll_amp_deg) of postural sway from the first
    sample to the last; radius: the heel's distance behind the forefoot
    pivot (m), which adds the heel's tangential and centripetal
    acceleration; extra(t) -> (pitch, roll) added degrees (e.g. a bounce),
    or (pitch, roll, yaw) with a twist about the vertical; lin(t) -> the
    foot's own (x, y, z) position in m, world axes (walking: the foot moves);
    counts are clipped to int16 as the chip saturates. With t0_ms the
    times are not wrapped (a long-uptime device, or a converted log)."""
    M = mounting(mount, tilt_deg)  # sensor -> foot
    Mt = _tr(M)
    dt = 1.0 / rate_hz
    n = int(t_end * rate_hz)
    h = 0.002

    def rot(t):
        p, r = angles_at(segs, t)
        if sway:
            sp, sr = sway_at(t, sway[0], sway[1])
            p += sp
            r += sr
        yaw = 0.0
        if extra is not None:
            e = extra(t)
            p += e[0]
            r += e[1]
            if len(e) > 2:
                yaw = e[2]
        R = foot_R(p, r, side)  # foot -> world
        if yaw:
            R = _mul(_rot((0, 0, 1), math.radians(yaw)), R)  # a twist about the vertical
        return R

    heel = (-radius, 0.0, 0.0)  # the heel, in foot coords, from the pivot
    for i in range(n + 1):
        t = i * dt
        R = rot(t)
        Rm = rot(t - h)
        Rp = rot(t + h)
        # specific force: world up (1 g) plus the heel's acceleration, in sensor coords
        acc = (0.0, 0.0, 1.0)
        if radius:
            x0 = _mv(Rm, heel)
            x1 = _mv(R, heel)
            x2 = _mv(Rp, heel)
            acc = tuple((x0[k] - 2 * x1[k] + x2[k]) / (h * h) / 9.80665 + (1.0 if k == 2 else 0.0) for k in range(3))
        if lin is not None:
            x0 = lin(t - h)
            x1 = lin(t)
            x2 = lin(t + h)
            acc = tuple(acc[k] + (x0[k] - 2 * x1[k] + x2[k]) / (h * h) / 9.80665 for k in range(3))
        a_s = _mv(Mt, _mv(_tr(R), acc))
        # body rate from R(t-h)^T R(t+h) (small rotation), in foot coords
        D = _mul(_tr(Rm), Rp)
        wx = (D[2][1] - D[1][2]) / (4 * h)
        wy = (D[0][2] - D[2][0]) / (4 * h)
        wz = (D[1][0] - D[0][1]) / (4 * h)
        w_s = _mv(Mt, (wx, wy, wz))
        tm = t0_ms + int(round(t * 1000))
        if t0_ms < (1 << 30):
            tm &= (1 << 30) - 1
        yield ((tm,
                _clip(int(round(a_s[0] * alsb))), _clip(int(round(a_s[1] * alsb))), _clip(int(round(a_s[2] * alsb))),
                _clip(int(round((math.degrees(w_s[0]) + bias[0]) * glsb))),
                _clip(int(round((math.degrees(w_s[1]) + bias[1]) * glsb))),
                _clip(int(round((math.degrees(w_s[2]) + bias[2]) * glsb)))))
