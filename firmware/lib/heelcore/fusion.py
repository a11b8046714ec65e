# The signal layer of the engine: calibration, gyro bias, fusion, the axis.
#
# Every sample (Fusion._core, viper, no heap objects): low-pass filters,
# gyro bias removal, the rates projected on the foot's axes, integration of
# pitch theta, roll phi and yaw psi, the filtered views the rep machine
# uses; then heelcore.reps.ex_sample for each sign hypothesis. Every 100 ms
# of samples (Fusion._slow, native): the accelerometer correction with its
# integral term on the gyro bias (_correct), the rest windows (still
# spells: calibration, bias, level), learning the axis, and the rep
# machine (heelcore.engine).
#
# Still is judged on orientation, not on a flat gyro: a person on one
# forefoot sways 0.3-2 deg in pitch and 0.5-3 deg in roll at 0.1-1 Hz
# (docs/DOMAIN.md sections 5, 7(b)), which turns the foot at up to ~20 deg/s. A rest window is
# still_time_s of samples in which the low-passed accelerometer direction stays
# within still_band_deg of the window's mean and its magnitude within 0.1 g;
# its gyro bias is the window's mean rate less the rotation the
# accelerometer saw (the tilt from the window's first to last direction).
# The still start (until the first calibration; for a person who swayed
# past the band then, also the re-takes of the next 8 s) is judged on twice
# the band: a shoe mount doubles the heel's roll at the sensor (gain up to
# 2 on 2-3 deg of unsupported roll sway, 3-5 deg corrective steps), and no
# 1.5 s of such a still start stays within 5 deg of its mean.
#
# Fixed point: angles in micro-degrees (udeg), rates in milli-degrees per
# second (mdps), accelerations in the sensor's counts, unit vectors as ints
# scaled by 2**14, times in ms ticks. Every intermediate of the viper code
# stays within 32 bits for int16 inputs (step() refuses anything else), so
# the board computes what the host computes.
import array

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr32

from heelcore.imath import atan2_u, isqrt, vangle, vcross, vunit, zeros
from heelcore.reps import ex_sample
from heelcore.ticks import ticks_add, ticks_diff

# signal modes
M_CAL = const(0)  # waiting for a rest window: level and gyro bias
M_AXIS = const(1)  # level known; waiting for the first clear excursion (the axis)
M_RUN = const(2)  # the foot frame is known (the sign may still be pending)

# signal state array
_TLAST = const(0)
_HAVE = const(1)
_ALX = const(2)  # low-passed accel, counts * 16 (tau 64 ms)
_ALY = const(3)
_ALZ = const(4)
_GLX = const(5)  # low-passed gyro, counts * 16
_GLY = const(6)
_GLZ = const(7)
_BX = const(8)  # gyro bias, counts
_BY = const(9)
_BZ = const(10)
_RPX = const(11)  # pitch-rate axis: mdps per count << _RSH
_RPY = const(12)
_RPZ = const(13)
_RFX = const(14)  # roll-rate axis
_RFY = const(15)
_RFZ = const(16)
_RUX = const(17)  # yaw-rate axis
_RUY = const(18)
_RUZ = const(19)
_TH = const(20)  # theta, udeg
_PH = const(21)  # phi (not side-corrected), udeg
_PS = const(22)  # psi, udeg, in [-180, 180) deg
_WP = const(23)  # pitch rate, mdps
_WL = const(24)  # 3 Hz low-passed pitch rate, mdps
_XF = const(25)  # theta through a critically damped 2nd-order 2 Hz low-pass, mdeg
_VF = const(26)  # its rate, mdps
_XB = const(27)  # theta through a critically damped 4 Hz low-pass, mdeg * 16
_VB = const(28)  # its rate, mdps
_WMAX = const(29)  # max low-passed |w| (L1, bias removed) since the tick, counts
_WRAW = const(30)  # max raw |w| (L1, bias removed) since the tick, counts
_RX = const(31)  # rotation integrated while learning the axis, counts * ms / 16
_RY = const(32)
_RZ = const(33)
_ACC = const(34)  # ms since the last slow tick
_SLOW = const(35)  # slow tick period, ms
_MODE = const(36)
_PEND = const(37)  # 1 while the sign is pending (the second hypothesis runs)
_RESTART = const(38)  # 1 snap to the accelerometer, 2 tick now, 4 long gap, 8 re-anchor when trustworthy
_BAD = const(39)
_OOO = const(40)
_GAPS = const(41)
_SAT = const(42)  # samples at the sensor's rails
_GAPT = const(43)  # the last sample before a long gap
_GAPMS = const(44)  # its length
_NQ = const(45)  # events queued
_FX = const(46)  # forward, up and pitch axes in sensor axes, unit * 2**14
_FY = const(47)
_FZ = const(48)
_UX = const(49)
_UY = const(50)
_UZ = const(51)
_PX = const(52)
_PY = const(53)
_PZ = const(54)
_G2LO = const(55)  # accelerometer gate on |a/4|^2
_G2HI = const(56)
_GATE = const(57)  # rotation gate, counts (L1)
_TAU = const(58)  # fusion time constant, ms
_DIS = const(59)  # ms of gyro / accelerometer disagreement
_BFX = const(60)  # gyro bias, counts * 4096 (the slow estimate)
_BFY = const(61)
_BFZ = const(62)
_KI = const(63)  # the integral term's gain (see _correct)
_RSH = const(64)  # shift of the rate axes
_GIX = const(65)  # raw gyro integrated since the tick, counts * ms
_GIY = const(66)
_GIZ = const(67)
_AMAX = const(68)  # largest low-passed |a/4|^2 since the tick
_AMIN = const(69)  # smallest
_A2S = const(70)  # the low-passed |a/4|^2 smoothed over ticks (the gate's: a shake's swings average out)
_ASX = const(71)  # the low-passed accel summed over the tick's samples, counts
_ASY = const(72)
_ASZ = const(73)
_ASN = const(74)  # samples summed
_DTN = const(75)  # the sample period, ms: the shortest interval lately (a gap is over twice it)
_NS = const(76)

_UDEG = const(1000000)
_GAP_MS = const(250)  # longer sample gaps restart the fusion from the accelerometer
_GAP_END = const(2000)  # longer gaps end the rep in progress (interrupted)
_GAP_UNSEEN = const(30)  # ms of missing samples past which a rebound across them is not judged
_E_GAPT = const(39)  # heelcore.reps.E_GAPT (viper sees no const of another module; tests/host/test_firmware_build.py checks the copy)
_TH_MAX = const(120000000)  # theta is bounded (udeg)
_PH_MAX = const(90000000)
_BIAS_MAX = const(3000)  # counts (45 deg/s at 65.5 LSB/(deg/s))
_DIS_MS = const(300)  # disagreement this long re-anchors the angles
_DIS_UDEG = const(15000000)  # gyro and accelerometer this far apart, the accelerometer trusted
_RESTRAP_TILT = const(8000000)  # a re-strap moves the level up to 5.7 deg (4 deg about each axis), + sway
_RESTRAP_TH = const(1000000)  # ... but a toe stand (5-25 deg up) sinks to 1 deg above level (4 deg as the calf tires)


class Fusion:
    """The signal layer; heelcore.engine.Engine builds on it (and sets these
    thresholds, in engine units, before _fusion_init)."""

    k_gate4: int
    k_rest_band: int
    k_rest_wide: int
    k_retare_max: int
    k_retare_blend: int
    k_axis_min: int
    k_max_rate_c: int
    k_pitch_max: int
    ax_max_tilt: int
    ax_violent: int
    ax_inconsistent: int
    calibrated: bool
    t_ms: int
    jolt: int
    _walked: int
    _sw: int
    sway_mdps: int
    _exa: array.array
    _exb: array.array
    _slip: array.array

    # what the engine does with what the signal layer sees
    def _long_gap(self, t_last, gap_ms):
        ...

    def _cal_wait(self, t):
        ...

    def _run_tick(self, t, wraw):
        ...

    def cal_event(self, t, tilt, out):
        ...

    def learn_axis(self, t, p, tilt):
        ...

    def rest_run(self, t, va, tilt):
        ...

    def axis_rest(self, t, va, tilt):
        ...

    def _fusion_init(self, c, alsb, glsb):
        # scales as integers (thousandths), so that nothing below depends on
        # how a port rounds a float
        self.alsb = alsb
        self.glsb = glsb
        am = int(alsb * 1000 + 0.5)
        gm = int(glsb * 1000 + 0.5)
        if am < 100000 or am > 100000000 or gm < 1000 or gm > 1000000:
            raise ValueError("sensor scale out of range: %r LSB/g, %r LSB/(deg/s)" % (alsb, glsb))
        self._gm = gm
        self._du_last = 0  # the last rest window's bias change about the up axis (counts * 4)
        s = zeros("i", _NS)
        self._s = s
        s[_SLOW] = 100
        s[_RESTART] = 1
        s[_G2HI] = 1 << 30
        s[_AMIN] = 1 << 30
        s[_TAU] = c.ms("fusion_tau_s")
        s[_GATE] = 30 * gm // 1000  # 30 deg/s (L1 norm of w), counts
        # the rate axes: mdps per count (1e6 / gm) << RSH, at most 2**14
        sh = 0
        while (1000000 << (sh + 1)) // gm <= 16384:
            sh += 1
        s[_RSH] = sh
        self._kmd = (1000000 << sh) // gm  # mdps per count << sh
        # integral gain Ki = 0.05 /s^2 (bias time constant ~20 s with tau 1 s):
        # dB [counts * 4096] = (d [mdeg] * acc [ms] >> 6) * KI >> 14
        s[_KI] = gm * 4096 * 64 * 16384 // 20000000000000
        # accel counts of 1 g, and a rest window's limits
        self._g1 = am // 1000
        self._g2 = (self._g1 >> 2) * (self._g1 >> 2)  # |a/4|^2 of 1 g (the calibration's own from then on)
        self.jolt = 0
        self._swy = False  # the calibration's window swayed past the still band (see _step_axis)
        self._sw = 0  # the side was switched (2; 1 once walked since) and no rep counted since (heelcore.engine)
        self._kr = 16 * 16384 * 4096 * 314159265 // (180 * gm * 100000000)
        # rotation (counts * ms / 16) -> radians * 2**14: R * KR >> 12
        self._amean = array.array("i", [0, 0, 0])  # the tick's mean low-passed accel, counts
        self._wsm = array.array("i", [0, 0, 0, 0])  # the last tick's raw gyro integral (counts * ms) and its ms
        self._va = array.array("i", [0, 0, 0])  # scratch vectors (no allocation per tick)
        self._vb = array.array("i", [0, 0, 0])
        self._vc = array.array("i", [0, 0, 0])
        self._u = array.array("i", [0, 0, 16384])  # level up, sensor axes, unit * 2**14
        self._f = array.array("i", [16384, 0, 0])  # forward
        self._p = array.array("i", [0, 16384, 0])  # pitch axis
        # rest window: 0 ticks, 1 start, 2 ms, 3-5 accel sums, 6-8 gyro sums,
        # 10 the first |a/4|^2, 11 ticks in the rate ring; what broke windows:
        # 12 tilt, 13 |a|, 14 fast motion; 15 the longest window (ms), 16
        # windows completed, 17 ticks in the last one's ring; limits: 18 the
        # band (udeg), 19 rotation (counts), 20 length (ms), 21 KROT; 22 the
        # still band (18 is twice it in the still start), 23 ticks of the
        # window past it
        self._rw = zeros("i", 24)
        # tilt rotation (radians * 2**14) -> counts * ms: c * KROT >> 6
        self._rw[21] = 57295780 * gm * 64 // (16384 * 1000000)
        self._rw_a0 = array.array("i", [0, 0, 0])
        self._rw_out = zeros("i", 9)  # bias * 16 (3), mean direction (3), span ms, start, tilt change
        # the gyro's rate (counts, bias removed) at each tick of the window,
        # and of the last completed one: the person's sway, before the axis
        # that would let it be measured in pitch is known
        self._rw_g = zeros("i", 72)
        self._rest_g = zeros("i", 72)
        # axis learning
        self._ax_ref = array.array("i", [0, 0, 16384])  # direction at the last level
        self._ax_tc = zeros("i", 64)  # last upward crossings of the tilt (whole degrees)
        self._ax_k = 0
        self._ax_reset(0)
        self._why_reset()

    # ------------------------------------------------------------ core
    @micropython.viper
    def _core(self, t: int, ax: int, ay: int, az: int, gx: int, gy: int, gz: int) -> int:
        # One sample: integer counts in sensor axes (int16 range: step()
        # and feed() see to that), t in ms ticks. Returns the number of
        # events queued. ptr32 loads are zero-extended on a 64-bit port and
        # signed on a 32-bit board (and on CPython, where ptr32 is the array
        # itself): "if v >> 31 > 0: v -= k32" sign-extends on the former;
        # on the others v >> 31 is 0 or -1 and nothing happens.
        s = ptr32(self._s)
        k32 = 65536
        k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
        if s[_HAVE] == 0:
            s[_HAVE] = 1
            dt = 0
            s[_GLX] = gx << 4
            s[_GLY] = gy << 4
            s[_GLZ] = gz << 4
            s[_ALX] = ax << 4
            s[_ALY] = ay << 4
            s[_ALZ] = az << 4
        else:
            dt = int(ticks_diff(t, s[_TLAST]))
            if dt < 0:
                if dt > -1000:  # a late sample: dropped, counted
                    s[_OOO] += 1
                    return s[_NQ]
                dt = _GAP_END + 1  # the clock jumped back: a gap of unknown length
        if dt > _GAP_MS:
            s[_GAPS] += 1
            s[_RESTART] |= 1
            if dt > _GAP_END:
                s[_RESTART] |= 4
                s[_GAPT] = s[_TLAST]
                s[_GAPMS] = dt
            dt = 0
        s[_TLAST] = t
        # samples dropped before this one (docs/DOMAIN.md section 7(b): 0-2 %
        # in bursts of 1-10)? An interval 1.5 sample periods long or more
        # (jitter is +-2 ms) left gp ms of the foot's turn unseen
        gp = 0
        dn = s[_DTN]
        if dt > 0:
            if dn == 0 or dt < dn:
                s[_DTN] = dt
            elif dt > dn + (dn >> 1) + 2:
                gp = dt - dn
            elif dt > dn:
                s[_DTN] = dn + 1
        if (ax >= 32767 or ax <= -32768 or ay >= 32767 or ay <= -32768 or az >= 32767 or az <= -32768
                or gx >= 32767 or gx <= -32768 or gy >= 32767 or gy <= -32768 or gz >= 32767 or gz <= -32768):
            s[_SAT] += 1  # at the rails: the angles are re-anchored once the accelerometer is trustworthy
            s[_RESTART] |= 8
        k = dt if dt < 64 else 64  # one-pole low-passes, tau 64 ms
        v = s[_ALX]
        if v >> 31 > 0:
            v -= k32
        v += ((ax << 4) - v) * k >> 6
        s[_ALX] = v
        sm = s[_ASX]
        if sm >> 31 > 0:
            sm -= k32
        s[_ASX] = sm + (v >> 4)
        a2 = (v >> 6) * (v >> 6)
        v = s[_ALY]
        if v >> 31 > 0:
            v -= k32
        v += ((ay << 4) - v) * k >> 6
        s[_ALY] = v
        sm = s[_ASY]
        if sm >> 31 > 0:
            sm -= k32
        s[_ASY] = sm + (v >> 4)
        a2 += (v >> 6) * (v >> 6)
        v = s[_ALZ]
        if v >> 31 > 0:
            v -= k32
        v += ((az << 4) - v) * k >> 6
        s[_ALZ] = v
        sm = s[_ASZ]
        if sm >> 31 > 0:
            sm -= k32
        s[_ASZ] = sm + (v >> 4)
        s[_ASN] += 1
        a2 += (v >> 6) * (v >> 6)
        # the low-passed |a/4|^2's extremes since the tick (walking: the
        # heel strike's impact, the swing's lightness)
        if a2 > s[_AMAX]:
            s[_AMAX] = a2
        if a2 < s[_AMIN]:
            s[_AMIN] = a2
        v = s[_GLX]
        if v >> 31 > 0:
            v -= k32
        lx = v + (((gx << 4) - v) * k >> 6)
        s[_GLX] = lx
        v = s[_GLY]
        if v >> 31 > 0:
            v -= k32
        ly = v + (((gy << 4) - v) * k >> 6)
        s[_GLY] = ly
        v = s[_GLZ]
        if v >> 31 > 0:
            v -= k32
        lz = v + (((gz << 4) - v) * k >> 6)
        s[_GLZ] = lz
        # raw gyro over the tick (the rest windows' bias)
        v = s[_GIX]
        if v >> 31 > 0:
            v -= k32
        s[_GIX] = v + gx * dt
        v = s[_GIY]
        if v >> 31 > 0:
            v -= k32
        s[_GIY] = v + gy * dt
        v = s[_GIZ]
        if v >> 31 > 0:
            v -= k32
        s[_GIZ] = v + gz * dt
        bx = s[_BX]
        if bx >> 31 > 0:
            bx -= k32
        by = s[_BY]
        if by >> 31 > 0:
            by -= k32
        bz = s[_BZ]
        if bz >> 31 > 0:
            bz -= k32
        wx = gx - bx
        wy = gy - by
        wz = gz - bz
        lx = (lx >> 4) - bx
        ly = (ly >> 4) - by
        lz = (lz >> 4) - bz
        # largest low-passed and raw rotation rates (L1, counts) since the
        # tick ("0 - v", not "-v": viper clobbers v with "-v" in a conditional expression)
        w1 = (lx if lx > 0 else 0 - lx) + (ly if ly > 0 else 0 - ly) + (lz if lz > 0 else 0 - lz)
        if w1 > s[_WMAX]:
            s[_WMAX] = w1
        w1 = (wx if wx > 0 else 0 - wx) + (wy if wy > 0 else 0 - wy) + (wz if wz > 0 else 0 - wz)
        if w1 > s[_WRAW]:
            s[_WRAW] = w1
        mode = s[_MODE]
        if mode == M_AXIS:
            v = s[_RX]
            if v >> 31 > 0:
                v -= k32
            v += wx * dt >> 4
            if -1000000000 < v < 1000000000:
                s[_RX] = v
            v = s[_RY]
            if v >> 31 > 0:
                v -= k32
            v += wy * dt >> 4
            if -1000000000 < v < 1000000000:
                s[_RY] = v
            v = s[_RZ]
            if v >> 31 > 0:
                v -= k32
            v += wz * dt >> 4
            if -1000000000 < v < 1000000000:
                s[_RZ] = v
        elif mode == M_RUN:
            sh = s[_RSH]
            a = s[_RPX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RPY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RPZ]
            if c >> 31 > 0:
                c -= k32
            wp = (wx * a + wy * b + wz * c) >> sh  # mdps
            a = s[_RFX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RFY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RFZ]
            if c >> 31 > 0:
                c -= k32
            wr = (wx * a + wy * b + wz * c) >> sh
            a = s[_RUX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RUY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RUZ]
            if c >> 31 > 0:
                c -= k32
            wu = (wx * a + wy * b + wz * c) >> sh
            s[_WP] = wp
            th = s[_TH]
            if th >> 31 > 0:
                th -= k32
            th += wp * dt  # mdps * ms = udeg
            if th > _TH_MAX:
                th = _TH_MAX
            elif th < 0 - _TH_MAX:
                th = 0 - _TH_MAX
            s[_TH] = th
            # 2nd-order low-pass of theta (2 Hz, critically damped): what the
            # slow decisions see; ankle tremor and fatigue shake (4-9 Hz) are
            # cut by 10x or more. x'' = w^2 (th - x) - 2 w x'
            xf = s[_XF]
            if xf >> 31 > 0:
                xf -= k32
            vf = s[_VF]
            if vf >> 31 > 0:
                vf -= k32
            kd = dt if dt < 40 else 40
            q = (th // 1000 - xf) * 158 - ((vf * 402) >> 4)
            if q > 50000000:
                q = 50000000
            elif q < -50000000:
                q = -50000000
            vf += q * kd // 1000
            xf += vf * kd // 1000
            s[_XF] = xf
            s[_VF] = vf
            # the bounce tracker's view: 4 Hz (bounces are 1-3 Hz, fatigue
            # shake 5-8 Hz), in mdeg * 16 for resolution
            xb = s[_XB]
            if xb >> 31 > 0:
                xb -= k32
            vb = s[_VB]
            if vb >> 31 > 0:
                vb -= k32
            # sub-steps of <= 20 ms keep the integration stable at 25 Hz
            kb = kd
            nb = 1
            if kb > 20:
                kb = kd >> 1
                nb = 2
            while nb > 0:
                q = (th // 1000 - (xb >> 4)) * 632 - ((vb * 804) >> 4)
                if q > 100000000:
                    q = 100000000
                elif q < -100000000:
                    q = -100000000
                vb += q * kb // 1000
                xb += (vb * kb << 4) // 1000
                nb -= 1
            s[_XB] = xb
            s[_VB] = vb
            v = s[_PH]
            if v >> 31 > 0:
                v -= k32
            v += wr * dt
            if v > _PH_MAX:
                v = _PH_MAX
            elif v < 0 - _PH_MAX:
                v = 0 - _PH_MAX
            s[_PH] = v
            v = s[_PS]
            if v >> 31 > 0:
                v -= k32
            v += wu * dt
            if v >= 180000000:
                v -= 360000000
            elif v < -180000000:
                v += 360000000
            s[_PS] = v
            k = dt if dt < 53 else 53  # 3 Hz low-pass of the pitch rate
            wl = s[_WL]
            if wl >> 31 > 0:
                wl -= k32
            wl += (wp - wl) * k // 53
            s[_WL] = wl
            if gp >= _GAP_UNSEEN:
                # the foot's turn while samples were missing is a guess
                # (integrated at the rate after the gap): a rebound of the
                # bounce view across it is none (heelcore.reps, E_GAPT)
                e = ptr32(self._exa)
                e[_E_GAPT] = t
                if s[_PEND]:
                    e = ptr32(self._exb)
                    e[_E_GAPT] = t
            q = int(ex_sample(self._exa, t, th, wl, xb, vb))
            if s[_PEND]:
                q |= int(ex_sample(self._exb, t, th, wl, xb, vb))
            if q:
                s[_RESTART] |= 2  # tick now: the bounce cue is due
        s[_ACC] += dt
        if s[_ACC] >= s[_SLOW] or (s[_RESTART] & 6):
            self._slow(t)
        return s[_NQ]

    # ------------------------------------------------------ slow tick
    @micropython.native
    def _slow(self, t):
        self.t_ms = t
        s = self._s
        r = s[_RESTART]
        s[_RESTART] = r & 9  # the snap and the re-anchor are _correct's
        acc = s[_ACC]
        s[_ACC] = 0
        wmax = s[_WMAX]
        s[_WMAX] = 0
        wraw = s[_WRAW]
        s[_WRAW] = 0
        amax = s[_AMAX]
        s[_AMAX] = 0
        amin = s[_AMIN]
        s[_AMIN] = 1 << 30
        # walking and stepping, seen since the tick: 2 = what no heel drop
        # about the step's edge does (turning faster than max_rate_dps, or
        # the low-passed |a| past 2 g: a heel strike's impact; a snap-up's
        # rotation at r <= 0.2 m gives at most ~1.5 g after the low-pass);
        # 1 = what only the fastest snap-ups and bounces reach (|a| under
        # 0.6 g, the swing's lightness, or over 1.6 g, or turning faster
        # than half max_rate_dps), 0 = neither
        g64 = self._g2 >> 6
        if wraw > self.k_max_rate_c or amax > g64 << 8:
            self.jolt = 2
            # (or 1: a snap-up's own rise, Engine._keep_yaw)
        elif amin < g64 * 23 or amax > g64 * 164 or wraw > self.k_max_rate_c // 2:
            self.jolt = 1
        else:
            self.jolt = 0
        if r & 4:
            self._long_gap(s[_GAPT], s[_GAPMS])
        wg = self._gate_rate(acc)  # (before _rest takes the tick's gyro integral)
        mode = s[_MODE]
        if mode == M_RUN:
            self._correct(acc, wmax, wg)
        rest = self._rest(t, acc, wraw)
        if mode == M_CAL:
            if rest == 1:
                self._calibrate(t)
            else:
                self._cal_wait(t)
        elif mode == M_AXIS:
            if rest == 1:
                self._rest_done(t, True)
            self._step_axis(t, wmax, wraw)
        else:
            if rest == 1:
                self._rest_done(t, False)
            self._run_tick(t, wraw)

    def _gate_rate(self, acc):
        # What the accelerometer correction's gate is told of the foot's
        # rotation: its mean rate over the last two ticks (L1, counts),
        # and (s[_A2S]) the low-passed |a/4|^2 smoothed over ticks. The
        # correction follows the accelerometer over ~1 s (fusion_tau_s):
        # what biases it is motion that lasts, not a shake's swings
        # (fatigue shake, 5-8 Hz, turns the foot at up to ~75 deg/s and
        # swings |a| by 0.5 g about the forefoot pivot: the low-passed
        # rate's peaks shut the gate for good, yet over 0.2 s the shake's
        # rate averages to a fifth or less). A drop or a rise turning
        # faster than the gate keeps it shut as before.
        s = self._s
        w = self._wsm
        m = 0
        n = acc + w[3]
        if n > 0:
            for i in range(3):
                g = s[_GIX + i]
                r = (g + w[i]) // n - s[_BX + i]
                w[i] = g
                m += r if r > 0 else -r
        w[3] = acc
        am = self._amean
        n = s[_ASN]
        for i in range(3):
            am[i] = s[_ASX + i] // n if n > 0 else s[_ALX + i] >> 4
            s[_ASX + i] = 0
        s[_ASN] = 0
        ax = s[_ALX] >> 6
        ay = s[_ALY] >> 6
        az = s[_ALZ] >> 6
        a2 = ax * ax + ay * ay + az * az
        v = s[_A2S]
        s[_A2S] = v + ((a2 - v) >> 2)
        return m

    @micropython.viper
    def _correct(self, acc: int, wmax: int, wg: int) -> int:
        # Complementary filter with an integral term (Mahony): pull theta
        # and phi towards the accelerometer's pose with gain acc/tau, and the
        # gyro bias along the pitch and roll axes by the integral of that
        # error (Ki 0.05/s^2), unless the foot is accelerating or turning
        # fast (low-passed |w| > 30 deg/s since the last tick, docs/DOMAIN.md section 3.3).
        # Re-anchors the angles to the accelerometer after a gap, after
        # samples at the sensor's rails, or when the two disagree by more
        # than 15 deg for 0.3 s while the accelerometer is trustworthy.
        # The pull is gated on the rotation and |a| smoothed over ticks (wg,
        # s[_A2S]: see _gate_rate); a re-anchor needs the accelerometer
        # trustworthy now (wmax: the largest low-passed rate since the
        # tick, and the low-passed |a| now). Returns 1 when the angles
        # were re-anchored.
        s = ptr32(self._s)
        k32 = 65536
        k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
        ax = s[_ALX]
        if ax >> 31 > 0:
            ax -= k32
        ay = s[_ALY]
        if ay >> 31 > 0:
            ay -= k32
        az = s[_ALZ]
        if az >> 31 > 0:
            az -= k32
        ax >>= 4
        ay >>= 4
        az >>= 4
        a2 = (ax >> 2) * (ax >> 2) + (ay >> 2) * (ay >> 2) + (az >> 2) * (az >> 2)
        gate = s[_G2LO] < a2 and a2 < s[_G2HI] and wmax < s[_GATE]
        if not gate and s[_RESTART] & 9 == 0:
            # the accelerometer trusted on average only (a shake): the pose
            # from the tick's mean, its swings averaged, not sampled (else,
            # and for a re-anchor, the pose now: the mean lags a drop)
            am = ptr32(self._amean)
            ax = am[0]
            if ax >> 31 > 0:
                ax -= k32
            ay = am[1]
            if ay >> 31 > 0:
                ay -= k32
            az = am[2]
            if az >> 31 > 0:
                az -= k32
        a = s[_FX]
        if a >> 31 > 0:
            a -= k32
        b = s[_FY]
        if b >> 31 > 0:
            b -= k32
        c = s[_FZ]
        if c >> 31 > 0:
            c -= k32
        x = (ax * a + ay * b + az * c) >> 14
        a = s[_UX]
        if a >> 31 > 0:
            a -= k32
        b = s[_UY]
        if b >> 31 > 0:
            b -= k32
        c = s[_UZ]
        if c >> 31 > 0:
            c -= k32
        z = (ax * a + ay * b + az * c) >> 14
        a = s[_PX]
        if a >> 31 > 0:
            a -= k32
        b = s[_PY]
        if b >> 31 > 0:
            b -= k32
        c = s[_PZ]
        if c >> 31 > 0:
            c -= k32
        y = (ax * a + ay * b + az * c) >> 14
        r = s[_RESTART]
        tha = int(atan2_u(x, z))
        pha = int(atan2_u(y, int(isqrt((x >> 2) * (x >> 2) + (z >> 2) * (z >> 2))) << 2))
        th = s[_TH]
        if th >> 31 > 0:
            th -= k32
        ph = s[_PH]
        if ph >> 31 > 0:
            ph -= k32
        dth = tha - th
        dph = pha - ph
        snap = r & 1
        if gate:
            if r & 8:
                snap = 1
            if dth > _DIS_UDEG or dth < 0 - _DIS_UDEG or dph > _DIS_UDEG or dph < 0 - _DIS_UDEG:
                s[_DIS] += acc
                if s[_DIS] >= _DIS_MS:
                    snap = 1
            else:
                s[_DIS] = 0
        if snap:
            s[_RESTART] = r & 6
            s[_DIS] = 0
            s[_TH] = tha
            s[_PH] = pha
            s[_WL] = 0
            s[_XF] = tha // 1000
            s[_VF] = 0
            s[_XB] = (tha // 1000) << 4
            s[_VB] = 0
            return 1
        a2 = s[_A2S]
        if not (s[_G2LO] < a2 and a2 < s[_G2HI] and wg < s[_GATE]):
            return 0
        k = acc * 256 // s[_TAU]  # gain, Q8
        if k > 64:
            k = 64
        if dth > 16777216:
            dth = 16777216
        elif dth < -16777216:
            dth = -16777216
        if dph > 16777216:
            dph = 16777216
        elif dph < -16777216:
            dph = -16777216
        s[_TH] = th + ((dth * k) >> 8)
        s[_PH] = ph + ((dph * k) >> 8)
        # the integral term: a lasting lag of theta behind the accelerometer
        # means the gyro's bias along the pitch axis is too large (and so on)
        ki = s[_KI]
        acc2 = acc if acc < 400 else 400
        e = dth // 1000
        if e > 5000:
            e = 5000
        elif e < -5000:
            e = -5000
        ip = ((e * acc2) >> 6) * ki >> 14  # counts * 4096 along p
        e = dph // 1000
        if e > 5000:
            e = 5000
        elif e < -5000:
            e = -5000
        ir = ((e * acc2) >> 6) * ki >> 14  # along -f (the roll rate is -w.f)
        i = 0
        while i < 3:
            p = s[_PX + i]
            if p >> 31 > 0:
                p -= k32
            f = s[_FX + i]
            if f >> 31 > 0:
                f -= k32
            v = s[_BFX + i]
            if v >> 31 > 0:
                v -= k32
            v += ((ir * f) >> 14) - ((ip * p) >> 14)
            lim = _BIAS_MAX << 12
            if v > lim:
                v = lim
            elif v < 0 - lim:
                v = 0 - lim
            s[_BFX + i] = v
            s[_BX + i] = (v + 2048) >> 12
            i += 1
        return 0

    def set_bias16(self, b16):
        # the gyro bias, counts * 16 (3 ints)
        s = self._s
        for i in range(3):
            v = b16[i] << 8
            lim = _BIAS_MAX << 12
            if v > lim:
                v = lim
            elif v < -lim:
                v = -lim
            s[_BFX + i] = v
            s[_BX + i] = (v + 2048) >> 12

    # ------------------------------------------------------ rest windows
    @micropython.viper
    def _rest(self, t: int, acc: int, wraw: int) -> int:
        # Advance the rest window by one tick. Returns 1 when a window of
        # still_time_s completed (self._rw_out: bias * 16, mean direction,
        # span, start), 2 when the window broke (the foot moved), else 0.
        # The window's state is self._rw (see _RW_* in _fusion_init).
        s = ptr32(self._s)
        rw = ptr32(self._rw)
        k32 = 65536
        k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
        x = s[_ALX]
        if x >> 31 > 0:
            x -= k32
        y = s[_ALY]
        if y >> 31 > 0:
            y -= k32
        z = s[_ALZ]
        if z >> 31 > 0:
            z -= k32
        x >>= 4
        y >>= 4
        z >>= 4
        a2 = (x >> 2) * (x >> 2) + (y >> 2) * (y >> 2) + (z >> 2) * (z >> 2)
        gi0 = s[_GIX]
        if gi0 >> 31 > 0:
            gi0 -= k32
        gi1 = s[_GIY]
        if gi1 >> 31 > 0:
            gi1 -= k32
        gi2 = s[_GIZ]
        if gi2 >> 31 > 0:
            gi2 -= k32
        s[_GIX] = 0
        s[_GIY] = 0
        s[_GIZ] = 0
        r0 = 0
        r1 = 0
        r2 = 0
        if acc > 0:
            v = s[_BX]
            if v >> 31 > 0:
                v -= k32
            r0 = gi0 // acc - v
            v = s[_BY]
            if v >> 31 > 0:
                v -= k32
            r1 = gi1 // acc - v
            v = s[_BZ]
            if v >> 31 > 0:
                v -= k32
            r2 = gi2 // acc - v
        vc = ptr32(self._vc)
        n = rw[0]
        ok = 0
        if n > 0 and acc > 0 and wraw < rw[19]:
            ok = 1
            # the direction within the band of the window's mean, |a| within ~0.1 g
            m2 = rw[10]
            dm = (m2 >> 8) * 51
            if a2 < m2 - dm or a2 > m2 + dm:
                ok = 0
                rw[13] += 1
            else:
                vb = ptr32(self._vb)
                v = rw[3]
                if v >> 31 > 0:
                    v -= k32
                vb[0] = v
                v = rw[4]
                if v >> 31 > 0:
                    v -= k32
                vb[1] = v
                v = rw[5]
                if v >> 31 > 0:
                    v -= k32
                vb[2] = v
                vunit(self._vb)
                vc[0] = x
                vc[1] = y
                vc[2] = z
                vunit(self._vc)
                an = int(vangle(self._vb, self._vc))
                if an > rw[18]:
                    ok = 0
                    rw[12] += 1
                elif an > rw[22]:
                    rw[23] += 1
        elif n > 0:
            rw[14] += 1
        if ok == 0:
            broke = 0
            if n > 0:
                broke = 2
                if rw[2] > rw[15]:
                    rw[15] = rw[2]
            # start a new window with this tick
            rw[0] = 1
            rw[23] = 0
            rw[1] = int(ticks_add(t, 0 - acc))
            rw[2] = acc
            rw[3] = x
            rw[4] = y
            rw[5] = z
            rw[6] = gi0
            rw[7] = gi1
            rw[8] = gi2
            rw[10] = a2
            rg = ptr32(self._rw_g)
            rg[0] = r0
            rg[1] = r1
            rg[2] = r2
            rw[11] = 1
            a0 = ptr32(self._rw_a0)
            a0[0] = x
            a0[1] = y
            a0[2] = z
            vunit(self._rw_a0)
            return broke
        rw[0] = n + 1
        k = rw[11]
        if k < 24:
            rg = ptr32(self._rw_g)
            rg[3 * k] = r0
            rg[3 * k + 1] = r1
            rg[3 * k + 2] = r2
            rw[11] = k + 1
        rw[2] += acc
        v = rw[3]
        if v >> 31 > 0:
            v -= k32
        rw[3] = v + x
        v = rw[4]
        if v >> 31 > 0:
            v -= k32
        rw[4] = v + y
        v = rw[5]
        if v >> 31 > 0:
            v -= k32
        rw[5] = v + z
        v = rw[6]
        if v >> 31 > 0:
            v -= k32
        rw[6] = v + gi0
        v = rw[7]
        if v >> 31 > 0:
            v -= k32
        rw[7] = v + gi1
        v = rw[8]
        if v >> 31 > 0:
            v -= k32
        rw[8] = v + gi2
        ms = rw[2]
        if ms < rw[20]:
            return 0
        # complete: the bias is the mean rate less the rotation the
        # accelerometer saw from the first direction to this one
        # (tilt rotation = -(a0 x a1), radians * 2**14)
        if ms > rw[15]:
            rw[15] = ms
        vc[0] = x
        vc[1] = y
        vc[2] = z
        vunit(self._vc)
        a0 = ptr32(self._rw_a0)
        out = ptr32(self._rw_out)
        kr = rw[21]
        b0 = a0[0]
        if b0 >> 31 > 0:
            b0 -= k32
        b1 = a0[1]
        if b1 >> 31 > 0:
            b1 -= k32
        b2 = a0[2]
        if b2 >> 31 > 0:
            b2 -= k32
        c0 = vc[0]
        if c0 >> 31 > 0:
            c0 -= k32
        c1 = vc[1]
        if c1 >> 31 > 0:
            c1 -= k32
        c2 = vc[2]
        if c2 >> 31 > 0:
            c2 -= k32
        x = (b2 * c1 - b1 * c2) >> 14
        y = (b0 * c2 - b2 * c0) >> 14
        z = (b1 * c0 - b0 * c1) >> 14
        v = rw[6]
        if v >> 31 > 0:
            v -= k32
        out[0] = (v - (x * kr >> 6)) * 16 // ms
        v = rw[7]
        if v >> 31 > 0:
            v -= k32
        out[1] = (v - (y * kr >> 6)) * 16 // ms
        v = rw[8]
        if v >> 31 > 0:
            v -= k32
        out[2] = (v - (z * kr >> 6)) * 16 // ms
        vb = ptr32(self._vb)
        vb[0] = rw[3]
        vb[1] = rw[4]
        vb[2] = rw[5]
        vunit(self._vb)
        out[3] = vb[0]
        out[4] = vb[1]
        out[5] = vb[2]
        out[6] = ms
        out[7] = rw[1]
        # how far the foot tilted from the window's start to its end
        # (radians * 2**14, L1): a window that drifted is no measure of sway
        out[8] = (x if x > 0 else 0 - x) + (y if y > 0 else 0 - y) + (z if z > 0 else 0 - z)
        rw[0] = 0  # the next window starts with the next tick
        rw[16] += 1
        # the rates less their mean over the window (the bias and any slow
        # drift): what is left is the person's sway
        k = rw[11]
        rg = ptr32(self._rw_g)
        g = ptr32(self._rest_g)
        j = 0
        while j < 3:
            m = 0
            i = j
            while i < 3 * k:
                v = rg[i]
                if v >> 31 > 0:
                    v -= k32
                m += v
                i += 3
            if k > 0:
                m //= k
            i = j
            while i < 3 * k:
                v = rg[i]
                if v >> 31 > 0:
                    v -= k32
                g[i] = v - m
                i += 3
            j += 1
        rw[17] = k
        return 1

    def sway_pitch(self):
        # The person's sway about the pitch axis in the last rest window, as
        # the rebound it would show at ~0.8 Hz (udeg, p-p): 2 * rate / (2 pi 0.8)
        return self.sway_rate() * 398

    def sway_rate(self):
        # the fastest pitch rate (mdps) of the last rest window: sway
        p = self._p
        g = self._rest_g
        k = self._kmd
        sh = self._s[_RSH]
        m = 0
        for i in range(self._rw[17]):
            r = (g[3 * i] * p[0] + g[3 * i + 1] * p[1] + g[3 * i + 2] * p[2]) >> 14
            r = (r * k) >> sh  # mdps
            if r < 0:
                r = -r
            if r > m:
                m = r
        return m

    def _why_reset(self):
        # what the calibration saw (for the calibration_failed reason)
        rw = self._rw
        rw[12] = 0
        rw[13] = 0
        rw[14] = 0
        rw[15] = 0

    # ------------------------------------------------------ calibration
    def _calibrate(self, t, retake=False):
        # the first rest window: level "up" and the gyro bias
        out = self._rw_out
        s = self._s
        # how steady the level's windows were (the best of each): the
        # start-to-end drift and how far the window ended from its mean
        # (0.1 deg), for _rest_done
        dn = vangle(self._vb, self._vc) // 100000
        q = out[8]
        if dn > 9999:
            dn = 9999
        if retake:
            p = self._rw[9]
            if p & 0xffff < q:
                q = p & 0xffff
            if p >> 16 < dn:
                dn = p >> 16
        self._rw[9] = q + (dn << 16)
        if not retake:
            self._cal_t1 = t
            self._swy = self._rw[23] > 0  # the window swayed past the still band
        self.calibrated = True
        s[_MODE] = M_AXIS
        self._ax_reset(t)
        if not retake:
            # where the foot is as the level is taken (the window's end; not
            # at a half-way re-take, whose window may hold a rise onto a
            # raised top): see _rest_done. In the engine's strap-slip
            # candidate, unused until the axis is known
            e = self._slip
            e[0] = s[_ALX] >> 4
            e[1] = s[_ALY] >> 4
            e[2] = s[_ALZ] >> 4
            e[3] = 0
            vunit(e)
        # a re-take (a still spell near the level, _rest_done): half way
        # there, so that the level is the mean of the still start's spells
        # (a 1.5 s spell's mean is off by up to ~1 deg of 0.1-1 Hz sway)
        self._take_level(t, out, self._va if retake else None, retake)

    def _take_level(self, t, out, va, blend=False):
        # the level "up" and the gyro bias from the rest window just
        # completed (out), said with a calibrated event; va: the level
        # re-taken with the foot's frame kept (after walking; blend: half
        # way), else the window's mean direction is the new up
        self.set_bias16((out[0], out[1], out[2]))
        if va is None:
            u = self._u
            u[0] = out[3]
            u[1] = out[4]
            u[2] = out[5]
        else:
            self._retare(va, blend)
        self._set_gates()
        self._walked = 0
        self.cal_event(t, self._board_tilt(), out)

    def _board_tilt(self):
        # tilt of the board from its nearest axis, for the user
        u = self._u
        va = self._va
        best = 0
        for i in range(3):
            if abs(u[i]) > abs(u[best]):
                best = i
        va[0] = 0
        va[1] = 0
        va[2] = 0
        va[best] = 16384 if u[best] >= 0 else -16384
        return vangle(u, va)

    def _set_gates(self):
        # the accelerometer is trusted within accel_gate_g of the 1 g seen
        # at rest: gates on |a/4|^2
        s = self._s
        gn = self._rw[10]  # the window's mean |a/4|^2
        g4 = isqrt(gn)  # |a| / 4, counts
        gate = self.k_gate4
        lo = g4 - gate
        hi = g4 + gate
        s[_G2LO] = lo * lo if lo > 0 else 0
        s[_G2HI] = hi * hi
        self._g2 = gn

    # ---------------------------------------------- learning the axis
    def _ax_reset(self, t):
        s = self._s
        self._ax_on = False  # an excursion from level is under way
        self._ax_t0 = t  # the last time at level
        s[_RX] = 0
        s[_RY] = 0
        s[_RZ] = 0
        self._ax_bad = False
        # the crossings up to where the foot is now were before this
        # (a frame dropped mid-drop): not stamped now, as if all at once
        self._ax_k = 63
        self._ax_peak = 0
        self._ax_prev = 0
        self._ax_accel = False  # learn from the accelerometer alone (the gyro missed the start)
        self._moved = False

    # Bytecode, not native: it runs 10 times a second only until the axis is
    # learned, and as armv6m machine code it is 3.2 KB more of the heap the
    # board's code and data share (docs/DESIGN.md, RAM).
    def _step_axis(self, t, wmax, wraw):
        # The first clear excursion from level teaches the foot's axis: the
        # gyro's rotation since the foot left level, at the excursion's
        # deepest (settled, or turning back) once the foot has tilted
        # axis_min_deg, if the accelerometer, at a moment it can be trusted
        # (|a| near 1 g, turning slower than 30 deg/s), saw the same rotation.
        # Which way is down is decided later (heelcore.engine).
        s = self._s
        va = self._va
        va[0] = s[_ALX] >> 4
        va[1] = s[_ALY] >> 4
        va[2] = s[_ALZ] >> 4
        a2 = (va[0] >> 2) * (va[0] >> 2) + (va[1] >> 2) * (va[1] >> 2) + (va[2] >> 2) * (va[2] >> 2)
        vunit(va)
        tilt = vangle(va, self._u)
        if tilt > self.ax_max_tilt:
            self.ax_max_tilt = tilt
        # the still start of a person who sways past the still band (a shoe
        # mount's doubled roll), before the first drop, within 8 s of the
        # first calibration: rest windows on twice the band, as in M_CAL
        self._rw[18] = self.k_rest_wide if self._swy and ticks_diff(t, self._cal_t1) < 8000 else self.k_rest_band
        # moved since the level was taken (walked, stepped on): turning fast
        # (200 deg/s) or accelerating (|a| off 1 g by 0.2 g), or turned
        # past where a heel drop goes (a sensor being re-strapped)
        if self.jolt or a2 > self._g2 + (self._g2 >> 1) or a2 < self._g2 - (self._g2 >> 1) or tilt > self.k_pitch_max:
            self._moved = True
            if self.jolt == 2 and self._sw == 2:
                self._sw = 1  # walked since the side switch, with no frame to drop
        if tilt < self.k_rest_band:
            # at level (within the sway band): the excursion starts from here
            self._ax_on = False
            self._ax_t0 = t
            s[_RX] = 0
            s[_RY] = 0
            s[_RZ] = 0
            ref = self._ax_ref
            ref[0] = va[0]
            ref[1] = va[1]
            ref[2] = va[2]
            self._ax_bad = False
            self._ax_accel = False
            self._ax_peak = tilt
        else:
            if not self._ax_on:
                self._ax_on = True
            if tilt > self.k_pitch_max:
                # deeper than any heel drop (docs/DOMAIN.md section 7(b):
                # depth <= 40 deg, 57 with a shoe mount's coupled roll): the
                # foot was lifted, turned over or unstrapped; no axis from it
                self._ax_bad = True
            if self.jolt == 2:
                # fast, violent motion (walking, stepping): not a drop
                if not self._ax_bad:
                    self.ax_violent += 1
                self._ax_bad = True
            if tilt > self._ax_peak:
                self._ax_peak = tilt
        # the upward crossings of whole degrees of tilt (the first rep's
        # tempo fit, at tick resolution): at level the last ones, in the
        # excursion the first (a drop's rebounds, bounces at 1-3 Hz of up
        # to 10 deg, docs/DOMAIN.md section 7(b), cross its lower degrees
        # again for seconds: the last crossings made a 0.3 s drop read as
        # one of 2-6 s, no longer too fast), as the rep machine keeps them
        # (after a frame dropped mid-drop, from where the foot is)
        k = tilt
        if self._ax_on:
            # in the excursion, the gyro's tilt since level where it is
            # ahead (the heel's own acceleration in a fast drop and its
            # rebounds, 0.24-0.48 g, docs/DOMAIN.md section 5, holds the
            # accelerometer's back). The gyro's rotation since level
            # (radians * 2**14, then in units of 2**-10 rad: keeps the
            # products small), its part about the vertical (ru) taken out
            # (p, length nr): also what the axis is learned from below
            kr = self._kr
            rx = (s[_RX] * kr >> 12) >> 4
            ry = (s[_RY] * kr >> 12) >> 4
            rz = (s[_RZ] * kr >> 12) >> 4
            u = self._u
            ru = (rx * u[0] + ry * u[1] + rz * u[2]) >> 14
            px = rx - (ru * u[0] >> 14)
            py = ry - (ru * u[1] >> 14)
            pz = rz - (ru * u[2] >> 14)
            nr = isqrt(px * px + py * py + pz * pz)
            g = nr * 55953  # udeg
            if g > k:
                k = g
        k //= _UDEG
        if k > 63:
            k = 63
        tc = self._ax_tc
        j = self._ax_k + 1
        while j <= k:
            tc[j] = t
            j += 1
        if k > self._ax_k or not self._ax_on or self._ax_k == 63:
            self._ax_k = k
        prev = self._ax_prev
        self._ax_prev = tilt
        if not self._ax_on or self._ax_bad or tilt < self.k_axis_min:
            return
        if not (s[_G2LO] < a2 < s[_G2HI] and wmax < s[_GATE]):
            return  # the accelerometer is not gravity alone now: wait
        # at the excursion's deepest: turned back by 1 deg, or settled (the
        # tilt changed less than 0.3 deg in a tick): there the drop's own
        # rotation outweighs the sway's most
        d = tilt - prev
        if tilt > self._ax_peak - _UDEG and (d > 300000 or d < -300000):
            return
        # the gyro's rotation since level (p above) against the
        # accelerometer's (-(a0 x a1)), in units of 2**-10 rad
        ref = self._ax_ref
        cx = ((ref[2] * va[1] - ref[1] * va[2]) >> 14) >> 4
        cy = ((ref[0] * va[2] - ref[2] * va[0]) >> 14) >> 4
        cz = ((ref[1] * va[0] - ref[0] * va[1]) >> 14) >> 4
        if self._ax_accel:
            # the rotation from level the accelerometer sees (u x a): the
            # excursion began while a wrong axis was tried
            vb = self._vb
            vcross(vb, va, u)
            if vunit(vb):
                self.learn_axis(t, vb, tilt)
            return
        nc = isqrt(cx * cx + cy * cy + cz * cz)
        vb = self._vb
        vb[0] = px
        vb[1] = py
        vb[2] = pz
        vc = self._vc
        vc[0] = cx
        vc[1] = cy
        vc[2] = cz
        # same direction within 30 deg, lengths within a factor of 1.6 (gyro
        # scale errors, the accelerometer during a fast drop)
        if (not vunit(vb) or not vunit(vc) or vangle(vb, vc) > 30 * _UDEG or 5 * nr > 8 * nc
                or 5 * nc > 8 * nr):
            if not self._ax_bad:
                self.ax_inconsistent += 1
            self._ax_bad = True
            return
        if 2 * (ru if ru > 0 else -ru) > nr:
            # the foot twisted as it dropped: the gyro's rotation about the
            # vertical, taken in the foot's frame as it tilts, leaks into
            # the tilt axis (~twist * sin(tilt)); the accelerometer's tilt
            # axis, which the gyro confirmed, is the axis then
            d = (vc[0] * u[0] + vc[1] * u[1] + vc[2] * u[2]) >> 14
            for i in range(3):
                vb[i] = vc[i] - (d * u[i] >> 14)
            if not vunit(vb):
                return
        self.learn_axis(t, vb, tilt)

    def set_frame(self, p, sign):
        # p: the pitch axis (unit * 2**14, perpendicular to u; + = heel down
        # when sign is 1): forward f = u x p
        s = self._s
        u = self._u
        f = self._f
        pp = self._p
        for i in range(3):
            pp[i] = p[i] * sign
        f[0] = (u[1] * pp[2] - u[2] * pp[1]) >> 14
        f[1] = (u[2] * pp[0] - u[0] * pp[2]) >> 14
        f[2] = (u[0] * pp[1] - u[1] * pp[0]) >> 14
        vunit(f)
        k = self._kmd
        for i in range(3):
            s[_FX + i] = f[i]
            s[_UX + i] = u[i]
            s[_PX + i] = pp[i]
            s[_RPX + i] = pp[i] * k >> 14
            s[_RFX + i] = -(f[i] * k >> 14)  # roll rate = -w.f
            s[_RUX + i] = u[i] * k >> 14

    def flip(self):
        # the other sign: mirror the frame and every signed pitch and roll quantity
        s = self._s
        for i in range(3):
            s[_FX + i] = -s[_FX + i]
            s[_PX + i] = -s[_PX + i]
            s[_RPX + i] = -s[_RPX + i]
            s[_RFX + i] = -s[_RFX + i]
            self._p[i] = -self._p[i]
            self._f[i] = -self._f[i]
        for i in (_TH, _PH, _WP, _WL, _XF, _VF, _XB, _VB):
            s[i] = -s[i]

    def _rest_done(self, t, before_axis):
        # A rest window completed after calibration: track the gyro bias
        # (all three axes; the integral term of _correct covers pitch and
        # roll in motion too) and, near level, the level itself.
        out = self._rw_out
        s = self._s
        va = self._va
        va[0] = out[3]
        va[1] = out[4]
        va[2] = out[5]
        tilt = vangle(va, self._u)
        d = 0
        # how far the foot is now from the window's mean (udeg, >= 1; _rest
        # left the direction now in _vc)
        dn = vangle(self._vc, va) + 1
        if before_axis and self._rw[18] > self.k_rest_band:
            # a window on twice the band (the still start) that ends away
            # from its mean is a drop's start, not a still spell: neither a
            # level nor the person's sway (learn_axis) comes from it
            d = dn
            if d >= self.k_rest_band:
                self._rw[17] = 0
                return
        if before_axis and self._moved and (tilt < 12 * _UDEG or self._sw):
            # the foot moved since the level was taken (walked, stepped on):
            # before the first drop, a new still spell near level is a new
            # calibration (on the step, after the floor); after a side
            # switch at any tilt (the level was taken on the old heel before
            # the sensor moved to the new one, in another mounting)
            self._calibrate(t)
            return
        if (before_axis and ticks_diff(t, self._cal_t1) < 8000
                and (tilt < self.k_retare_blend and out[8] < 1430
                     or d and tilt < self.k_rest_band and d < self.k_retare_blend)):
            # before the first drop, the latest still spell near level is
            # the level: the person settles after stepping on or shifting
            # weight (a calibration during a calm weight shift is no level).
            # The level and the bias are taken again from it, and said so.
            # Not from a window that drifted by more than unsupported sway
            # turns the foot (5 deg: a slow drop's start); in a still start
            # judged on twice the band (the person swayed past it), from a
            # window that ends within 3 deg of its own mean whatever it
            # drifted: a drop's start ends away from its mean, while a
            # window that began in a weight shift's return, or in a shoe
            # mount's doubled roll sway (5-6 deg), drifts 10 deg and more
            # and ends calm at its mean. And only within
            # 8 s of the first calibration (or the one after walking):
            # later the person is on the step, a tilt is a drop or a raised
            # top beginning, and re-takes in a row would walk the level away
            # (later rests near level are blended in below, without a cue).
            self._calibrate(t, True)
            return
        half = self.k_rest_band >> 1
        q = self._rw[9]
        if (before_axis and ticks_diff(t, self._cal_t1) < 8000 and tilt < self.k_rest_band
                and out[8] < 1430 and dn < _UDEG
                and (vangle(self._slip, va) < half or q >> 16 >= 10 and out[8] < (q & 0xffff))):
            # A calm still spell 3-5 deg from the level, where the foot
            # stood as the level was taken: the level's own window held a
            # move that ended in it (a weight shift before the still start:
            # the heel dips 1-5 deg and comes back, with up to 3 deg of
            # roll, docs/DOMAIN.md section 7(b); its mean is off by up to 4
            # deg) and the foot stands still since. Re-taken too, half way
            # as above (the difference may be the person's slow sway, 1-2
            # deg unsupported, as much as a shift). Not from a spell that
            # drifted, that ends more than 1 deg from its mean (swinging),
            # or whose mean is more than half the still band from where the
            # level was taken (the window's end, not moved by the half-way
            # re-takes): a drop's start and a raised top (>= 5 deg) leave it.
            # Or a calm still spell anywhere in the band when every window
            # the level was taken from ended farther than 1 deg from its
            # own mean, and steadier than all of them (drifted less): the
            # foot's unsupported sway (up to 2.7 deg of roll) moves the
            # still start too far from where the foot stood for the anchor
            # above. (A level from a calm window stays: a later steadier
            # pose is the top or a raised top, not the level.)
            self._calibrate(t, True)
            return
        # each rest window moves the bias a quarter of the way: a wrong
        # start is gone within a few windows. About the up axis by at most
        # 1 deg/s a window unless the window before found about the same: a turn
        # about the vertical in the window (a twist, yaw sway), which the
        # accelerometer cannot see, would pass for bias (22 deg of twist in
        # a 1.5 s window: 15 deg/s) and read as yaw drift in the reps after
        # it; a bias left wrong is found again window after window
        u = self._u
        du = 0
        for i in range(3):
            du += ((((out[i] << 8) - s[_BFX + i]) >> 10) * u[i]) >> 14  # counts * 4
        lim = self._gm // 250  # 1 deg/s, counts * 4
        d = du - self._du_last
        if d < 0:
            d = -d
        a = du if du > 0 else -du
        same = (du > 0) == (self._du_last > 0) and 2 * d < a + 2 * lim
        self._du_last = du
        if same:
            du = 0
        elif du > lim:
            du -= lim
        elif du < -lim:
            du += lim
        else:
            du = 0
        for i in range(3):
            v = s[_BFX + i]
            v += ((out[i] << 8) - v - ((du * u[i] >> 14) << 10)) >> 2
            s[_BFX + i] = v
            s[_BX + i] = (v + 2048) >> 12
        if before_axis:
            # before the first drop, the latest rest at level is the level: a
            # window that did not drift (a slow drop passes a window's band)
            if tilt < self.k_retare_blend and out[8] < 430:
                self._retare(va, True)
            else:
                self.axis_rest(t, va, tilt)
            return
        if self._walked and out[8] < 430 and (tilt < 4 * _UDEG or self._walked == 2 and tilt < _RESTRAP_TILT
                                               and s[_TH] > -_RESTRAP_TH):
            # the first still spell at level after walking or stepping (back
            # on the step after a rest on the floor, or after a side switch
            # calibrated on the floor): the level and the bias are taken
            # again, and said so; the axis is kept (the same heel, the same
            # strap: a slip moves the level by 1-5 deg, a raised top is >= 5
            # deg from it). After the sensor was turned over (past any heel
            # drop for 0.3 s: lifted, the strap redone), the strap may sit a
            # few degrees from where it was (up to 4 deg about each axis:
            # the level up to 5.7 deg away): within 8 deg, but no more than
            # 1 deg above the old level (a toe stand, the raised-top range
            # of 5-25 deg, sinks by up to 4 deg as the calf tires; a
            # re-strap that tilts the heel up more is missed, as before)
            self._take_level(t, out, va)
            return
        self.rest_run(t, va, tilt)

    def _retare(self, va, blend):
        # a new level "up"; the forward axis is kept perpendicular to it
        u = self._u
        for i in range(3):
            u[i] = (u[i] + va[i]) >> 1 if blend else va[i]
        vunit(u)
        if self._s[_MODE] == M_RUN:
            p = self._p
            d = (p[0] * u[0] + p[1] * u[1] + p[2] * u[2]) >> 14
            vb = self._vb
            for i in range(3):
                vb[i] = p[i] - (d * u[i] >> 14)
            if vunit(vb):
                self.set_frame(vb, 1)
                self._s[_RESTART] |= 1
