# A tiny, ideal heel-drop generator for the shared engine tests (runs on
# CPython and in the MicroPython unix port). No noise, no linear acceleration:
# the physics-rich simulator with every error source is heeldrop.synth; this
# one only has to be exact and small.
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
    return tuple(tuple(sum(A[i][k] * B[k][j] for k in range(3)) for j in range(3)) for i in range(3))


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
    pitch = 0.0
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


def foot_R(pitch_deg, roll_deg, side="left"):
    # heel down = toes up = rotation about the foot's y (left) axis by -pitch
    # (x forward rotated towards z up): R maps foot coords to world coords.
    Rp = _rot((0, 1, 0), -math.radians(pitch_deg))
    # inversion: for the left foot the left edge (the lateral side) goes down
    sgn = 1 if side == "left" else -1
    Rr = _rot((1, 0, 0), -sgn * math.radians(roll_deg))
    return _mul(Rp, Rr)


def generate(segs, t_end, rate_hz=100, mount=0, side="left", t0_ms=0, alsb=8192, glsb=65.5,
             bias=(0.0, 0.0, 0.0), tilt_deg=0.0):
    """Yield integer samples (t_ms, ax, ay, az, gx, gy, gz) in sensor counts."""
    M = mounting(mount, tilt_deg)  # sensor -> foot
    Mt = _tr(M)
    dt = 1.0 / rate_hz
    n = int(t_end * rate_hz)
    up = (0.0, 0.0, 1.0)
    prev = None
    for i in range(n + 1):
        t = i * dt
        p, r = angles_at(segs, t)
        R = foot_R(p, r, side)  # foot -> world
        # specific force at rest: world up, seen in sensor coords
        a_s = _mv(Mt, _mv(_tr(R), up))
        if prev is None:
            w_s = (0.0, 0.0, 0.0)
        else:
            # body rate from R_prev^T R (small rotation), in foot coords
            D = _mul(_tr(prev), R)
            wx = (D[2][1] - D[1][2]) / (2 * dt)
            wy = (D[0][2] - D[2][0]) / (2 * dt)
            wz = (D[1][0] - D[0][1]) / (2 * dt)
            w_s = _mv(Mt, (wx, wy, wz))
        prev = R
        tm = (t0_ms + int(round(t * 1000))) & ((1 << 30) - 1)
        yield ((tm,
                    int(round(a_s[0] * alsb)), int(round(a_s[1] * alsb)), int(round(a_s[2] * alsb)),
                    int(round((math.degrees(w_s[0]) + bias[0]) * glsb)),
                    int(round((math.degrees(w_s[1]) + bias[1]) * glsb)),
                    int(round((math.degrees(w_s[2]) + bias[2]) * glsb))))
