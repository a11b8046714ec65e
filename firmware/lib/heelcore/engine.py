# The heel drop detection engine: its interface, the sign of the axis, events.
#
#   eng = Engine(Config(side="left"), accel_lsb_per_g=8192, gyro_lsb_per_dps=65.5)
#   n = eng.step(t_ms, ax, ay, az, gx, gy, gz)    # raw integer counts, sensor axes
#   n = eng.feed(ts, counts, i, k)   # or samples i..k-1 of arrays ('i' ticks, 'h' x6)
#   while n: ev = eng.pop_event(); n -= 1          # contract event dicts
#   eng.finish()                                   # end of stream
#
# Inputs are the sensor's raw integer counts in its own axes (any mounting)
# and a tick time in ms. The host converts trace CSV values to counts at the
# trace's scale (heeldrop.replay).
#
# Two layers, one source for MicroPython and CPython:
# - the signal layer (heelcore.fusion): every sample a viper function over
#   one array('i') of state (filters, gyro bias, the rates on the foot's
#   axes, pitch, roll and yaw); every 100 ms the slow tick: the
#   accelerometer correction with its integral term on the bias, rest
#   windows (calibration, bias, level) and learning the axis;
# - the exercise layer (heelcore.reps): the rep state machine and its faults,
#   one per hypothesis of which way is down.
# This module puts them together: the API, the decision of the sign, the
# events and the per-side totals.
#
# Every decision is made in integers (heelcore.imath): no float reaches
# the state, and every number in an event is built from integer hundredths
# (heelcore.events.c2), so a board with single-precision floats and 32-bit
# viper integers prints the same lines as the host.
#
# Signals (the conventions of docs/DOMAIN.md):
#   theta: foot pitch below the level tare, + = heel below level (depth)
#   phi:   roll about the foot's forward axis; side-corrected (rsign) so that
#          + = inversion, the roll-out onto the little-toe side
#   psi:   yaw, gyro-integrated; a rep's twist is its change since the start
#
# Calibration: a rest window (the tilt within still_band_deg for
# still_time_s, twice the band in the still start: heelcore.fusion; the
# gyro may show sway) gives the level "up" vector u and
# the gyro bias. The first clear excursion from level (axis_min_deg, the
# gyro's rotation matching the accelerometer's, not jolting) gives the
# pitch axis p, perpendicular to u. Its sign (heel down, or the heel rising
# onto the toes) is decided by what follows: two rep machines run, one per
# sign, their events held back, until one of them holds the bottom for
# 8 s within 3 deg of its level (a raised top: 0.5-3 s), goes deeper than any raised
# top read through a shoe mount's coupled roll (36 deg), holds deeper than
# any raised top read straight (28 deg) after a descent of 3 s (slower than
# a rise onto the toes) or for 6 s, or ends a rep that deep back
# at rest at the top it started from (a toe stand read deep is held 5.4 s at
# most and goes on past level into the true drop), or completes reps
# the other never sees; that one's events are emitted (with the decision's
# time) and the first rep is not lost.
import array
import math

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr16, ptr32

from heelcore.config import Config
from heelcore.events import c2, ms_s, rdiv, udeg_c
from heelcore.fusion import M_AXIS, M_CAL, M_RUN, Fusion
from heelcore.imath import vangle, vcross, vunit, zeros
from heelcore.reps import E_DN, E_LPK, E_LTOP, E_LVN, E_PEAK, E_PREVK, E_SIGN, E_SIZE, E_STATE, E_UP, FLAGS, NK, OFF, S_DESC, S_HOLD, S_TOP, Reps
from heelcore.ticks import ticks_diff

# indices of the signal state (heelcore.fusion's private constants, which
# MicroPython does not export; tests/host/test_parity.py checks they agree)
_ALX = const(2)
_ALY = const(3)
_ALZ = const(4)
_TH = const(20)
_PH = const(21)
_PS = const(22)
_WL = const(24)
_XF = const(25)
_VF = const(26)
_ACC = const(34)
_SLOW = const(35)
_MODE = const(36)
_PEND = const(37)
_RESTART = const(38)
_BAD = const(39)
_OOO = const(40)
_GAPS = const(41)
_SAT = const(42)
_NQ = const(45)

PHASES = ("calibrating", "learning", "top", "descent", "hold", "rise")
_UDEG = const(1000000)
_DEPTHS = const(256)  # depths kept per side for the summary's median
_BASELINE_REPS = const(3)
# Prior pitch-roll coupling before the person's own is fitted: 0, because the
# axis learned on the first drop already contains that drop's coupled roll
# (docs/DOMAIN.md section 7(b): normal coupling phi = -0.26 theta).
_PRIOR_K1024 = const(0)
_SIGN_HOLD_MS = const(8000)  # a hold this long decides the sign: a top dwell is 0.5-3 s (docs/DOMAIN.md section 7(b)), and a slow descent leaves a raised top over a few more
_SIGN_DEEP = const(28000000)  # deeper than any raised top (<= 25 deg, docs/DOMAIN.md section 1.3)
_SIGN_DWELL_MS = const(6000)  # a top dwell or toe stand (0.5-3 s, docs/DOMAIN.md section 7(b)) read as a hold, with the slow start
# of the drop that leaves it (its first 30 %, < 7 deg, of a descent of up to 8 s): 5.4 s at most
_SIGN_SLOW_MS = const(3000)  # a descent this long is no rise onto the toes (a rise: 1-3 s, docs/DOMAIN.md section 7(b))
_SIGN_DEEPER = const(36000000)  # ... even read through a shoe mount's coupled roll (25 deg x 1.36, and sway)
_SIGN_REP_MS = const(2500)  # a rep this long decides the sign by number: a descent takes 2-6 s, a rise 1-3 s (docs/DOMAIN.md section 7(b))
_SIGN_MS = const(180000)  # undecided this long: the better evidence wins
_SIGN_EVENTS = const(300)  # or this many events held back
_CUE_STALE_MS = const(1000)  # a bounce cue of a rep already over, held back longer than this, is not given
_HOLD_AXIS_MS = const(8000)  # a quiet tilted rest this long reads the foot's axis: a roll-out lasts 0.5-5 s (docs/DOMAIN.md section 7(b))
_HOLD_LONG_MS = const(15000)  # a quiet tilted rest this long is a hold: a top dwell is 0.5-3 s, a hold 10-60 s (docs/DOMAIN.md section 7(b))
_ROLL_SAME = const(5000000)  # a hold's roll within this of its roll at arrival came with the descent
_HOLD_MAX = const(50000000)  # no hold is deeper (depth <= 40 deg, creep <= 5 deg)
_FAIL_FIRST_MS = const(20000)  # not calibrated after this long: calibration_failed (and every minute)
_NOTHING = array.array("i", [0] * E_SIZE)  # the second hypothesis' array when there is none


def _tab(k):
    # a whole-degree index into a crossing table (heelcore.reps), clamped
    return 0 if k < 0 else (NK - 1 if k >= NK else k)


def _fix(x, scale):
    # a non-negative setting (a decimal with at most 3 places) as an integer
    return int(x * scale + 0.5)


class Engine(Fusion):
    _ex: Reps  # None until the axis is known (annotated for the type check)
    _ex2: Reps  # None unless the sign is pending

    def __init__(self, config=None, accel_lsb_per_g=8192, gyro_lsb_per_dps=65.5):
        c = config if config is not None else Config()
        self.cfg = c
        gm = int(gyro_lsb_per_dps * 1000 + 0.5)
        am = int(accel_lsb_per_g * 1000 + 0.5)
        # thresholds in engine units, computed once (udeg, mdps, ms, counts)
        self.k_rest_band = _fix(c.still_band_deg, _UDEG)
        self.k_rest_ms = c.ms("still_time_s")
        self.k_retare_max = 6 * _UDEG  # rests this close to level re-take the level before the first drop
        self.k_retare_blend = 3 * _UDEG
        # the still start's rest band: a shoe mount doubles the heel's roll
        # sway (docs/DOMAIN.md section 7(b): unsupported 2-3 deg, gain up to 2)
        self.k_rest_wide = 2 * self.k_rest_band
        self.k_axis_min = _fix(c.axis_min_deg, _UDEG)
        self.k_d_start = _fix(c.descent_start_deg, _UDEG)
        self.k_d_rate = _fix(c.descent_rate_dps, 1000)
        self.k_min_depth = _fix(c.min_depth_deg, _UDEG)
        self.k_hold_rate = _fix(c.hold_rate_dps, 1000)
        self.k_hold_enter = c.ms("hold_enter_s")
        self.k_band = _fix(c.hold_band_deg, _UDEG)
        self.k_top_band = _fix(c.top_band_deg, _UDEG)
        self.k_rise_half = _fix(c.rise_rate_dps, 500)
        self.k_reset_ms = c.ms("reset_s")
        self.k_fast_mean = _fix(c.fast_descent_dps, 1000)
        self.k_fast_peak = _fix(c.fast_descent_peak_dps, 1000)
        self.k_snap_mean = _fix(c.snap_up_dps, 1000)
        self.k_snap_peak = _fix(c.snap_up_peak_dps, 1000)
        self.k_roll_lim = _fix(c.roll_out_deg, 1000)  # mdeg
        self.k_roll_ms = c.ms("roll_out_time_s")
        self.k_twist = _fix(c.twist_deg, _UDEG)
        self.k_max_rate = _fix(c.max_rate_dps, 1000)
        self.k_max_rate_c = _fix(c.max_rate_dps, 1000) * gm // 1000000  # counts
        # past max_pitch_deg (pitch, any moment) or max_pitch_deg + 10 (the
        # tilt from the level's up, 0.3 s): no heel drop (_run_tick). The
        # tilt test compares z^2 with |a|^2 cos^2: k_turn_k = 1 / cos^2
        # (beyond 90 deg the sign of z flips the test, k_turn_neg)
        self.k_pitch_max = _fix(c.max_pitch_deg, _UDEG)
        # (kept 8 deg off 90, where 1 / cos^2 would overflow a small int)
        tt = c.max_pitch_deg + 10.0
        if 82.0 < tt < 98.0:
            tt = 82.0 if tt < 90.0 else 98.0
        self.k_turn_neg = tt >= 90.0
        cs = math.cos(math.radians(180.0 - tt if tt >= 90.0 else tt))
        self.k_turn_k = int(1.0 / (cs * cs))
        self.k_speed_max = 32768 * 1000000 // gm  # the gyro's full scale, mdps
        self.k_hold_target = c.ms("hold_target_s")
        self.k_no_hold = c.ms("no_hold_s")
        self.k_tau = c.ms("fusion_tau_s")
        # on the 4 Hz view a 2 deg bounce at 3 Hz reads 1.3 deg, shake < 0.7 deg
        self.k_blim = _fix(c.bounce_min_deg, 750000)
        self.k_brate = _fix(c.bounce_rate_dps, 1000)
        self.k_gate4 = _fix(c.accel_gate_g, am) // 4000  # counts / 4
        self._fusion_init(c, accel_lsb_per_g, gyro_lsb_per_dps)
        rw = self._rw
        rw[18] = self.k_rest_wide
        rw[22] = self.k_rest_band
        rw[19] = 150 * gm // 1000  # counts, L1: no rest beyond 150 deg/s
        rw[20] = self.k_rest_ms
        self._fed = array.array("i", [0])  # feed(): the sample being stepped
        self._q = []
        self.side = c.side
        self.rsign = 1 if c.side == "left" else -1
        self.t_ms = 0
        self._bl_sums = {"left": [0, 0, 0, 0, 0, 0], "right": [0, 0, 0, 0, 0, 0]}
        self.k1024 = {"left": _PRIOR_K1024, "right": _PRIOR_K1024}
        self.c_md = {"left": 0, "right": 0}
        # per-side totals (a long session must not grow the heap rep by rep):
        # reps, hold ms, bounces, then the five flag counts; depths in 0.01 deg
        # for the median, the last _DEPTHS reps per side
        self._tot = {"left": [0] * 8, "right": [0] * 8}
        self._depths = {"left": zeros("h", _DEPTHS), "right": zeros("h", _DEPTHS)}
        self.calibrated = False
        self.axis_known = False
        self._ex = None  # type: ignore[assignment]  # the rep machine (once the axis is known)
        self._ex2 = None  # type: ignore[assignment]  # the other sign's, while the sign is pending
        self._exa = _NOTHING
        self._exb = _NOTHING
        self._rep_base = 0
        self._pend_t0 = 0
        self._slip = array.array("i", [0, 0, 0, 0])  # a candidate level after a strap slip, and whether set
        # a run of rest windows tilted alike (a hold once it lasts
        # _HOLD_LONG_MS): its first window's start, windows, whether on,
        # their directions summed (sensor axes); and the first's direction
        self._hrun = array.array("i", [0, 0, 0, 0, 0, 0])
        self._hdir = array.array("i", [0, 0, 0])
        self._lvl_t = 0  # the last tick the foot was near level (pitch and roll)
        self.sway0 = 0
        self.sway_mdps = 0
        self.sign_note = ""
        # the two sign hypotheses' rep machines, made once with the engine
        # and reset when an axis is learned (learn_axis)
        self._hyp = (Reps(self, 1, 0, 0), Reps(self, -1, 0, 0))
        # the yaw (udeg) at each of the last 30 ticks, across the top: a
        # rep's twist window starts with them (heelcore.reps); [30] the
        # next slot, [31] the ticks kept since the frame was learned (<= 30)
        self.ps_ring = zeros("i", 32)
        self._jolt_t = None  # the last tick that saw walking or stepping
        self._over = 0  # ticks in a row the sensor was turned past any heel drop
        self._walked = 0  # walked or stepped (1; 2: the sensor turned over) since the level was taken
        self._done = [0, 0]
        self._ref = [0, 0]  # the rep whose rests last judged the axis, and how many reps did
        self._ph_in = 0
        self._clean = [0, 0, 0, 0]  # clean reps per sign, then those of them long enough to decide it
        self._start_cal(0)

    def _start_cal(self, t):
        s = self._s
        s[_MODE] = M_CAL
        s[_PEND] = 0
        self.calibrated = False
        self.axis_known = False
        self._drop_hypotheses()
        self._cal_t0 = t
        self._fail_next = _FAIL_FIRST_MS
        self._hrun[2] = 0
        self._rw[0] = 0
        self._why_reset()
        self.ax_max_tilt = 0
        self.ax_violent = 0
        self.ax_inconsistent = 0

    def _drop_hypotheses(self):
        ex = self._ex
        if ex is not None and ex.held is None:
            self._rep_base = ex.rep
        self._ex = None  # type: ignore[assignment]
        self._ex2 = None  # type: ignore[assignment]
        self._exa = _NOTHING
        self._exb = _NOTHING
        self._s[_PEND] = 0

    def _axis_again(self, t):
        # the learned frame was no heel drop's (walking, a roll taken for
        # pitch, the sensor moved): back to learning the axis
        self._drop_hypotheses()
        self._s[_MODE] = M_AXIS
        self._ax_reset(t)

    # ---------------------------------------------------------------- API
    @property
    def rep(self):
        ex = self._ex
        if ex is not None and ex.held is None:
            return ex.rep
        return self._rep_base

    @property
    def state(self):
        return PHASES.index(self.phase())

    @property
    def theta(self):
        return self._s[_TH]

    @property
    def bad_samples(self):
        return self._s[_BAD]

    @property
    def out_of_order(self):
        return self._s[_OOO]

    @property
    def gaps(self):
        return self._s[_GAPS]

    @property
    def saturated(self):
        return self._s[_SAT]

    def pop_event(self):
        if self._q:
            self._s[_NQ] = len(self._q) - 1
            return self._q.pop(0)
        return None

    def set_side(self, side, t_ms=None):
        if side not in ("left", "right"):
            raise ValueError("side must be left or right, got %r" % (side,))
        if side == self.side:
            return 0
        t = self.t_ms if t_ms is None else t_ms
        self._cancel_live("side switched")
        self.side = side
        self.rsign = 1 if side == "left" else -1
        self._out({"type": "side", "t_ms": t, "rep": 0, "side": side})
        # the sensor moves to the other foot: learn level and axis again
        self.recalibrate(t)
        self._sw = 2
        return len(self._q)

    def recalibrate(self, t_ms=None):
        """Forget level and axis: a new still start and first drop follow."""
        t = self.t_ms if t_ms is None else t_ms
        self._cancel_live("recalibrating")
        self._start_cal(t)

    def _cancel_live(self, reason):
        ex = self._ex
        if ex is not None and ex.held is None and ex.e[E_STATE] >= S_DESC:
            ex.cancel(reason)

    def phase(self):
        mode = self._s[_MODE]
        if mode == M_CAL:
            return "calibrating"
        ex = self._ex
        if mode == M_AXIS or ex is None or ex.held is not None:
            return "learning"
        return PHASES[ex.e[E_STATE]]

    def depth_deg(self):
        ex = self._ex
        return self._s[_TH] * (ex.sign if ex is not None else 1) / _UDEG

    def ms_to_tick(self):
        """Sample time (ms) until the slow tick, where the engine decides and
        emits its events (a bounce is cued at once): a reader of the
        sensor's FIFO that hands over the tick's sample right away cues
        without delay."""
        s = self._s
        return s[_SLOW] - s[_ACC]

    def hold_ms(self):
        ex = self._ex
        if ex is not None and ex.held is None:
            return ex.hold_ms()
        return 0

    @micropython.native
    def step(self, t, ax, ay, az, gx, gy, gz):
        """One sample: integer counts in the sensor's axes (int16: what a
        16-bit chip can give; anything else is counted as a bad sample
        before it could be truncated), t in ms (any integer: the engine
        keeps it modulo the tick period). Returns the number of events
        queued (take them with pop_event)."""
        if (-32769 < ax < 32768 and -32769 < ay < 32768 and -32769 < az < 32768
                and -32769 < gx < 32768 and -32769 < gy < 32768 and -32769 < gz < 32768):
            return _CORE(self, t & 0x3FFFFFFF, ax, ay, az, gx, gy, gz)
        s = self._s
        s[_BAD] += 1
        return s[_NQ]

    @micropython.viper
    def feed(self, tsb, cb, i: int, n: int) -> int:
        # step() over samples i .. n-1 of a FIFO read: ticks tsb (array('i'))
        # and counts cb (array('h'), ax ay az gx gy gz a sample: int16 by
        # their type). Returns what the last step returned. The loop is
        # machine code: ~1 us a sample less than the same loop interpreted.
        # If a step raises, fed() is the index of the sample it raised on.
        ts = ptr32(tsb)
        c = ptr16(cb)
        fed = ptr32(self._fed)
        st = _CORE  # the plain function: a bound method with 7 arguments copies them to the heap each call
        q = 0
        j = 6 * i
        while i < n:
            fed[0] = i
            # ptr16 loads are unsigned: sign-extend (a no-op on CPython)
            ax = int(c[j])
            if ax >= 32768:
                ax -= 65536
            ay = int(c[j + 1])
            if ay >= 32768:
                ay -= 65536
            az = int(c[j + 2])
            if az >= 32768:
                az -= 65536
            gx = int(c[j + 3])
            if gx >= 32768:
                gx -= 65536
            gy = int(c[j + 4])
            if gy >= 32768:
                gy -= 65536
            gz = int(c[j + 5])
            if gz >= 32768:
                gz -= 65536
            q = int(st(self, int(ts[i]) & 0x3FFFFFFF, ax, ay, az, gx, gy, gz))
            i += 1
            j += 6
        return q

    def fed(self):
        """After feed() raised: the index of the sample it raised on."""
        return self._fed[0]

    def finish(self):
        """End of stream: decide a pending sign; report a calibration that
        never completed."""
        s = self._s
        if s[_MODE] == M_RUN and s[_PEND]:
            w = self._final()
            if w is not None:
                self._resolve(w, self.t_ms, "at the end of the recording: ")
        if not self.calibrated:
            self._out({"type": "calibration_failed", "t_ms": self.t_ms, "rep": 0, "reason": self.cal_reason()})
        elif not self.axis_known:
            self._out({"type": "calibration_failed", "t_ms": self.t_ms, "rep": 0, "reason": self.axis_reason()})
        return len(self._q)

    def summary(self):
        sides = {}
        for sd in ("left", "right"):
            tot = self._tot[sd]
            n = tot[0]
            d = {"reps": n}
            if n:
                m = n if n < _DEPTHS else _DEPTHS
                depths = sorted(self._depths[sd][:m])
                med = depths[m // 2] if m % 2 else rdiv(depths[m // 2 - 1] + depths[m // 2], 2)
                d["median_depth_deg"] = c2(med)
                d["hold_s"] = ms_s(tot[1])
                i = 3
                for flag in FLAGS:
                    d[flag] = tot[i]
                    i += 1
                d["bounces"] = tot[2]
            sides[sd] = d
        note = ""
        if not self.calibrated:
            note = self.cal_reason()
        elif not self.axis_known:
            note = self.axis_reason()
        elif self.sign_note:
            note = self.sign_note
        # the reps counted (each at its rep_end): not one still open when the stream ended
        ev = {"type": "summary", "t_ms": self.t_ms, "rep": 0, "reps": self._tot["left"][0] + self._tot["right"][0],
              "side": self.side,
              "sides": sides, "calibrated": self.calibrated, "note": note}
        s = self._s
        if s[_BAD] or s[_OOO] or s[_GAPS] or s[_SAT]:
            ev["bad_samples"] = s[_BAD]
            ev["out_of_order"] = s[_OOO]
            ev["gaps"] = s[_GAPS]
            ev["saturated"] = s[_SAT]
        return ev

    # ---------------------------------------------------- what was seen
    def cal_reason(self):
        """Why the level is not calibrated yet: what was seen, what to do."""
        need = self.k_rest_ms
        rw = self._rw
        tilt, acc, move, lr = rw[12], rw[13], rw[14], rw[15]
        if lr == 0 and tilt + acc + move == 0:
            return "not calibrated: no samples long enough to judge (%d.%d s needed): " \
                   "stand still with the forefoot on the step" % (need // 1000, need % 1000 // 100)
        how = ""
        if move >= tilt and move >= acc:
            seen = "the foot was turning fast (walking or stepping)"
        elif acc >= tilt:
            seen = "the foot kept accelerating (stepping, shuffling)"
        else:
            # sway past the band: a hand on a support halves it (docs/DOMAIN.md section 5)
            seen = "the foot's tilt kept changing by more than %d deg (swaying)" % (self.k_rest_band // _UDEG)
            how = " a hand on a rail or the wall,"
        return ("not calibrated: never still for %d.%d s (the longest still spell was %d.%d s); %s. "
                "Stand with the forefoot on the step,%s as still as you can, for %d s" % (
                    need // 1000, need % 1000 // 100, lr // 1000, lr % 1000 // 100, seen, how,
                    (need + 1499) // 1000 + 1))

    def axis_reason(self):
        """Why the foot's axis is not known yet."""
        mx = self.ax_max_tilt
        if self._s[_MODE] == M_RUN:
            return ("calibrated level and the foot's axis; which way is down is not known: the heel went "
                    "about as far each way and was never held at the bottom: hold the first drop for %d s" % (
                        _SIGN_HOLD_MS // 1000 + 1))
        deg = "%d.%d deg" % (mx // _UDEG, mx % _UDEG // 100000)
        lim = self.k_axis_min // _UDEG
        if mx < self.k_axis_min:
            return ("calibrated level, but the heel never dropped %d deg (the deepest tilt was %s): "
                    "let the heel sink slowly at least %d deg below the step" % (lim, deg, lim + 2))
        if self.ax_inconsistent and self.ax_inconsistent >= self.ax_violent:
            return ("calibrated level; the foot tilted up to %s, but not about one axis (twisting or "
                    "rolling): let the heel sink straight down" % deg)
        return ("calibrated level; the foot tilted up to %s, but only in fast, jolting moves (walking, "
                "stepping): make the first drop slow and smooth" % deg)

    # ------------------------------------------------------- internals
    def _out(self, ev):
        tot = ev.pop("_tot", None)
        if tot is not None:
            self._add_rep(ev, tot)
        self._q.append(ev)
        self._s[_NQ] = len(self._q)

    def ex_event(self, ex, ev):
        """An event of a rep machine: out now, or held while its sign is pending."""
        if ex.held is not None:
            ex.held.append(ev)
        else:
            self._out(ev)

    def th_now(self, ex):
        return self._s[_TH] * ex.sign

    def ps_now(self):
        return self._s[_PS]

    def cal_event(self, t, tilt, out):
        # the level taken again (after walking, on the step): what the rep
        # machines saw the level drift by is gone (the person's top is kept)
        for h in self._hyp:
            h._drift = 0
        u = self._u
        g = 16 * self._gm  # bias * 16 -> hundredths of deg/s: b * 100000 / g
        self._out({"type": "calibrated", "t_ms": t, "rep": 0, "stage": "level", "level_tilt_deg": udeg_c(tilt),
                   "axis": [c2(rdiv(u[0] * 100, 16384)), c2(rdiv(u[1] * 100, 16384)), c2(rdiv(u[2] * 100, 16384))],
                   "axis_source": "up",
                   "bias_dps": [c2(rdiv(out[0] * 100000, g)), c2(rdiv(out[1] * 100000, g)),
                                c2(rdiv(out[2] * 100000, g))]})

    def _cal_wait(self, t):
        self._rw[18] = self.k_rest_wide
        # not calibrated for a while: say so (the device cues it), and again every minute
        if ticks_diff(t, self._cal_t0) >= self._fail_next:
            self._fail_next += 60000
            self._out({"type": "calibration_failed", "t_ms": t, "rep": 0, "reason": self.cal_reason()})

    def rest_run(self, t, va, tilt):
        ex = self._ex
        if ex is not None and ex.held is None and self._long_hold(t, va, tilt):
            return
        # The axis from where the foot rests tilted (the bottom of a hold,
        # a raised top), while the sign is pending and for the first reps:
        # a rest window's mean direction averages the sway out, which the
        # first excursion's rotation cannot. Later, in the first two reps
        # held deep enough to judge (first reps that were not held, or
        # shallower than axis_min_deg, judged nothing), a hold whose roll
        # came with its descent still corrects a frame 20-60 deg off
        if ex is not None and tilt >= self.k_axis_min and self._rw_out[8] < 715:
            # (the roll this rest reads came with the descent, not after
            # the heel arrived: no roll-out in the hold, the frame is off)
            d = self._s[_PH] - self._ph_in
            far = ex.e[E_STATE] == S_HOLD and -_ROLL_SAME < d < _ROLL_SAME
            r = self._ref
            if ex.rep != r[0]:
                r[0] = ex.rep
                r[1] += 1
            if ex.held is not None or ex.reps_done < 2:
                self._axis_from_rest(va, far, 3)
            elif far and r[1] <= 2:
                self._axis_from_rest(va, far, 20)
        # a rest window near level while at the top between reps: a strap
        # slip moves the level by more than a person's top varies (+-2 deg)
        if ex is None or ex.held is not None or ex.e[E_STATE] != S_TOP:
            return
        # the person's sway rate at rest at the top: a fast descent is
        # judged on the descent's rate, not on sway added to it
        if self._rw_out[8] < 715:  # the window did not drift (by more than 2.5 deg)
            r = self.sway_rate()
            self.sway_mdps = r if r > self.sway_mdps else self.sway_mdps - (self.sway_mdps >> 3)
        # (a strap slip: the same 3-6 deg offset from level at two rests
        # at the top in a row, each without drift; a person's own tops vary
        # by +-2-3 deg, and a raised top is no level at all)
        if self.k_retare_blend < tilt < self.k_retare_max and self._rw_out[8] < 286:
            c = self._slip
            if c[3] and vangle(c, va) < 1500000:
                c[3] = 0
                self._retare(va, False)
            else:
                c[0] = va[0]
                c[1] = va[1]
                c[2] = va[2]
                c[3] = 1
        else:
            self._slip[3] = 0

    def axis_rest(self, t, va, tilt):
        # Before the axis is known, a rest window tilted 8-50 deg from level.
        # An excursion whose rotation the gyro did not confirm (a slow,
        # shallow first drop: from the last tick within the still band the
        # rotation is a few degrees, and the accelerometer's sway on it is
        # as large) teaches nothing; if the foot then rests in one pose,
        # never back at level, for _HOLD_AXIS_MS (longer than any roll-out
        # or top dwell, docs/DOMAIN.md section 7(b)), that rest is a held
        # drop (or a rise onto the toes: which way is down is decided as
        # for any first excursion): the axis is the one that tilts level
        # into it, and the rep started where the foot left level. Not after
        # walking or stepping since the level was taken (a jolt, or turned
        # past any heel drop: the level itself is in doubt).
        h = self._hrun
        if not self._ax_bad or self._moved or not self.k_axis_min <= tilt <= _HOLD_MAX:
            h[2] = 0
            return
        if not self._run_on(va, self._ax_t0) or ticks_diff(t, h[0]) < _HOLD_AXIS_MS or not self._run_mean(va):
            return
        h[2] = 0
        vc = self._vc  # the rotation from level into the rest: a x u
        vcross(vc, self._vb, self._u)
        if vunit(vc):
            self.learn_axis(t, vc, tilt)

    def _run_on(self, va, since):
        # The run of rest windows in one pose (_hrun: its first window's
        # end, windows, running, summed directions; _hdir its first
        # direction): True when this window goes on with it, within twice
        # the rest band of its first window (they are far from still under
        # unsupported sway on a shoe mount) and the run begun after `since`
        # (the foot not back near level in between); else a run starts here.
        h = self._hrun
        d = self._hdir
        if h[2] and ticks_diff(since, h[0]) < 0 and vangle(d, va) <= 2 * self.k_rest_band:
            h[1] += 1
            h[3] += va[0]
            h[4] += va[1]
            h[5] += va[2]
            return True
        h[0] = self._rw_out[7]
        h[1] = 1
        h[2] = 1
        h[3] = va[0]
        h[4] = va[1]
        h[5] = va[2]
        d[0] = va[0]
        d[1] = va[1]
        d[2] = va[2]
        return False

    def _run_mean(self, va):
        # The run's mean direction into _vb (a 1.5 s window's mean is off by
        # up to the sway: 2-3 deg of roll unsupported, x2 on a shoe mount):
        # True for 3 windows or more and this one back within the band of it
        # (not a slow drift: a hold creeps 1-5 deg)
        h = self._hrun
        vb = self._vb
        vb[0] = h[3]
        vb[1] = h[4]
        vb[2] = h[5]
        return h[1] >= 3 and vunit(vb) and vangle(vb, va) <= self.k_rest_band

    def _long_hold(self, t, va, tilt):
        # A quiet rest tilted 8-50 deg from level for _HOLD_LONG_MS (rest
        # windows in one direction, the foot never near level between
        # them) is a hold at the bottom: a top dwell, raised or not, lasts
        # 0.5-3 s. If the foot's frame does not read it as heel down
        # (within 60 deg of forward), the sign or the axis was learned
        # wrong (a toe stand held through a slow first descent; a shoe
        # mount's roll taken for pitch): the frame is learned again from
        # this hold, heel down. Returns True when it was.
        h = self._hrun
        if not self.k_axis_min <= tilt <= _HOLD_MAX:
            h[2] = 0
            return False
        # one pose since the foot was last near level
        if not self._run_on(va, self._lvl_t):
            return False
        # Two reps already held quiet 8 s on this frame confirm it: a long
        # rest it does not read as heel down is then on the toes or between
        # sets (docs/DOMAIN.md section 7(b): rests of 20-120 s, up on the
        # toes 3 s to all of it), not a hold read the wrong way. So do three
        # reps that began at level and came back to rest there (unheld
        # reps: no-hold is 0-1.5 s): a frame read the wrong way round makes
        # none of those (its reps start from the true hold, 8-40 deg down,
        # and end going on past level into the next), but a rise onto the
        # toes from level and back reads as one, and a person does that
        # before the first drop and in a rest
        ex = self._ex
        if ex.quiet_reps >= 2 or ex.e[E_LVN] >= 3:
            h[2] = 0
            return False
        # the run's mean direction, back within the band of it
        if not self._run_mean(va):
            return False
        vb = self._vb
        # its horizontal part (heel down: the forward axis, where gravity leans)
        u = self._u
        dd = (vb[0] * u[0] + vb[1] * u[1] + vb[2] * u[2]) >> 14
        for i in range(3):
            vb[i] -= dd * u[i] >> 14
        if not vunit(vb):
            return False
        f = self._f
        x = (vb[0] * f[0] + vb[1] * f[1] + vb[2] * f[2]) >> 14
        # Read as heel down within 60 deg of forward, or sideways: 8 s of
        # it outlast any roll-out or inward roll (0.5-5 s, docs/DOMAIN.md
        # section 7(b)). Heel up (a rise onto the toes): as long as the
        # longest quiet hold the frame has read as heel down, twice
        # (that decided which way is down: the stronger evidence wins)
        need = _HOLD_AXIS_MS
        if x < 0 and 3 * x * x >= 16384 * 16384 - x * x:
            need = 2 * self._ex.quiet_max
            if need < _HOLD_LONG_MS:
                need = _HOLD_LONG_MS
        if ticks_diff(t, h[0]) < need:
            return False
        h[2] = 0
        vc = self._vc  # p = f x u
        vcross(vc, vb, u)
        if not vunit(vc):
            return False
        if x > 0 and 4 * x * x >= 3 * 16384 * 16384:
            return False  # within 30 deg of forward
        if 4 * x >= 16384 and self._ex.e[E_STATE] >= S_DESC:
            # 30-75 deg off: the frame came from an excursion sway swayed
            # (a shallow first drop under a shoe mount's doubled roll sway);
            # this hold's own direction is the foot's (its pitch and
            # coupled roll, as a drop's rotation) and the rep under way
            # goes on
            # (the angles re-read in the new frame before this tick's
            # rep machine sees them: its roll so far was the old frame's)
            self.set_frame(vc, 1)
            self._s[_RESTART] |= 1
            self._correct(0, 0, 0)
            self._ex.reframed()
            return False
        self._reframe(t, vc)
        return True

    def _reframe(self, t, p):
        # the frame learned again (heel down along p) in the middle of a
        # hold: the rep under way is cancelled, a new one starts where the
        # foot last left level
        s = self._s
        ex = self._ex
        if ex.e[E_STATE] >= S_DESC:
            ex.cancel("the foot's axis was learned again")
        self.set_frame(p, 1)
        s[_RESTART] |= 1
        self._correct(0, 0, 0)
        side = self.side
        B = self._bl_sums[side]
        for i in range(6):
            B[i] = 0
        self.k1024[side] = _PRIOR_K1024
        self.c_md[side] = 0
        ex.reset(1, t, ex.rep)
        pp = self._p
        self._out({"type": "calibrated", "t_ms": t, "rep": 0, "stage": "axis",
                   "level_tilt_deg": udeg_c(self._s[_TH]),
                   "axis": [c2(rdiv(pp[0] * 100, 16384)), c2(rdiv(pp[1] * 100, 16384)), c2(rdiv(pp[2] * 100, 16384))],
                   "axis_source": "hold"})
        ex._start_rep(t, self._lvl_t)

    def _axis_from_rest(self, va, far, amin):
        u = self._u
        d = (va[0] * u[0] + va[1] * u[1] + va[2] * u[2]) >> 14
        vb = self._vb
        for i in range(3):
            vb[i] = va[i] - (d * u[i] >> 14)  # the tilt's direction (forward, or back)
        if not vunit(vb):
            return
        vc = self._vc  # p = f x u
        vcross(vc, vb, u)
        if not vunit(vc):
            return
        p = self._p
        if vc[0] * p[0] + vc[1] * p[1] + vc[2] * p[2] < 0:
            for i in range(3):
                vc[i] = -vc[i]
        # up to 40 deg away; up to 60 (far) when the hold's roll came with
        # its descent: a first drop that rolled out as it sank, by about as
        # much as it pitched, taught an axis ~45 deg off, and a clean drop
        # then sinks about pitch and roll alike. (A roll-out in the hold
        # comes after the arrival: the axis stays, the roll is judged.)
        a = vangle(vc, p)
        if amin * _UDEG < a < (60 if far else 40) * _UDEG:
            self.set_frame(vc, 1)
            self._s[_RESTART] |= 1  # the angles, from the accelerometer in the new frame
            # (the roll a rep under way brought with its descent was read in
            # the old frame: Reps._roll_rules)
            self._ex.desc_judge()
            if self._ex2 is not None:
                self._ex2.desc_judge()

    def learn_axis(self, t, p, tilt):
        # the first clear excursion: the axis is p, which way is down is
        # not known yet. Two rep machines start, one per sign; the one for
        # "this excursion went down" starts its first rep where the foot
        # left level.
        s = self._s
        self.set_frame(p, 1)
        s[_MODE] = M_RUN
        self._rw[18] = self.k_rest_band
        s[_RESTART] |= 1
        self._correct(0, 0, 0)
        self.sway0 = self.sway_pitch()
        self.sway_mdps = self.sway_rate()
        a, b = self._hyp
        a.reset(1, t, self._rep_base)
        b.reset(-1, t, self._rep_base)
        a.held = []
        b.held = []
        # the crossings of the excursion so far, and where each hypothesis
        # stands, inside its tables (-OFF..NK-1-OFF degrees): the excursion
        # may reach past them (up to max_pitch_deg, 70 by default; the other
        # hypothesis reads it as -70), and an index outside would be a crash or, below
        # 0, another field overwritten
        tc = self._ax_tc
        kmax = self._ax_k
        for k in range(kmax + 1):
            if k < NK - OFF:
                a.e[E_UP + OFF + k] = tc[k]
            if k <= OFF:
                b.e[E_DN + OFF - k] = tc[k]
        th = s[_TH]
        a.e[E_PREVK] = _tab(th // _UDEG + OFF)
        b.e[E_PREVK] = _tab(-th // _UDEG + OFF)
        self._ex = a
        self._ex2 = b
        self._exa = a.e
        self._exb = b.e
        s[_PEND] = 1
        self._pend_t0 = t
        self._hrun[2] = 0
        self._lvl_t = t
        self.ps_ring[31] = 0  # the yaw before was about no frame
        d = self._done
        c = self._clean
        r = self._ref
        d[0] = d[1] = c[0] = c[1] = c[2] = c[3] = r[1] = 0  # reset in place: no list made mid-session
        r[0] = -1
        a._start_rep(t, self._ax_t0)

    def _keep_yaw(self, ps, wraw):
        # bytecode, once a tick: as native code in _run_tick, ~80 bytes more
        # of the heap the board's code and data share
        r = self.ps_ring
        k = r[30]
        r[k] = ps
        r[30] = k + 1 if k < 29 else 0
        if r[31] < 30:
            r[31] += 1
        # (and a walking-like jolt may be a snap-up's own rise: Reps.snap_jolt)
        if self.jolt == 2:
            self.jolt = self._ex.snap_jolt(self.t_ms, wraw)

    def _run_tick(self, t, wraw):
        # Bytecode, once a tick (10 Hz; as native code 1.7 KB of armv6m
        # code in the heap the board's code and data share)
        s = self._s
        th = s[_TH]
        thf = s[_XF] * 1000
        wf = s[_VF]
        ph = s[_PH]
        ps = s[_PS]
        wl = s[_WL]
        self._keep_yaw(ps, wraw)
        if -3 * _UDEG < th < 3 * _UDEG and -5 * _UDEG < ph < 5 * _UDEG:
            self._lvl_t = t
        # the sensor turned past any heel drop (max_pitch_deg + 10 from the
        # level's up, 80 deg by default, which the deepest drop with a shoe
        # mount's roll and a roll-out stays under: docs/DOMAIN.md section
        # 7(b)) for 0.3 s: the foot was lifted, or the sensor taken off to
        # re-strap it. As walking:
        # the rep under way is none, and the level is taken again at the
        # first still spell near it. Counts / 8 keep the squares small ints.
        u = self._u
        ax = s[_ALX] >> 7
        ay = s[_ALY] >> 7
        az = s[_ALZ] >> 7
        z = (ax * u[0] + ay * u[1] + az * u[2]) >> 14
        a2 = ax * ax + ay * ay + az * az
        kz = self.k_turn_k * z * z
        if (z < 0 and kz > a2) if self.k_turn_neg else (z < 0 or kz < a2):
            self._over += 1
            if self._over >= 3:
                self.jolt = 2
                self._walked = 2  # turned over: the strap may have been redone
        else:
            self._over = 0
        # and pitched past max_pitch_deg (70) either way, even for a moment: no heel
        # drop goes so deep (40 deg, 57 read on a shoe mount's functional
        # axis), no raised top so high (25 deg): a stride, a kick, the foot
        # lifted
        if th > self.k_pitch_max or th < -self.k_pitch_max:
            self.jolt = 2
        jolt = self.jolt
        if jolt:
            self._jolt_t = t
            if jolt == 2:
                # walking or stepping (a heel strike, turning faster than
                # any heel drop): the rep under way is none (the rep
                # machine cancels it on jolt 2)
                if not self._walked:
                    self._walked = 1
        self._ex.tick(t, th, thf, wf, wl, jolt, ph, ps)
        if self._ex.e[E_STATE] != S_HOLD and self._exb[E_STATE] != S_HOLD:
            self._ph_in = ph  # the roll as the heel arrived (the last tick before a hold, either sign's)
        if self._sw and self._after_switch(t, jolt):
            return
        if s[_PEND]:
            self._ex2.tick(t, th, thf, wf, wl, jolt, ph, ps)
            self._pending(t, jolt, th, ph, wf)

    def _pending(self, t, jolt, th, ph, wf):
        # Bytecode, once a tick while the sign is pending (as machine code
        # in _run_tick, more of the heap the board's code and data share).
        # Reps that saw no walking-like jolt from a second before
        # their start to their end: only those decide the sign by
        # number (a walk back to the step makes "reps" of its strides)
        self._count_clean(self._ex, 0, t)
        self._count_clean(self._ex2, 1, t)
        # walking or stepping while the sign is pending and no clean rep
        # on either side: the excursion that taught the axis was no
        # heel drop; learn it again (and the level, at the next still
        # spell near it: the person is back on the step)
        if jolt == 2 and self._clean[0] == 0 and self._clean[1] == 0:
            self.ax_violent += 1
            self._axis_again(t)
            self._ax_bad = True
            self._moved = True
            return
        if self._sideways(t, th, ph, wf):
            return
        w = self._decide(t)
        if w is not None:
            self._resolve(w, t, "")

    def _after_switch(self, t, jolt):
        # Bytecode, once a tick only after a side switch (as machine code in
        # _run_tick, more of the heap the board's code and data share).
        # After a side switch (_sw 2: not walked since; 1: walked),
        # walking or stepping says the frame came from the sensor being
        # moved (held still while re-strapped) or from the floor: level
        # and axis are learned again, from the still spell back on the
        # step. The first walk after the switch does so whatever was
        # counted (weight shifts on the floor lift the heel and read as
        # "reps", which may have decided the sign; the held "reps" of a
        # pending sign go with the frame); later walks only until a rep
        # counts on the new heel. Returns True when the frame is dropped.
        s = self._s
        if jolt == 2 and (self._sw == 2 or not (s[_PEND] or self._ex.reps_done)):
            self._sw = 1
            self._axis_again(t)
            self.axis_known = False
            self._moved = True
            return True
        if self._sw == 1 and not s[_PEND] and self._ex.reps_done:
            self._sw = 0
        return False

    def _sideways(self, t, th, ph, wf):
        # Bytecode, once a tick while the sign is pending (as machine code
        # in _run_tick, ~340 bytes more of the heap). The foot at rest,
        # tilted more about the roll axis than about the pitch axis
        # learned: that axis came from sway or a weight shift, not from a
        # drop (a drop's own roll is at most ~0.6 of its pitch); learn it
        # again from this excursion. Returns True when it is.
        # (A roll that came after the heel arrived in a hold is a roll-out
        # or an inward roll, not the frame: 8-25 deg, x2 on a shoe mount,
        # at the bottom, docs/DOMAIN.md section 7(b))
        aph = ph if ph > 0 else -ph
        d = ph - self._ph_in
        if (self._exa[E_STATE] == S_HOLD or self._exb[E_STATE] == S_HOLD) and (d >= _ROLL_SAME or d <= -_ROLL_SAME):
            return False
        if not (-self.k_hold_rate < wf < self.k_hold_rate and aph > self.k_axis_min and aph > (th if th > 0 else -th)):
            return False
        # Not once a clean rep on this frame (2.5 s or more, down and back)
        # was held quiet 4 s, longer than any top dwell or toe stand (0.5-3 s),
        # and went deeper than the roll now by the drop's own ratio, the
        # frame confirmed by the gyro: that frame carried a drop, and the
        # roll at rest is the person's sway and corrective roll steps
        # (unsupported: 2-3 deg and 3-5 deg steps, up to twice that on a
        # shoe mount, docs/DOMAIN.md section 7(b))
        x = self._ex
        y = self._ex2
        c = self._clean
        if not self._ax_accel and (
                (c[2] and x.quiet_max >= _SIGN_HOLD_MS // 2 and 5 * aph < 3 * x.mean_depth()) or
                (c[3] and y.quiet_max >= _SIGN_HOLD_MS // 2 and 5 * aph < 3 * y.mean_depth())):
            return False
        self.ax_inconsistent += 1
        self._axis_again(t)
        self._ax_on = True
        self._ax_accel = True  # the gyro did not integrate this excursion
        # the excursion began where the foot last left level (a shallow
        # drop read sideways passes the roll test late in its hold, as it
        # creeps or sways): its rep starts there
        self._ax_t0 = self._lvl_t
        return True

    def _clean_since(self, t0):
        # no walking-like jolt from a second before t0 on
        j = self._jolt_t
        return j is None or ticks_diff(j, t0) < -1000

    def _count_clean(self, x, i, t):
        n = x.reps_done
        if n != self._done[i]:
            self._done[i] = n
            t0 = x.last_start  # the rep that ended (the next may have started in the same tick)
            if self._clean_since(t0):
                self._clean[i] += 1
                # and those that lasted _SIGN_REP_MS, from their own start to
                # their end, decide it by number: a sway swing read as a rep
                # (a shoe mount doubles unsupported roll sway, 0.1-1 Hz)
                # comes and goes in 0.5-2 s
                if ticks_diff(x._t_last_end, t0) >= _SIGN_REP_MS:
                    self._clean[i + 2] += 1

    def _down(self, x):
        st = x.e[E_STATE]
        # a quiet hold: a raised top (a rise onto the toes) is held 0.5-3 s
        if st == S_HOLD and x.quiet_ms() >= _SIGN_HOLD_MS:
            return True
        # at the bottom or past it, deeper than any raised top read
        # straight (not a walking stride's swing: its toes-up and push-off
        # reach 10-60 deg), and one of: deeper than any raised top even
        # read through a shoe mount's coupled roll; come down slower than
        # any rise onto the toes (1-3 s, docs/DOMAIN.md section 7(b)); or
        # held (quiet or not: a roll-out or sway in it) longer than a top
        # dwell or toe stand before the first drop reads as held (the hold
        # to now, or to the rise's start: a hold that sank or swayed all
        # through reads as one when the rise begins)
        pk = x.e[E_PEAK]
        if st >= S_HOLD and pk >= _SIGN_DEEP and self._clean_since(x._t_onset):
            h = ticks_diff(x.t_ms if st == S_HOLD else x._r_on0, x._t_hs)
            if pk >= _SIGN_DEEPER or ticks_diff(x._t_hs, x._t_onset) >= _SIGN_SLOW_MS or h >= _SIGN_DWELL_MS:
                return True
        # a rep deeper than any raised top read straight, over, and the
        # heel calm for half a second back at the top it started from
        # (level or raised): a toe stand or a raised top's dwell read deep
        # from level (a 22-25 deg top, the coupled roll in the frame learned
        # from the rise onto the toes: 28-34 deg) does not come back to
        # level: the heel goes on past it into the true drop and rests
        # there, 8 deg and more away
        e = x.e
        d = x._thf - e[E_LTOP]
        b = 2 * self.k_top_band
        ts = x._top_since
        return (st == S_TOP and x.reps_done > 0 and e[E_LPK] >= _SIGN_DEEP and -b < d < b
                and ts is not None and ticks_diff(x.t_ms, ts) >= 500 and self._clean_since(x.last_start))

    def _decide(self, t):
        a = self._ex
        b = self._ex2
        if self._down(a):
            return a
        if self._down(b):
            return b
        # reps on one side only, the other not in the middle of its first
        # (a person on a raised top: the heel-up hypothesis counts the
        # toe-stand dwells while the first true drop is still going down)
        c = self._clean
        if c[2] >= 2 and b.reps_done == 0 and b.e[E_STATE] < S_DESC:
            return a
        if c[3] >= 2 and a.reps_done == 0 and a.e[E_STATE] < S_DESC:
            return b
        # reps on both sides (a raised top and unheld drops): the deeper
        # ones, once each side has three
        if a.reps_done >= 3 and b.reps_done >= 3:
            # the one that held (a raised top's dwell, 0.5-3 s, is the
            # other's hold: docs/DOMAIN.md section 7(b)), before the depths
            # (a raised top, up to 25 deg, may read deeper than the drops)
            if a.held_ms >= _SIGN_HOLD_MS and b.held_ms < _SIGN_HOLD_MS // 2:
                return a
            if b.held_ms >= _SIGN_HOLD_MS and a.held_ms < _SIGN_HOLD_MS // 2:
                return b
            w = self._deeper()
            if w is not None:
                return w
        if ticks_diff(t, self._pend_t0) > _SIGN_MS or len(a.held) + len(b.held) > _SIGN_EVENTS:
            return self._fallback()
        return None

    def _fallback(self):
        # the better evidence: the longer quiet hold, then the deeper reps
        a = self._ex
        b = self._ex2
        if a.quiet_max != b.quiet_max:
            return a if a.quiet_max > b.quiet_max else b
        if a.reps_done and b.reps_done:
            return a if a.mean_depth() >= b.mean_depth() else b
        if a.reps_done != b.reps_done:
            return a if a.reps_done > b.reps_done else b
        return a if a.max_seen >= b.max_seen else b

    def _final(self):
        # the stream ended with the sign pending: reps on one side only, or
        # deeper on one side; else nothing is counted
        a = self._ex
        b = self._ex2
        if a.reps_done and not b.reps_done:
            return a
        if b.reps_done and not a.reps_done:
            return b
        if a.reps_done and b.reps_done:
            return self._deeper()
        return None

    def _deeper(self):
        # the hypothesis whose reps read 4 deg deeper on average, or None
        # (both have reps done)
        a = self._ex
        b = self._ex2
        da = a.mean_depth()
        db = b.mean_depth()
        if da >= db + 4 * _UDEG:
            return a
        if db >= da + 4 * _UDEG:
            return b
        return None

    def _resolve(self, w, t, why):
        s = self._s
        if w.sign < 0:
            self.flip()
            w.sign = 1
            w.e[E_SIGN] = 1
        self._ex = w
        self._ex2 = None  # type: ignore[assignment]
        self._exa = w.e
        self._exb = _NOTHING
        s[_PEND] = 0
        self.axis_known = True
        if why:
            self.sign_note = "which way is down was decided " + why + "no hold of %d.%d s at the bottom" % (
                _SIGN_HOLD_MS // 1000, _SIGN_HOLD_MS % 1000 // 100)
        p = self._p
        self._out({"type": "calibrated", "t_ms": t, "rep": 0, "stage": "axis",
                   "level_tilt_deg": udeg_c(w.max_seen if w.max_seen > 0 else 0),
                   "axis": [c2(rdiv(p[0] * 100, 16384)), c2(rdiv(p[1] * 100, 16384)), c2(rdiv(p[2] * 100, 16384))],
                   "axis_source": "descent"})
        held = w.held
        w.held = None  # type: ignore[assignment]
        # (the reps already over: a bounce cue of theirs, seconds late,
        # would come at the top or in the next rep; their rep_end counts it)
        over = [ev["rep"] for ev in held if ev["type"] == "rep_end"]
        for ev in held:
            if ticks_diff(ev["t_ms"], t) < 0:
                if ev["type"] == "bounce" and ev["rep"] in over and ticks_diff(t, ev["t_ms"]) > _CUE_STALE_MS:
                    continue
                ev["t_ms"] = t
            self._out(ev)

    def _long_gap(self, t_last, gap_ms):
        # a gap in the samples longer than the engine tolerates: the rep in
        # progress ends there, as interrupted; windows start again
        self._rw[0] = 0
        if self._ex is not None:
            self._ex.interrupt(t_last, gap_ms)
        if self._ex2 is not None:
            self._ex2.interrupt(t_last, gap_ms)
        if self._s[_MODE] == M_AXIS:
            self._ax_reset(t_last)

    def _add_rep(self, ev, tot):
        h_ms, depth_c, bounces, bl = tot
        side = self.side
        t = self._tot[side]
        t[0] += 1
        t[1] += h_ms
        t[2] += bounces
        i = 3
        for flag in FLAGS:
            if ev[flag]:
                t[i] += 1
            i += 1
        # a ring of the last _DEPTHS depths (t[0] - 1 is this rep's index)
        self._depths[side][(t[0] - 1) % _DEPTHS] = min(32767, max(-32768, depth_c))
        if bl is not None:
            self._add_baseline(bl)

    def _add_baseline(self, bl):
        # the person's own pitch-roll coupling, fitted on clean reps per side
        side = self.side
        B = self._bl_sums[side]
        if bl[0] < 10:
            return
        B[5] += 1
        for i in range(5):
            B[i] += bl[i]
        if B[5] >= _BASELINE_REPS:
            n = B[0]
            den = n * B[3] - B[1] * B[1]
            if den > 0:
                num = n * B[4] - B[1] * B[2]
                # k = num / den (roll per pitch), c = (B2 - k B1) / n in 0.1 deg
                self.k1024[side] = rdiv(num * 1024, den)
                self.c_md[side] = rdiv((B[2] * den - num * B[1]) * 100, den * n)


_CORE = Engine._core  # step() and feed() call it as a plain function
