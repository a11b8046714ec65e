"""Rigid-body kinematics of a heel-strapped IMU (vectorised with numpy).

Frames (all right-handed):

* world: x forward (the way the person faces at the step), y to the person's
  left, z up.
* foot: x from heel to toes, y to the foot's left, z out of the dorsum (up
  when the sole is level).
* sensor: the board's own axes; ``R_fs`` maps sensor coordinates to foot
  coordinates (one of 24 axis-aligned orientations times a misalignment).

Foot orientation from the script angles (degrees)::

    R_wf = Rz(psi) @ Ry(-theta) @ Rx(s * phi)

* ``theta`` (pitch, depth): + = heel below level. The foot pivots about the
  forefoot on the step edge, so the heel (at ``-r`` along foot x) goes down
  when the toes point up, which is a rotation by ``-theta`` about +y.
* ``phi`` (roll): + = inversion (roll-out onto the little-toe side). For the
  right foot the little toe is on the -y side, so inversion tips the dorsum
  toward -y: a rotation by +phi about +x, ``s = +1``. The left foot is the
  mirror image, ``s = -1``.
* ``psi`` (yaw) about the vertical.

The sensor measures, in its own axes, the body angular rate ``w`` (defined by
dR/dt = R [w]x, so the up-vector seen by the sensor obeys du/dt = u x w) and
the specific force ``R_ws^T (a/g + e_z)`` in g (at rest it points up, length 1).
"""
import numpy as np

FS = 1000  # internal simulation rate, Hz (1 sample = 1 ms)
G = 9.80665

_AXES = {"x": 0, "y": 1, "z": 2}


def rx(a):
    """Rotation(s) about x by angle(s) a (radians): shape a.shape + (3, 3)."""
    a = np.asarray(a, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([o, z, z], -1), np.stack([z, c, -s], -1), np.stack([z, s, c], -1)], -2)


def ry(a):
    a = np.asarray(a, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def rz(a):
    a = np.asarray(a, dtype=float)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2)


def expmap(rv):
    """Rotation matrices from rotation vectors (radians), shape (..., 3) -> (..., 3, 3)."""
    rv = np.asarray(rv, dtype=float)
    th = np.linalg.norm(rv, axis=-1)
    safe = np.where(th > 1e-12, th, 1.0)
    k = rv / safe[..., None]
    K = np.zeros(rv.shape[:-1] + (3, 3))
    K[..., 0, 1], K[..., 0, 2] = -k[..., 2], k[..., 1]
    K[..., 1, 0], K[..., 1, 2] = k[..., 2], -k[..., 0]
    K[..., 2, 0], K[..., 2, 1] = -k[..., 1], k[..., 0]
    s = np.sin(th)[..., None, None]
    c = (1 - np.cos(th))[..., None, None]
    R = np.eye(3) + s * K + c * (K @ K)
    small = th <= 1e-12
    if np.any(small):
        R[small] = np.eye(3)
    return R


def _axis_vec(name):
    v = np.zeros(3)
    v[_AXES[name[-1]]] = -1.0 if name.startswith("-") else 1.0
    return v


def _build_mountings():
    names, mats = [], []
    order = ["x", "-x", "y", "-y", "z", "-z"]
    for up in ["z", "-z", "x", "-x", "y", "-y"]:
        for fwd in order:
            if fwd[-1] == up[-1]:
                continue
            u, f = _axis_vec(up), _axis_vec(fwd)
            # rows of R_fs are the foot axes in sensor coordinates
            R = np.array([f, np.cross(u, f), u])
            assert abs(np.linalg.det(R) - 1) < 1e-9
            names.append("%s-up+%s-fwd" % (up, fwd))
            mats.append(R)
    return names, mats


MOUNTING_NAMES, _MOUNT_MATS = _build_mountings()
assert len(MOUNTING_NAMES) == 24


def mounting_matrix(index, misalign_deg=(0.0, 0.0, 0.0)):
    """R_fs (sensor -> foot) for mounting ``index`` (0..23) and a misalignment
    (rotations about foot x, y, z in degrees, applied after the axis-aligned part)."""
    a, b, c = np.radians(misalign_deg)
    return rz(c) @ ry(b) @ rx(a) @ _MOUNT_MATS[index]


def side_sign(side):
    """+1 for the right foot, -1 for the left: raw roll = sign * inversion."""
    return 1.0 if side == "right" else -1.0


def foot_rotation(theta_deg, phi_deg, psi_deg, side):
    """R_wf (foot -> world), shape (N, 3, 3). ``phi`` is side-corrected (+ = inversion);
    ``side`` is "left"/"right" or an array of +-1 signs per sample."""
    s = side_sign(side) if isinstance(side, str) else np.asarray(side, dtype=float)
    # closed form of Rz(psi) @ Ry(-theta) @ Rx(s * phi)
    a = -np.radians(np.asarray(theta_deg, dtype=float))
    b = s * np.radians(np.asarray(phi_deg, dtype=float))
    c = np.radians(np.asarray(psi_deg, dtype=float))
    a, b, c = np.broadcast_arrays(a, b, c)
    ca, sa, cb, sb, cc, sc = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(c), np.sin(c)
    R = np.empty(a.shape + (3, 3))
    R[..., 0, 0] = cc * ca
    R[..., 0, 1] = cc * sa * sb - sc * cb
    R[..., 0, 2] = cc * sa * cb + sc * sb
    R[..., 1, 0] = sc * ca
    R[..., 1, 1] = sc * sa * sb + cc * cb
    R[..., 1, 2] = sc * sa * cb - cc * sb
    R[..., 2, 0] = -sa
    R[..., 2, 1] = ca * sb
    R[..., 2, 2] = ca * cb
    return R


def body_rate(R, fs=FS):
    """Body-frame angular velocity (rad/s) of rotations R (N, 3, 3), central differences."""
    n = len(R)
    w = np.zeros((n, 3))
    if n < 3:
        return w
    M = np.swapaxes(R[:-2], 1, 2) @ R[2:]
    k = fs / 4.0  # 0.5 * (M - M^T) / (2 dt)
    w[1:-1, 0] = (M[:, 2, 1] - M[:, 1, 2]) * k
    w[1:-1, 1] = (M[:, 0, 2] - M[:, 2, 0]) * k
    w[1:-1, 2] = (M[:, 1, 0] - M[:, 0, 1]) * k
    w[0], w[-1] = w[1], w[-2]
    return w


def second_derivative(p, fs=FS):
    """d2p/dt2 for p (N, 3) by central differences."""
    a = np.zeros_like(p)
    if len(p) >= 3:
        a[1:-1] = (p[2:] - 2 * p[1:-1] + p[:-2]) * (fs * fs)
        a[0], a[-1] = a[1], a[-2]
    return a


def ideal_imu(R_wf, R_skin, R_fs, pivot, heel_offset, extra_acc=None, fs=FS):
    """Ideal gyro (deg/s) and accelerometer (g) in sensor axes.

    R_wf: foot orientation (N,3,3); R_skin: sensor-on-foot perturbation (slip,
    soft tissue) (N,3,3) or None; R_fs: mounting (3,3); pivot: forefoot pivot
    position in the world (N,3), metres; heel_offset: sensor position in foot
    coordinates relative to the pivot (3,), metres; extra_acc: additional
    world-frame acceleration (N,3), m/s^2 (e.g. heel-strike impacts).
    """
    R_ws = R_wf @ R_skin @ R_fs if R_skin is not None else R_wf @ R_fs
    gyro = np.degrees(body_rate(R_ws, fs))
    pos = pivot + R_wf @ np.asarray(heel_offset, dtype=float)
    acc = second_derivative(pos, fs)
    if extra_acc is not None:
        acc = acc + extra_acc
    f_world = acc / G + np.array([0.0, 0.0, 1.0])
    accel = np.einsum("nji,nj->ni", R_ws, f_world)  # R_ws^T f
    return gyro, accel
