# The heel drop detection engine: fusion, calibration and the rep state machine.
#
#   eng = Engine(Config(side="left"), accel_lsb_per_g=8192, gyro_lsb_per_dps=65.5)
#   n = eng.step(t_ms, ax, ay, az, gx, gy, gz)    # raw integer counts, sensor axes
#   while n: ev = eng.pop_event(); n -= 1          # contract event dicts
#   eng.finish()                                   # end of stream
#
# Inputs are the sensor's raw integer counts in its own axes (any mounting)
# and a tick time in ms. The host converts trace CSV values to counts at the
# trace's scale (heeldrop.replay). The per-sample path is fixed-point integer
# arithmetic: angles in micro-degrees (udeg), rates in milli-degrees per second
# (mdps). Small ints are not heap objects in MicroPython, so a sample costs a
# few float objects (the atan2 calls) and no other allocation; integer results
# are also bit-identical on CPython and MicroPython. Floats are used only at
# calibration and when an event is built (a few times a rep).
#
# Signals (DOMAIN.md conventions):
#   theta: foot pitch below the level tare, + = heel below level (depth)
#   phi:   roll about the foot's forward axis; side-corrected (rsign) so that
#          + = inversion, the roll-out onto the little-toe side
#   psi:   yaw, gyro-integrated, reset at each rep start (twist)
#
# Calibration: a still start (gyro bias, level "up" vector u), then the first
# slow drop of at least axis_min_deg: the direction gravity tilted towards
# gives the foot's forward axis f, and p = f x u is the pitch axis (pointing
# to the foot's right whatever the mounting). Both are refined: u is re-tared
# whenever the foot rests at the top (strap slip), and the gyro bias is tracked
# whenever the foot is still at the top.
import math

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

from heelcore.config import Config
from heelcore.events import r2
from heelcore.ticks import ticks_add, ticks_diff

# states
S_CAL = const(0)  # waiting for a still start
S_AXIS = const(1)  # level known; waiting for the first drop to learn the axis
S_TOP = const(2)  # at the top, between reps
S_DESC = const(3)
S_HOLD = const(4)
S_RISE = const(5)
PHASES = ("calibrating", "learning", "top", "descent", "hold", "rise")

_UDEG = const(1000000)  # udeg per degree
_R2U = 57295779.51308232  # udeg per radian
_AX_SHIFT = const(14)  # unit axis vectors as ints scaled by 2**14
_AX_ONE = const(16384)
_RATE_SHIFT = const(10)  # rate axis vectors: mdps per count scaled by 2**10
_GAP_MS = const(250)  # longer sample gaps restart the fusion from the accelerometer
_LPF_MS = const(53)  # 3 Hz one-pole low-pass on the pitch rate
_OFF = const(16)  # crossing tables cover -16..95 degrees
_NK = const(112)
_BASELINE_REPS = const(3)
_PRIOR_K1024 = const(-266)  # normal coupling phi = -0.26 theta (DOMAIN 7b)


def _mj(s):
    # minimum-jerk position fraction at normalised time s
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


def _mj_inv(q):
    lo = 0.0
    hi = 1.0
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        if _mj(mid) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _norm3(x, y, z):
    n = math.sqrt(x * x + y * y + z * z)
    if n <= 0.0:
        return None
    return (x / n, y / n, z / n)


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a, b):
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


class Engine:
    def __init__(self, config=None, accel_lsb_per_g=8192, gyro_lsb_per_dps=65.5):
        c = config if config is not None else Config()
        self.cfg = c
        self.alsb = accel_lsb_per_g
        self.glsb = gyro_lsb_per_dps
        mdps = 1000.0 / gyro_lsb_per_dps  # mdps per count
        self._mdps = mdps
        # thresholds in engine units, computed once
        self._still_c = int(c.still_gyro_dps * gyro_lsb_per_dps + 0.5)  # counts
        self._still_a = int(0.03 * accel_lsb_per_g + 0.5)  # counts (30 mg)
        self._still_ms = c.ms("still_time_s")
        self._tau = c.ms("fusion_tau_s")
        self._axis_min = int(c.axis_min_deg * _UDEG)
        self._d_start = int(c.descent_start_deg * _UDEG)
        self._d_rate = int(c.descent_rate_dps * 1000)
        self._min_depth = int(c.min_depth_deg * _UDEG)
        self._hold_rate = int(c.hold_rate_dps * 1000)
        self._hold_enter = c.ms("hold_enter_s")
        self._band = int(c.hold_band_deg * _UDEG)
        self._rise_rate = int(c.rise_rate_dps * 1000)
        self._top_band = int(c.top_band_deg * _UDEG)
        self._reset_ms = c.ms("reset_s")
        self._fast_peak = int(c.fast_descent_peak_dps * 1000)
        self._snap_peak = int(c.snap_up_peak_dps * 1000)
        self._b_min = int(c.bounce_min_deg * _UDEG)
        self._b_rate = int(c.bounce_rate_dps * 1000)
        self._roll_lim = int(c.roll_out_deg * 1000)  # mdeg
        self._roll_ms = c.ms("roll_out_time_s")
        self._twist = int(c.twist_deg * _UDEG)
        self._max_rate = int(c.max_rate_dps * 1000)
        self._hold_target_ms = c.ms("hold_target_s")
        self._no_hold_ms = c.ms("no_hold_s")
        g2 = accel_lsb_per_g >> 2
        self._lim = 1 << 24  # counts beyond this are garbage
        # accelerometer gate on |a|^2 in (counts/4)^2, set at calibration
        self._g2lo = 0
        self._g2hi = g2 * g2 * 4
        self._q = []
        self.rep = 0
        self.side = c.side
        self._rsign = 1 if c.side == "left" else -1
        self.bad_samples = 0
        self.out_of_order = 0
        self.gaps = 0
        self.state = S_CAL
        self._t = None
        self.t_ms = 0
        self._prev_k = _OFF
        self._tc_up = [0] * _NK
        self._tc_dn = [0] * _NK
        self._baseline = {"left": [0, 0, 0, 0, 0, 0], "right": [0, 0, 0, 0, 0, 0]}
        self._k1024 = {"left": _PRIOR_K1024, "right": _PRIOR_K1024}
        self._c_md = {"left": 0, "right": 0}
        self.reps_by_side = {"left": [], "right": []}
        self.calibrated = False
        self.axis_known = False
        self._longest_still = 0
        self._cal_reset(0)
        # fusion state (udeg, mdps)
        self.theta = 0
        self.phi = 0
        self.psi = 0
        self.wl = 0  # low-passed pitch rate, mdps
        self._B = [0, 0, 0]  # gyro bias, counts * 16
        self._bx = 0  # gyro bias, counts
        self._by = 0
        self._bz = 0
        self._P = (0, 0, 0)
        self._F = (0, 0, 0)
        self._U = (0, 0, 0)
        self._RF = (0, 0, 0)
        self._RU = (0, 0, 0)
        self._RP = (0, 0, 0)
        self._alp = [0, 0, 0]  # low-passed accel (counts * 16)
        self._glp = None  # low-passed gyro (counts * 16), set by the first sample
        self._still_since = None
        self._retared = False
        self._restart = True
        self._await_ready = False
        self._ready_since = None
        self._fast_mean = 0.0
        self._t_bn = 0
        self.wp = 0
        self._reset_rep()

    # ---------------------------------------------------------------- API
    def pop_event(self):
        if self._q:
            return self._q.pop(0)
        return None

    def set_side(self, side, t_ms=None):
        if side not in ("left", "right"):
            raise ValueError("side must be left or right, got %r" % (side,))
        if side == self.side:
            return 0
        self.side = side
        self._rsign = 1 if side == "left" else -1
        if self.state in (S_DESC, S_HOLD, S_RISE):
            self._cancel("side switched")
        self._emit("side", self.t_ms if t_ms is None else t_ms, side=side)
        return 1

    def phase(self):
        return PHASES[self.state]

    def depth_deg(self):
        return self.theta / _UDEG

    def hold_ms(self):
        if self.state == S_HOLD:
            return max(0, ticks_diff(self.t_ms, self._t_dend))
        return 0

    def finish(self):
        """End of stream: report a calibration that never completed."""
        if not self.calibrated:
            self._emit(
                "calibration_failed", self.t_ms,
                reason="the sensor never stayed still for %.1f s (longest still spell %.1f s): "
                "stand still with the forefoot on the step before the first rep"
                % (self._still_ms / 1000, self._longest_still / 1000),
            )
        return len(self._q)

    def summary(self):
        sides = {}
        for s in ("left", "right"):
            reps = self.reps_by_side[s]
            n = len(reps)
            d = {"reps": n}
            if n:
                depths = sorted([r["depth_deg"] for r in reps])
                d["median_depth_deg"] = r2(depths[n // 2] if n % 2 else 0.5 * (depths[n // 2 - 1] + depths[n // 2]))
                d["hold_s"] = r2(sum([r["hold_s"] for r in reps]))
                for flag in ("fast_descent", "roll_out", "snap_up", "twist", "no_hold"):
                    d[flag] = len([1 for r in reps if r[flag]])
                d["bounces"] = sum([r["bounces"] for r in reps])
            sides[s] = d
        note = ""
        if not self.calibrated:
            note = "calibration could not complete: no still start"
        elif not self.axis_known:
            note = "calibrated level, but no slow heel drop of %.0f deg to learn the foot axis" % (self._axis_min / _UDEG)
        ev = {"type": "summary", "t_ms": self.t_ms, "rep": 0, "reps": self.rep, "side": self.side,
              "sides": sides, "calibrated": self.calibrated, "note": note}
        if self.bad_samples or self.out_of_order or self.gaps:
            ev["bad_samples"] = self.bad_samples
            ev["out_of_order"] = self.out_of_order
            ev["gaps"] = self.gaps
        return ev

    # --------------------------------------------------------- internals
    def _emit(self, typ, t, **fields):
        fields["type"] = typ
        fields["t_ms"] = t
        if "rep" not in fields:
            fields["rep"] = self.rep if self.state in (S_DESC, S_HOLD, S_RISE) else 0
        self._q.append(fields)

    def _cal_reset(self, t):
        self._cs_n = 0
        self._cs_t0 = t
        self._cs = [0, 0, 0, 0, 0, 0]

    def _reset_rep(self):
        self._t_onset = 0  # crude onset (last time near the top)
        self._t_last_top = self.t_ms
        self._t_cand = None  # descent candidate since
        self._peak = 0
        self._t_peak = 0
        self._peak_w = 0  # max downward LPF rate
        self._peak_up = 0  # max upward LPF rate (positive number)
        self._next_k = 0
        self._k_first = 0
        self._settle = None
        self._t_dend = 0
        self._hold_ticks = 0
        self._hold_ref = 0
        self._bmode = 0
        self._bmax = 0
        self._bmax_t = 0
        self._bmin = 0
        self._bmin_w = 0
        self._bounces = 0
        self._fast = False
        self._snap = False
        self._roll_out = False
        self._roll_since = None
        self._max_roll = -(1 << 30)
        self._twisted = False
        self._rise_min = 0
        self._t_rise_min = 0
        self._t_rise_conf = 0
        self._bl = [0, 0, 0, 0, 0, 0]  # this rep's roll-pitch sums
        self._bl_t = 0
        self._psi0 = self.psi

    def _set_frame(self, u, f):
        # u: level up, f: forward (both unit float 3-tuples, f perpendicular to u)
        p = _cross(f, u)
        self._u, self._f, self._p = u, f, p
        s = _AX_ONE
        self._U = (int(u[0] * s), int(u[1] * s), int(u[2] * s))
        self._F = (int(f[0] * s), int(f[1] * s), int(f[2] * s))
        self._P = (int(p[0] * s), int(p[1] * s), int(p[2] * s))
        k = self._mdps * (1 << _RATE_SHIFT)
        self._RP = (int(p[0] * k), int(p[1] * k), int(p[2] * k))
        self._RF = (int(-f[0] * k), int(-f[1] * k), int(-f[2] * k))  # roll rate = -w.f
        self._RU = (int(u[0] * k), int(u[1] * k), int(u[2] * k))

    # ------------------------------------------------------------- step
    def step(self, t, ax, ay, az, gx, gy, gz):
        """Feed one sample (integer counts). Returns the number of queued events."""
        lim = self._lim
        if not (-lim < ax < lim and -lim < ay < lim and -lim < az < lim
                and -lim < gx < lim and -lim < gy < lim and -lim < gz < lim):
            self.bad_samples += 1
            return len(self._q)
        if self._t is None:
            dt = 0
        else:
            dt = ticks_diff(t, self._t)
            if dt < 0:
                self.out_of_order += 1
                return len(self._q)
        self._t = t
        self.t_ms = t
        if dt > _GAP_MS:
            self.gaps += 1
            self._restart = True
            dt = 0
        # low-passed accel (tau ~ 64 ms) for poses
        alp = self._alp
        k = dt if dt < 64 else 64
        if self._glp is None:
            self._glp = [gx * 16, gy * 16, gz * 16]
            alp[0] = ax * 16
            alp[1] = ay * 16
            alp[2] = az * 16
        else:
            alp[0] += (ax * 16 - alp[0]) * k // 64
            alp[1] += (ay * 16 - alp[1]) * k // 64
            alp[2] += (az * 16 - alp[2]) * k // 64
        # low-passed gyro (tau 80 ms, counts * 16) judges stillness: tremor
        # and sway spikes of a standing person are not motion
        glp = self._glp
        k = dt if dt < 80 else 80
        glp[0] += (gx * 16 - glp[0]) * k // 80
        glp[1] += (gy * 16 - glp[1]) * k // 80
        glp[2] += (gz * 16 - glp[2]) * k // 80
        st = self.state
        if st == S_CAL:
            self._step_cal(t, dt, ax, ay, az, glp[0] >> 4, glp[1] >> 4, glp[2] >> 4)
            return len(self._q)
        # bias-corrected rates in counts
        wx = gx - self._bx
        wy = gy - self._by
        wz = gz - self._bz
        sc = self._still_c
        lx = (glp[0] >> 4) - self._bx
        ly = (glp[1] >> 4) - self._by
        lz = (glp[2] >> 4) - self._bz
        still = -sc < lx < sc and -sc < ly < sc and -sc < lz < sc
        if st == S_AXIS:
            self._step_axis(t, dt, ax, ay, az, wx, wy, wz, still)
            return len(self._q)
        self._fuse(dt, ax, ay, az, wx, wy, wz)
        if st == S_TOP:
            self._step_top(t, dt, gx, gy, gz, still)
        else:
            self._step_rep(t, dt)
        return len(self._q)

    # ------------------------------------------------------ calibration
    def _step_cal(self, t, dt, ax, ay, az, gx, gy, gz):
        cs = self._cs
        n = self._cs_n
        if n:
            sc = self._still_c
            sa = self._still_a
            # compare with the mean of the still spell so far
            if (abs(gx * n - cs[3]) > sc * n or abs(gy * n - cs[4]) > sc * n or abs(gz * n - cs[5]) > sc * n
                    or abs(ax * n - cs[0]) > sa * n or abs(ay * n - cs[1]) > sa * n or abs(az * n - cs[2]) > sa * n):
                self._cal_reset(t)
                cs = self._cs
                n = 0
        if n == 0:
            self._cs_t0 = t
        cs[0] += ax
        cs[1] += ay
        cs[2] += az
        cs[3] += gx
        cs[4] += gy
        cs[5] += gz
        n += 1
        self._cs_n = n
        span = ticks_diff(t, self._cs_t0)
        if span > self._longest_still:
            self._longest_still = span
        if span >= self._still_ms and n >= 10:
            self._calibrate_level(t, cs, n)

    def _calibrate_level(self, t, cs, n):
        u = _norm3(cs[0] / n, cs[1] / n, cs[2] / n)
        if u is None:
            self._cal_reset(t)
            return
        self._B = [cs[3] * 16 // n, cs[4] * 16 // n, cs[5] * 16 // n]
        self._set_bias()
        gn = math.sqrt(cs[0] * cs[0] + cs[1] * cs[1] + cs[2] * cs[2]) / n  # counts
        self._g0 = gn
        gate = self.cfg.accel_gate_g * self.alsb
        lo = (gn - gate) / 4
        hi = (gn + gate) / 4
        self._g2lo = int(lo * lo) if lo > 0 else 0
        self._g2hi = int(hi * hi)
        self._u = u
        self._U = (int(u[0] * _AX_ONE), int(u[1] * _AX_ONE), int(u[2] * _AX_ONE))
        # tilt of the board from its nearest axis, for the user
        m = max(abs(u[0]), abs(u[1]), abs(u[2]))
        tilt = math.degrees(math.acos(min(1.0, m)))
        self.calibrated = True
        self.state = S_AXIS
        self._ax_reset(t)
        self._emit("calibrated", t, rep=0, stage="level", level_tilt_deg=r2(tilt),
                   axis=[r2(u[0]), r2(u[1]), r2(u[2])], axis_source="up",
                   bias_dps=[r2(cs[3] / n / self.glsb), r2(cs[4] / n / self.glsb), r2(cs[5] / n / self.glsb)])

    def _set_bias(self):
        B = self._B
        self._bx = (B[0] + 8) >> 4
        self._by = (B[1] + 8) >> 4
        self._bz = (B[2] + 8) >> 4

    # ------------------------------------------------ learning the axis
    def _ax_reset(self, t):
        self._ax_on = False  # a candidate drop is under way
        self._ax_t0 = t
        self._ax_r = [0, 0, 0]  # integrated rate vector, counts*ms
        self._ax_peak = 0  # max tilt, udeg
        self._ax_wmax = 0
        self._ax_settle = None
        self._ax_bad = False
        self._ax_last_level = t
        self._ax_still = None

    def _tilt(self):
        # tilt of the low-passed accel from u (udeg), floats: only while learning
        a = self._alp
        u = self._u
        x = a[0] / 16
        y = a[1] / 16
        z = a[2] / 16
        up = x * u[0] + y * u[1] + z * u[2]
        px = x - up * u[0]
        py = y - up * u[1]
        pz = z - up * u[2]
        perp = math.sqrt(px * px + py * py + pz * pz)
        return int(math.atan2(perp, up) * _R2U), (px, py, pz)

    def _step_axis(self, t, dt, ax, ay, az, wx, wy, wz, still):
        tilt, perp = self._tilt()
        wmag = abs(wx) + abs(wy) + abs(wz)  # counts, L1 norm
        w_mdps = int(wmag * self._mdps)
        a2 = (ax >> 2) * (ax >> 2) + (ay >> 2) * (ay >> 2) + (az >> 2) * (az >> 2)
        impact = a2 > self._g2hi * 4  # more than ~2 g
        if not self._ax_on:
            if tilt < self._d_start // 2:
                self._ax_last_level = t
                if still:
                    self._track_bias(dt, wx, wy, wz)
                    self._retare_level(t)
            if tilt > self._d_start and not self._ax_bad:
                self._ax_on = True
                self._ax_t0 = self._ax_last_level
                self._ax_r = [0, 0, 0]
                self._ax_peak = tilt
                self._ax_wmax = 0
                self._ax_settle = None
            elif self._ax_bad and tilt < self._d_start // 2 and still:
                self._ax_bad = False
            return
        r = self._ax_r
        r[0] += wx * dt
        r[1] += wy * dt
        r[2] += wz * dt
        if w_mdps > self._ax_wmax:
            self._ax_wmax = w_mdps
        if w_mdps > self._max_rate or impact:
            # fast, violent motion (walking, stepping): not a calibration drop
            self._ax_on = False
            self._ax_bad = True
            return
        if tilt > self._ax_peak:
            self._ax_peak = tilt
        if tilt < self._d_start // 2:
            self._ax_on = False  # back to level: it was a shuffle
            return
        # settled at a tilted pose, or turning back: learn the axis
        slow = w_mdps < self._hold_rate * 2
        if slow:
            if self._ax_settle is None:
                self._ax_settle = t
        else:
            self._ax_settle = None
        turning = self._ax_peak - tilt > 3 * _UDEG
        settled = self._ax_settle is not None and ticks_diff(t, self._ax_settle) >= 300
        if self._ax_peak >= self._axis_min and (settled or turning):
            self._learn_axis(t, perp, tilt)

    def _learn_axis(self, t, perp, tilt):
        u = self._u
        f = _norm3(perp[0], perp[1], perp[2])
        r = self._ax_r
        if f is None:
            return
        p = _cross(f, u)
        # the gyro must agree: rotation about p of about the tilt seen
        rot = (r[0] * p[0] + r[1] * p[1] + r[2] * p[2]) * self._mdps / 1000.0  # mdeg*... -> deg
        rot_deg = rot / 1000.0
        rn = math.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]) * self._mdps / 1e6
        tilt_deg = tilt / _UDEG
        if rot_deg < 0.5 * tilt_deg or rn > 2.0 * tilt_deg + 5:
            # inconsistent rotation: not a single-axis drop; wait for another
            self._ax_on = False
            self._ax_bad = True
            return
        self._set_frame(u, f)
        self.axis_known = True
        self._emit("calibrated", t, rep=0, stage="axis", level_tilt_deg=r2(tilt_deg),
                   axis=[r2(p[0]), r2(p[1]), r2(p[2])], axis_source="descent")
        # start the fusion from the accelerometer and enter the first rep
        self._restart = True
        self._fuse(0, self._alp[0] // 16, self._alp[1] // 16, self._alp[2] // 16, 0, 0, 0)
        self.state = S_TOP
        self._reset_rep()
        self._start_rep(t, self._ax_t0)
        # replay what the drop so far tells: crossings are unknown, use the onset
        self._peak = self.theta
        self._t_peak = t

    def _track_bias(self, dt, wx, wy, wz):
        # slow gyro bias tracking while still (tau 8 s)
        B = self._B
        k = dt if dt < 100 else 100
        B[0] += (wx * 16) * k // 8000
        B[1] += (wy * 16) * k // 8000
        B[2] += (wz * 16) * k // 8000
        self._set_bias()

    def _retare_level(self, t):
        # Re-take the level pose after 1.5 s of rest near level (strap slip).
        if self._still_since is None:
            self._still_since = t
            self._retared = False
            return
        if self._retared or ticks_diff(t, self._still_since) < 1500:
            return
        self._retared = True
        a = self._alp
        u = _norm3(a[0], a[1], a[2])
        if u is None:
            return
        self._u = u
        self._U = (int(u[0] * _AX_ONE), int(u[1] * _AX_ONE), int(u[2] * _AX_ONE))
        if self.axis_known:
            f = self._f
            d = _dot(f, u)
            f = _norm3(f[0] - d * u[0], f[1] - d * u[1], f[2] - d * u[2])
            if f is not None:
                self._set_frame(u, f)
                self._restart = True

    # ---------------------------------------------------------- fusion
    def _fuse(self, dt, ax, ay, az, wx, wy, wz):
        RP = self._RP
        wp = (wx * RP[0] + wy * RP[1] + wz * RP[2]) >> _RATE_SHIFT  # mdps
        RF = self._RF
        wr = (wx * RF[0] + wy * RF[1] + wz * RF[2]) >> _RATE_SHIFT
        RU = self._RU
        wu = (wx * RU[0] + wy * RU[1] + wz * RU[2]) >> _RATE_SHIFT
        self.wp = wp
        # mdps * ms = udeg: (1e-3 deg/s) * (1e-3 s)
        th = self.theta + wp * dt
        ph = self.phi + wr * dt
        self.psi += wu * dt
        # accelerometer correction, gated off in dynamics
        F = self._F
        U = self._U
        P = self._P
        x = (ax * F[0] + ay * F[1] + az * F[2]) >> _AX_SHIFT
        z = (ax * U[0] + ay * U[1] + az * U[2]) >> _AX_SHIFT
        y = (ax * P[0] + ay * P[1] + az * P[2]) >> _AX_SHIFT
        a2 = (ax >> 2) * (ax >> 2) + (ay >> 2) * (ay >> 2) + (az >> 2) * (az >> 2)
        if self._restart:
            self._restart = False
            th = int(math.atan2(x, z) * _R2U)
            ph = int(math.atan2(y, math.sqrt(x * x + z * z)) * _R2U)
            self.wl = 0
        elif self._g2lo < a2 < self._g2hi and -30000 < wp < 30000:
            tau = self._tau
            ta = int(math.atan2(x, z) * _R2U)
            th += (ta - th) // tau * dt
            pa = int(math.atan2(y, math.sqrt(x * x + z * z)) * _R2U)
            ph += (pa - ph) // tau * dt
        self.theta = th
        self.phi = ph
        k = dt if dt < _LPF_MS else _LPF_MS
        self.wl += (wp - self.wl) * k // _LPF_MS

    # ------------------------------------------------------------- top
    def _step_top(self, t, dt, gx, gy, gz, still):
        th = self.theta
        wl = self.wl
        # last upward crossing of each degree while at the top: the start of a
        # drop is crossed before the drop is confirmed
        kk = th // _UDEG + _OFF
        if kk < 0:
            kk = 0
        elif kk >= _NK:
            kk = _NK - 1
        pk = self._prev_k
        if kk > pk:
            tcu = self._tc_up
            for j in range(pk + 1, kk + 1):
                tcu[j] = t
        self._prev_k = kk
        if th < self._top_band:
            self._t_last_top = t
        if th < self._top_band and still and -self._hold_rate < wl < self._hold_rate:
            self._track_bias(dt, gx - self._bx, gy - self._by, gz - self._bz)
            self._retare_level(t)
        else:
            self._still_since = None
        # reset_ready after a rep, once steady at the top
        if self._await_ready:
            if -self._top_band < th < self._top_band and -self._hold_rate < wl < self._hold_rate:
                if self._ready_since is None:
                    self._ready_since = t
                elif ticks_diff(t, self._ready_since) >= self._reset_ms:
                    self._await_ready = False
                    self._emit("reset_ready", t)
            else:
                self._ready_since = None
        # descent start: deeper than the start threshold and moving down for 0.2 s
        if th > self._d_start and wl > self._d_rate:
            if self._t_cand is None:
                self._t_cand = t
            elif ticks_diff(t, self._t_cand) >= 200:
                self._start_rep(t, self._t_last_top)
        else:
            self._t_cand = None

    def _start_rep(self, t, onset):
        self._reset_rep()
        self.rep += 1
        self.state = S_DESC
        self._await_ready = False
        self._t_onset = onset
        k = self.theta // _UDEG + _OFF + 1
        if k < 0:
            k = 0
        self._next_k = k
        # levels already passed were crossed while at the top (or are unknown)
        self._k_first = k
        tcu = self._tc_up
        j = k - 1
        while j >= 0 and ticks_diff(tcu[j], onset) >= 0:
            j -= 1
        self._k_first = j + 1
        self._psi0 = self.psi
        self._emit("rep_start", t, onset_ms=onset)

    def _cancel(self, reason):
        self._emit("rep_cancel", self.t_ms, reason=reason)
        self.rep -= 1
        self.state = S_TOP
        self._t_cand = None
        self._await_ready = True
        self._ready_since = None

    # ------------------------------------------------------------ reps
    def _step_rep(self, t, dt):
        th = self.theta
        wl = self.wl
        st = self.state
        if wl > self._max_rate or wl < -self._max_rate:
            self._cancel("too violent for a heel drop")
            return
        # first upward crossings (descent) and last downward crossings (rise)
        kk = th // _UDEG + _OFF
        if kk < 0:
            kk = 0
        elif kk >= _NK:
            kk = _NK - 1
        if st == S_DESC:
            nk = self._next_k
            while nk <= kk:
                self._tc_up[nk] = t
                nk += 1
            self._next_k = nk
        pk = self._prev_k
        if kk < pk:
            tcd = self._tc_dn
            for j in range(kk + 1, pk + 1):
                tcd[j] = t
        self._prev_k = kk
        if th > self._peak:
            self._peak = th
            self._t_peak = t
        # roll-out beyond the person's coupling, and twist
        self._check_roll_twist(t, th)
        if st == S_DESC:
            self._step_desc(t, th, wl)
        elif st == S_HOLD:
            self._step_hold(t, th, wl)
        else:
            self._step_rise(t, th, wl)

    def _check_roll_twist(self, t, th):
        side = self.side
        ro = self._rsign * self.phi // 1000  # mdeg, + = inversion
        if ro > self._max_roll:
            self._max_roll = ro
        extra = ro - (self._k1024[side] * (th // 1000) >> 10) - self._c_md[side]
        if extra > self._roll_lim:
            if self._roll_since is None:
                self._roll_since = t
            elif not self._roll_out and ticks_diff(t, self._roll_since) >= self._roll_ms:
                self._roll_out = True
                self._emit("roll_out", t, roll_deg=r2(extra / 1000))
        else:
            self._roll_since = None
        # baseline sums, every 50 ms (0.1 deg units)
        if ticks_diff(t, self._bl_t) >= 50:
            self._bl_t = t
            a = th // 100000
            b = ro // 100
            bl = self._bl
            bl[0] += 1
            bl[1] += a
            bl[2] += b
            bl[3] += a * a
            bl[4] += a * b
        dpsi = self.psi - self._psi0
        if not self._twisted and (dpsi > self._twist or dpsi < -self._twist):
            self._twisted = True
            self._emit("twist", t, yaw_deg=r2(dpsi / _UDEG))

    def _bounce_track(self, t, th, wl):
        # Rebound tracker at the bottom. Returns 1 while a rebound is under way.
        if self._bmode == 0:
            if th >= self._bmax:
                self._bmax = th
                self._bmax_t = t
            elif self._bmax - th >= self._b_min and th > self._peak - 8 * _UDEG:
                self._bmode = 1
                self._bmin = th
                self._bmin_w = wl
            return 0
        if th < self._bmin:
            self._bmin = th
            self._t_bn = t
        if wl < self._bmin_w:
            self._bmin_w = wl
        amp = self._bmax - self._bmin
        back = amp >> 2
        if back < 600000:
            back = 600000
        if th - self._bmin >= back:
            # came back down: that was a bounce
            if -self._bmin_w >= self._b_rate and ticks_diff(t, self._bmax_t) >= 80:
                self._bounces += 1
                self._emit("bounce", t, amplitude_deg=r2(amp / _UDEG))
            self._bmode = 0
            self._bmax = th
            self._bmax_t = t
            return 0
        return 1

    def _step_desc(self, t, th, wl):
        if wl > self._peak_w:
            self._peak_w = wl
        # too fast: peak rate, or mean rate since the start threshold once 8 deg deep
        if not self._fast:
            el = ticks_diff(t, self._tc_up_at(self._d_start))
            fast = wl > self._fast_peak
            if not fast and th >= self._min_depth and th < self._peak + 1 and el > 0:
                fast = (th - self._d_start) // el > int(self.cfg.fast_descent_dps * 1000)
            if fast:
                self._fast = True
                self._emit("descent_too_fast", t, speed_dps=r2(max(wl, 0) / 1000))
        reb = self._bounce_track(t, th, wl)
        # settled at the bottom: hold
        if -self._hold_rate < wl < self._hold_rate and th >= self._peak - self._peak // 5:
            if self._settle is None:
                self._settle = t
            elif ticks_diff(t, self._settle) >= self._hold_enter and self._peak >= self._min_depth:
                self._enter_hold(t, th)
                return
        else:
            self._settle = None
        # rising without a hold
        if reb and self._rising(t, th):
            if self._peak < self._min_depth:
                self._cancel("too shallow")
                return
            self._t_dend = self._desc_end(t)
            self._enter_rise(t)
            return
        if self._peak < self._min_depth and th < self._top_band and wl < 0:
            self._cancel("too shallow")

    def _tc_up_at(self, level):
        k = level // _UDEG + _OFF + 1
        return self._tc_up[k] if 0 <= k < self._next_k else self._t_onset

    def _rising(self, t, th):
        # a rebound that keeps going up for 0.6 s, or passes halfway to the top
        drop = self._bmax - th
        if drop < self._band:
            return False
        if th <= self._peak >> 1:
            return True
        return ticks_diff(t, self._bmax_t) >= 600 and self.wl < 0

    def _desc_end(self, t):
        # end of the descent from a minimum-jerk fit of the crossing times
        fit = self._fit_up()
        if fit is None:
            return self._t_peak if self._settle is None else self._settle
        self._t_onset = fit[0]
        return fit[1]

    def _fit_up(self):
        P = self._peak / _UDEG
        if P < 3:
            return None
        k1 = int(0.1 * P + 0.5)
        k2 = int(0.9 * P + 0.5)
        if k1 < 1:
            k1 = 1
        i1 = k1 + _OFF
        if i1 < self._k_first:
            i1 = self._k_first
            k1 = i1 - _OFF
        i2 = k2 + _OFF
        if k2 <= k1 or i2 >= self._next_k or k1 < 1:
            return None
        t1 = self._tc_up[i1]
        t2 = self._tc_up[i2]
        s1 = _mj_inv(k1 / P)
        s2 = _mj_inv(k2 / P)
        d = ticks_diff(t2, t1)
        if d <= 0 or s2 <= s1:
            return None
        T = d / (s2 - s1)
        self._fast_mean = (k2 - k1) * 1000.0 / d  # dps over ~10-90 %
        return ticks_add(t1, -int(s1 * T + 0.5)), ticks_add(t2, int((1.0 - s2) * T + 0.5))

    def _enter_hold(self, t, th):
        self._t_dend = self._desc_end(t)
        if ticks_diff(self._t_dend, t) > 0:
            self._t_dend = t
        self.state = S_HOLD
        self._hold_ref = self._peak
        self._hold_ticks = 0
        self._hold_target_sent = False
        self._emit("hold_start", t, depth_deg=r2(th / _UDEG))
        self._hold_tick(t)

    def _hold_tick(self, t):
        el = ticks_diff(t, self._t_dend)
        while (self._hold_ticks + 1) * 1000 <= el:
            self._hold_ticks += 1
            self._emit("hold_tick", t, hold_s=self._hold_ticks)
        if not self._hold_target_sent and el >= self._hold_target_ms:
            self._hold_target_sent = True
            self._emit("hold_target", t, hold_s=r2(el / 1000))

    def _step_hold(self, t, th, wl):
        reb = self._bounce_track(t, th, wl)
        if reb and self._rising(t, th):
            self._enter_rise(t)
            return
        if not reb:
            self._hold_tick(t)

    def _enter_rise(self, t):
        self.state = S_RISE
        self._rise_min = self.theta
        self._t_rise_min = t
        self._t_rise_conf = t
        self._emit("rise_start", t, hold_s=r2(max(0, ticks_diff(self._bmax_t, self._t_dend)) / 1000))

    def _step_rise(self, t, th, wl):
        up = -wl
        if up > self._peak_up:
            self._peak_up = up
            if not self._snap and up > self._snap_peak:
                self._snap = True
                self._emit("snap_up", t, speed_dps=r2(up / 1000))
        if th < self._rise_min:
            self._rise_min = th
            self._t_rise_min = t
        if th < self._top_band and -self._hold_rate < wl < self._hold_rate:
            self._end_rep(t, t)
            return
        if th < self._top_band // 2:
            self._end_rep(t, t)
            return
        # going down again before reaching the top: a new rep (continuous pumping)
        if th - self._rise_min > 4 * _UDEG and wl > self._d_rate:
            onset = self._t_rise_min
            self._end_rep(t, self._t_rise_min)
            self._start_rep(t, onset)

    def _fit_dn(self, H, L):
        # rise from H down to L (udeg): min-jerk fit of the last downward crossings
        R = (H - L) / _UDEG
        if R < 3:
            return None
        Hd = H / _UDEG
        k_hi = int(Hd - 0.1 * R)
        k_lo = int(Hd - 0.9 * R + 1.0)
        if k_lo >= k_hi:
            return None
        i_hi = k_hi + _OFF
        i_lo = k_lo + _OFF
        if i_lo < 0 or i_hi >= _NK:
            return None
        t_hi = self._tc_dn[i_hi]
        t_lo = self._tc_dn[i_lo]
        q_hi = (Hd - k_hi) / R
        q_lo = (Hd - k_lo) / R
        s_hi = _mj_inv(q_hi)
        s_lo = _mj_inv(q_lo)
        d = ticks_diff(t_lo, t_hi)
        if d <= 0 or s_lo <= s_hi or ticks_diff(t_hi, self._t_dend) < 0:
            return None
        T = d / (s_lo - s_hi)
        mean = (k_hi - k_lo) * 1000.0 / d
        return ticks_add(t_hi, -int(s_hi * T + 0.5)), ticks_add(t_lo, int((1.0 - s_lo) * T + 0.5)), mean

    def _end_rep(self, t, t_end):
        peak = self._peak
        H = self._hold_ref if self._hold_ref else peak
        fit = self._fit_dn(H, self._rise_min if self._rise_min > 0 else 0)
        if fit is not None:
            r_on, r_end, r_mean = fit
        else:
            r_on, r_end, r_mean = self._bmax_t, t_end, 0.0
        if ticks_diff(r_on, self._t_dend) < 0:
            r_on = self._t_dend
        start = self._t_onset
        d_s = max(1, ticks_diff(self._t_dend, start)) / 1000
        h_s = max(0, ticks_diff(r_on, self._t_dend)) / 1000
        r_s = max(1, ticks_diff(r_end, r_on)) / 1000
        depth = peak / _UDEG
        rise_deg = (H - self._rise_min) / _UDEG
        d_speed = depth / d_s
        r_speed = rise_deg / r_s
        fmean = getattr(self, "_fast_mean", 0.0)
        self._fast_mean = 0.0
        fast = self._fast or fmean > self.cfg.fast_descent_dps or self._peak_w > self._fast_peak
        if fast and not self._fast:
            self._emit("descent_too_fast", t, speed_dps=r2(fmean))
        snap = self._snap or r_mean > self.cfg.snap_up_dps or self._peak_up > self._snap_peak
        if snap and not self._snap:
            self._emit("snap_up", t, speed_dps=r2(max(r_mean, self._peak_up / 1000)))
        no_hold = h_s < self.cfg.no_hold_s
        ev = {
            "start_ms": start, "end_ms": r_end, "depth_deg": r2(depth), "hold_s": r2(h_s),
            "descent_s": r2(d_s), "rise_s": r2(r_s), "descent_speed_dps": r2(d_speed),
            "rise_speed_dps": r2(r_speed), "bounces": self._bounces,
            "max_roll_deg": r2(self._max_roll / 1000), "fast_descent": fast,
            "roll_out": self._roll_out, "snap_up": snap, "twist": self._twisted, "no_hold": no_hold,
        }
        self._emit("rep_end", t, **ev)
        ev["side"] = self.side
        self.reps_by_side[self.side].append(ev)
        if not (self._roll_out or self._twisted):
            self._add_baseline()
        self.state = S_TOP
        self._t_cand = None
        self._await_ready = True
        self._ready_since = None
        self._t_last_top = t

    def _add_baseline(self):
        side = self.side
        B = self._baseline[side]
        bl = self._bl
        if bl[0] < 10:
            return
        B[5] += 1
        for i in range(5):
            B[i] += bl[i]
        if B[5] >= _BASELINE_REPS:
            n = B[0]
            den = n * B[3] - B[1] * B[1]
            if den > 0:
                k = (n * B[4] - B[1] * B[2]) / den
                c = (B[2] - k * B[1]) / n
                self._k1024[side] = int(k * 1024)
                self._c_md[side] = int(c * 100)
