# The heel drop detection engine: fusion, calibration and the rep state machine.
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
# - step(), every sample: a viper function (machine-word integers, no heap
#   objects) over one array('i') of state: low-pass filters, gyro bias
#   removal, projection of the rates on the foot axes, integration of pitch,
#   roll and yaw, peak and level-crossing tracking. On CPython the decorator
#   and ptr32 are identities and the same code runs as plain Python.
# - _slow(), the slow tick (every >= 20 ms of samples): the accelerometer
#   correction of the fusion (atan2, a few floats), calibration and the rep
#   state machine with its faults and events. Human movement here is below
#   3 Hz, so 50 Hz decisions lose nothing, and events carry the tick time.
# Units: angles in micro-degrees (udeg), rates in milli-degrees per second
# (mdps), times in ms. Every value stays within 32 bits for int16 inputs, so
# the board computes exactly what the host computes (only the atan2 of the
# slow tick is single precision on the boards).
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
# to the foot's right whatever the mounting). u is re-tared whenever the foot
# rests at the top (strap slip), and the gyro bias is tracked while still.
import array
import math

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr16, ptr32


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

# state array indices
_TLAST = const(0)
_HAVE = const(1)
_GLX = const(2)  # low-passed gyro, counts * 16
_GLY = const(3)
_GLZ = const(4)
_ALX = const(5)  # low-passed accel, counts * 16
_ALY = const(6)
_ALZ = const(7)
_BX = const(8)  # gyro bias, counts
_BY = const(9)
_BZ = const(10)
_RPX = const(11)  # pitch-rate axis: mdps per count * 1024
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
_PS = const(22)  # psi, udeg
_WP = const(23)  # pitch rate, mdps
_WL = const(24)  # low-passed pitch rate, mdps
_STILL = const(25)  # 1 while every sample since the last tick was still
_STILLC = const(26)  # still threshold, counts
_ACC = const(27)  # ms since the last slow tick
_SLOW = const(28)  # slow tick period, ms
_PEAK = const(29)  # max theta since reset
_TPEAK = const(30)
_BAD = const(31)
_OOO = const(32)
_GAPS = const(33)
_LIM = const(34)
_STATE = const(35)
_TRACK = const(36)  # crossing tracking: 0 off, 1 top (last up), 2 descent (first up)
_NEXTK = const(37)
_PREVK = const(38)
_RESTART = const(39)  # bit 0: restart the fusion from the accelerometer; bit 1: tick now
_WLMAX = const(40)  # max / min of wl since the last tick
_WLMIN = const(41)
_THMIN = const(42)  # min theta since reset (rise)
_TTHMIN = const(43)
_RX = const(44)  # integrated rate vector while learning the axis, counts*ms/16
_RY = const(45)
_RZ = const(46)
_WMAX = const(47)  # max low-passed |w| L1 since the last tick, counts
_XF = const(48)  # theta through a critically damped 2nd-order 2 Hz low-pass, mdeg
_VF = const(49)  # its rate, mdps
_FX = const(50)  # forward, up and pitch axes in sensor axes, unit * 16384
_FY = const(51)
_FZ = const(52)
_UX = const(53)
_UY = const(54)
_UZ = const(55)
_PX = const(56)
_PY = const(57)
_PZ = const(58)
_G2LO = const(59)  # accelerometer gate on |a/4|^2
_G2HI = const(60)
_GATE = const(61)  # rotation gate, counts (L1)
_TAU = const(62)  # fusion time constant, ms
_BMODE = const(63)  # bounce tracker: 0 tracking the deep point, 1 rebounding
_BMAX = const(64)  # deep point (udeg) and its time
_BMAXT = const(65)
_BNEART = const(66)  # last time within 0.5 deg of the deep point
_BMIN = const(67)  # top of the rebound (udeg) and its time
_BMINT = const(68)
_BMINW = const(69)  # fastest upward low-passed rate of the rebound (mdps, < 0)
_BCNT = const(70)  # bounces counted in this rep
_BAMP = const(71)  # amplitude of the last one, udeg
_BLIM = const(72)  # bounce amplitude threshold, udeg
_BRATE = const(73)  # bounce rate threshold, mdps
_XB = const(74)  # theta through a critically damped 2nd-order 4 Hz low-pass, mdeg * 16
_VB = const(75)  # its rate, mdps
_BUP = const(76)  # rise time of the last bounce's rebound, ms
_WRAW = const(77)  # max raw |w| L1 since the last tick, counts (walking, stepping)
_NQ = const(78)  # events queued
_NS = const(79)

_UDEG = const(1000000)  # udeg per degree
_R2U = 57295779.51308232  # udeg per radian
_AX_ONE = const(16384)  # unit axis vectors as ints scaled by 2**14
_GAP_MS = const(250)  # longer sample gaps restart the fusion from the accelerometer
_OFF = const(16)  # crossing tables cover -16..95 degrees
_NK = const(112)
_BASELINE_REPS = const(3)
# Prior pitch-roll coupling before the person's own is fitted: 0, because the
# axis learned on the first drop already contains that drop's coupled roll
# (DOMAIN 7b: normal coupling phi = -0.26 theta).
_PRIOR_K1024 = const(0)
_CLAMP = const(1000000000)
_FLAGS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold")
_DEPTHS = const(256)  # depths kept per side for the summary's median
_WALK_UDEG = const(30000000)  # heel this far above level: a walking push-off
_WALK_MS = const(1500)  # no rep starts this soon after one


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


# atan(i / 256) in micro-degrees, i = 0..256: a literal, so that every port
# (single or double precision floats) computes the same angles
_ATAN = array.array("i", (
    0, 223811, 447614, 671404, 895174, 1118916, 1342624, 1566291,
    1789911, 2013475, 2236979, 2460415, 2683775, 2907054, 3130245, 3353340,
    3576334, 3799220, 4021990, 4244639, 4467159, 4689544, 4911788, 5133884,
    5355825, 5577605, 5799218, 6020656, 6241914, 6462986, 6683864, 6904543,
    7125016, 7345278, 7565321, 7785140, 8004729, 8224081, 8443191, 8662052,
    8880659, 9099006, 9317086, 9534894, 9752425, 9969672, 10186630, 10403293,
    10619655, 10835712, 11051457, 11266885, 11481991, 11696770, 11911215, 12125323,
    12339087, 12552503, 12765566, 12978270, 13190611, 13402583, 13614183, 13825404,
    14036243, 14246695, 14456755, 14666419, 14875682, 15084540, 15292988, 15501022,
    15708638, 15915832, 16122599, 16328936, 16534838, 16740302, 16945323, 17149899,
    17354025, 17557697, 17760912, 17963666, 18165957, 18367779, 18569131, 18770008,
    18970408, 19170327, 19369762, 19568710, 19767169, 19965134, 20162604, 20359575,
    20556045, 20752011, 20947471, 21142421, 21336859, 21530784, 21724192, 21917080,
    22109448, 22301293, 22492612, 22683403, 22873665, 23063395, 23252592, 23441254,
    23629378, 23816963, 24004008, 24190510, 24376469, 24561882, 24746748, 24931066,
    25114835, 25298053, 25480718, 25662830, 25844388, 26025389, 26205835, 26385722,
    26565051, 26743821, 26922030, 27099677, 27276763, 27453287, 27629247, 27804643,
    27979474, 28153741, 28327442, 28500577, 28673146, 28845149, 29016584, 29187453,
    29357754, 29527487, 29696653, 29865250, 30033280, 30200743, 30367637, 30533964,
    30699723, 30864914, 31029538, 31193595, 31357085, 31520009, 31682366, 31844157,
    32005383, 32166044, 32326140, 32485672, 32644640, 32803045, 32960888, 33118169,
    33274888, 33431047, 33586646, 33741685, 33896167, 34050090, 34203457, 34356267,
    34508523, 34660224, 34811372, 34961967, 35112011, 35261505, 35410448, 35558844,
    35706691, 35853993, 36000749, 36146961, 36292630, 36437757, 36582343, 36726389,
    36869898, 37012869, 37155304, 37297204, 37438572, 37579407, 37719711, 37859486,
    37998732, 38137452, 38275647, 38413317, 38550465, 38687092, 38823199, 38958787,
    39093859, 39228415, 39362457, 39495987, 39629005, 39761514, 39893515, 40025010,
    40156000, 40286486, 40416470, 40545954, 40674940, 40803428, 40931420, 41058919,
    41185925, 41312441, 41438467, 41564006, 41689058, 41813627, 41937713, 42061318,
    42184443, 42307091, 42429263, 42550960, 42672185, 42792939, 42913223, 43033039,
    43152390, 43271276, 43389699, 43507662, 43625165, 43742211, 43858801, 43974936,
    44090620, 44205852, 44320635, 44434971, 44548861, 44662308, 44775312, 44887875,
    45000000,
))


@micropython.viper
def _atan2_u(y: int, x: int) -> int:
    # atan2(y, x) in micro-degrees from integers: the table with linear
    # interpolation (error < 0.0001 deg). |x|, |y| < 65536 on the boards.
    # (in viper, "-x" inside a conditional expression clobbers x in this
    # MicroPython: write "0 - x")
    T = ptr32(_ATAN)
    ax = x if x >= 0 else 0 - x
    ay = y if y >= 0 else 0 - y
    if ax == 0 and ay == 0:
        return 0
    if ay <= ax:
        r = (ay << 14) // ax
    else:
        r = (ax << 14) // ay
    i = r >> 6
    a = T[i]
    if i < 256:
        a += ((T[i + 1] - a) * (r & 63)) >> 6
    if ay > ax:
        a = 90000000 - a
    if x < 0:
        a = 180000000 - a
    if y < 0:
        a = -a
    return a


@micropython.viper
def _isqrt(n: int) -> int:
    # floor(sqrt(n)) for 0 <= n < 2**31, Newton's method from a power of two above
    if n <= 0:
        return 0
    g = 1
    m = n
    while m > 0:
        m >>= 2
        g <<= 1
    while True:
        h = (g + n // g) >> 1
        if h >= g:
            return g
        g = h


class Engine:
    def __init__(self, config=None, accel_lsb_per_g=8192, gyro_lsb_per_dps=65.5):
        c = config if config is not None else Config()
        self.cfg = c
        self.alsb = accel_lsb_per_g
        self.glsb = gyro_lsb_per_dps
        self._mdps = 1000.0 / gyro_lsb_per_dps  # mdps per count
        s = array.array("i", [0] * _NS)
        self._s = s
        self._tc_up = array.array("i", [0] * _NK)
        self._tc_dn = array.array("i", [0] * _NK)
        self._fed = array.array("i", [0])  # feed(): the sample being stepped
        s[_STILLC] = int(c.still_gyro_dps * gyro_lsb_per_dps + 0.5)
        s[_SLOW] = 100
        s[_LIM] = 1 << 17
        s[_PREVK] = _OFF
        s[_RESTART] = 1
        s[_STILL] = 1
        s[_G2HI] = 1 << 30
        # on the 4 Hz view a 2 deg bounce at 3 Hz reads 1.3 deg, shake < 0.7 deg
        s[_BLIM] = int(c.bounce_min_deg * 0.75 * _UDEG)
        s[_BRATE] = int(c.bounce_rate_dps * 1000)
        s[_TAU] = c.ms("fusion_tau_s")
        s[_GATE] = int(30 * gyro_lsb_per_dps)  # 30 deg/s (L1 norm of w), counts
        # thresholds in engine units, computed once
        self._still_a = int(0.03 * accel_lsb_per_g * 16 + 0.5)  # low-passed counts*16 (30 mg)
        self._still_ms = c.ms("still_time_s")
        self._tau = c.ms("fusion_tau_s")
        self._axis_min = int(c.axis_min_deg * _UDEG)
        self._d_start = int(c.descent_start_deg * _UDEG)
        self._d_rate = int(c.descent_rate_dps * 1000)
        self._min_depth = int(c.min_depth_deg * _UDEG)
        self._hold_rate = int(c.hold_rate_dps * 1000)
        self._hold_enter = c.ms("hold_enter_s")
        self._band = int(c.hold_band_deg * _UDEG)
        self._top_band = int(c.top_band_deg * _UDEG)
        self._rise_half = int(c.rise_rate_dps * 500)  # mdps
        self._reset_ms = c.ms("reset_s")
        self._fast_mean_lim = int(c.fast_descent_dps * 1000)
        self._fast_peak = int(c.fast_descent_peak_dps * 1000)
        self._snap_peak = int(c.snap_up_peak_dps * 1000)
        self._roll_lim = int(c.roll_out_deg * 1000)  # mdeg
        self._roll_ms = c.ms("roll_out_time_s")
        self._twist = int(c.twist_deg * _UDEG)
        self._max_rate = int(c.max_rate_dps * 1000)
        self._max_rate_c = int(c.max_rate_dps * gyro_lsb_per_dps)
        self._hold_target_ms = c.ms("hold_target_s")
        # upper accelerometer gate on |a|^2 in (counts/4)^2 (the walking
        # impact check); the gates themselves live in the state array
        self._g2hi = 1 << 30
        self._q = []
        self.rep = 0
        self.side = c.side
        self._rsign = 1 if c.side == "left" else -1
        self.t_ms = 0
        self._bl_sums = {"left": [0, 0, 0, 0, 0, 0], "right": [0, 0, 0, 0, 0, 0]}
        self._k1024 = {"left": _PRIOR_K1024, "right": _PRIOR_K1024}
        self._c_md = {"left": 0, "right": 0}
        # per-side totals (a long session must not grow the heap rep by rep):
        # reps, hold ms, bounces, then the five flag counts; depths in 0.01 deg
        # for the median, the last _DEPTHS reps per side
        self._tot = {"left": [0] * 8, "right": [0] * 8}
        self._depths = {"left": array.array("h", [0] * _DEPTHS), "right": array.array("h", [0] * _DEPTHS)}
        self.calibrated = False
        self.axis_known = False
        self._longest_still = 0
        self._u = (0.0, 0.0, 1.0)
        self._f = (1.0, 0.0, 0.0)
        self._B16 = [0, 0, 0]  # gyro bias, counts * 16 (slow tracking)
        self._still_since = None
        self._retared = False
        self._await_ready = False
        self._ready_since = None
        self._t_cand = None
        self._t_last_top = 0
        self._thf = 0
        self._wf = 0
        self._t_walk = None
        self._cal_reset(0)
        self._ax_reset(0)
        self._reset_rep()

    # ---------------------------------------------------------------- API
    @property
    def state(self):
        return self._s[_STATE]

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
        if self._s[_STATE] >= S_DESC:
            self._cancel("side switched")
        self.side = side
        self._rsign = 1 if side == "left" else -1
        self._emit("side", t, side=side)
        # the sensor moves to the other foot: learn level and axis again
        self.recalibrate(t)
        return len(self._q)

    def recalibrate(self, t_ms=None):
        """Forget level and axis: a new still start and first drop follow."""
        s = self._s
        if s[_STATE] >= S_DESC:
            self._cancel("recalibrating")
        s[_STATE] = S_CAL
        s[_TRACK] = 0
        self.axis_known = False
        self._cal_reset(self.t_ms if t_ms is None else t_ms)
        self._still_since = None

    def phase(self):
        return PHASES[self._s[_STATE]]

    def depth_deg(self):
        return self._s[_TH] / _UDEG

    def ms_to_tick(self):
        """Sample time (ms) until the slow tick, where the engine decides and
        emits its events (a bounce is cued at once): a reader of the
        sensor's FIFO that hands over the tick's sample right away cues
        without delay."""
        s = self._s
        return s[_SLOW] - s[_ACC]

    def hold_ms(self):
        if self._s[_STATE] == S_HOLD:
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
        for sd in ("left", "right"):
            tot = self._tot[sd]
            n = tot[0]
            d = {"reps": n}
            if n:
                m = n if n < _DEPTHS else _DEPTHS
                depths = sorted(self._depths[sd][:m])
                med = depths[m // 2] if m % 2 else (depths[m // 2 - 1] + depths[m // 2]) / 2
                d["median_depth_deg"] = r2(med / 100)
                d["hold_s"] = r2(tot[1] / 1000)
                i = 3
                for flag in _FLAGS:
                    d[flag] = tot[i]
                    i += 1
                d["bounces"] = tot[2]
            sides[sd] = d
        note = ""
        if not self.calibrated:
            note = "calibration could not complete: no still start"
        elif not self.axis_known:
            note = "calibrated level, but no slow heel drop of %.0f deg to learn the foot axis" % (self._axis_min / _UDEG)
        ev = {"type": "summary", "t_ms": self.t_ms, "rep": 0, "reps": self.rep, "side": self.side,
              "sides": sides, "calibrated": self.calibrated, "note": note}
        s = self._s
        if s[_BAD] or s[_OOO] or s[_GAPS]:
            ev["bad_samples"] = s[_BAD]
            ev["out_of_order"] = s[_OOO]
            ev["gaps"] = s[_GAPS]
        return ev

    # ------------------------------------------------------------ step
    @micropython.viper
    def feed(self, tsb, cb, i: int, n: int) -> int:
        # step() over samples i .. n-1 of a FIFO read: ticks tsb (array('i'))
        # and counts cb (array('h'), ax ay az gx gy gz a sample). Returns what
        # the last step() returned. The loop is machine code: ~1 us a sample
        # less than the same loop interpreted. If step() raises, fed() is
        # the index of the sample it raised on.
        ts = ptr32(tsb)
        c = ptr16(cb)
        fed = ptr32(self._fed)
        st = _STEP  # the plain function: a bound method with 7 arguments copies them to the heap each call
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
            q = int(st(self, int(ts[i]), ax, ay, az, gx, gy, gz))
            i += 1
            j += 6
        return q

    def fed(self):
        """After feed() raised: the index of the sample it raised on."""
        return self._fed[0]

    @micropython.viper
    def step(self, t: int, ax: int, ay: int, az: int, gx: int, gy: int, gz: int) -> int:
        # Feed one sample (integer counts in sensor axes, t in ms ticks);
        # returns the number of events queued (take them with pop_event).
        # Every sample runs this viper code, no heap objects; every 100 ms
        # (or at once for a bounce) it calls the slow tick.
        # ptr32 loads are zero-extended on a 64-bit port and signed words on
        # a 32-bit board (and on CPython, where ptr32 is the array itself):
        # "if v >> 31 > 0: v -= k32" sign-extends on the former; on the
        # others v >> 31 is 0 or -1 and nothing happens (no shift by 32,
        # no constant beyond 30 bits for the compiler).
        s = ptr32(self._s)
        k32 = 65536
        k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
        lim = s[_LIM]
        if (ax <= -lim or ax >= lim or ay <= -lim or ay >= lim or az <= -lim or az >= lim
                or gx <= -lim or gx >= lim or gy <= -lim or gy >= lim or gz <= -lim or gz >= lim):
            s[_BAD] += 1
            return s[_NQ]
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
                s[_OOO] += 1
                return s[_NQ]
        s[_TLAST] = t
        if dt > _GAP_MS:
            s[_GAPS] += 1
            s[_RESTART] = 1
            dt = 0
        k = dt if dt < 64 else 64  # one-pole low-passes, tau 64 ms
        v = s[_ALX]
        if v >> 31 > 0:
            v -= k32
        s[_ALX] = v + (((ax << 4) - v) * k >> 6)
        v = s[_ALY]
        if v >> 31 > 0:
            v -= k32
        s[_ALY] = v + (((ay << 4) - v) * k >> 6)
        v = s[_ALZ]
        if v >> 31 > 0:
            v -= k32
        s[_ALZ] = v + (((az << 4) - v) * k >> 6)
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
        sc = s[_STILLC]
        lx = (lx >> 4) - bx
        ly = (ly >> 4) - by
        lz = (lz >> 4) - bz
        if lx <= -sc or lx >= sc or ly <= -sc or ly >= sc or lz <= -sc or lz >= sc:
            s[_STILL] = 0
        # largest low-passed rotation rate (L1, counts) since the last tick:
        # turning and stepping pass, tremor and shake (4-9 Hz) are damped
        # ("0 - v", not "-v": viper clobbers v with "-v" in a conditional expression)
        w1 = (lx if lx > 0 else 0 - lx) + (ly if ly > 0 else 0 - ly) + (lz if lz > 0 else 0 - lz)
        if w1 > s[_WMAX]:
            s[_WMAX] = w1
        w1 = (wx if wx > 0 else 0 - wx) + (wy if wy > 0 else 0 - wy) + (wz if wz > 0 else 0 - wz)
        if w1 > s[_WRAW]:
            s[_WRAW] = w1
        st = s[_STATE]
        if st == S_AXIS:
            v = s[_RX]
            if v >> 31 > 0:
                v -= k32
            v += wx * dt >> 4
            if -_CLAMP < v < _CLAMP:
                s[_RX] = v
            v = s[_RY]
            if v >> 31 > 0:
                v -= k32
            v += wy * dt >> 4
            if -_CLAMP < v < _CLAMP:
                s[_RY] = v
            v = s[_RZ]
            if v >> 31 > 0:
                v -= k32
            v += wz * dt >> 4
            if -_CLAMP < v < _CLAMP:
                s[_RZ] = v
        elif st >= S_TOP:
            a = s[_RPX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RPY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RPZ]
            if c >> 31 > 0:
                c -= k32
            wp = (wx * a + wy * b + wz * c) >> 10  # mdps
            a = s[_RFX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RFY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RFZ]
            if c >> 31 > 0:
                c -= k32
            wr = (wx * a + wy * b + wz * c) >> 10
            a = s[_RUX]
            if a >> 31 > 0:
                a -= k32
            b = s[_RUY]
            if b >> 31 > 0:
                b -= k32
            c = s[_RUZ]
            if c >> 31 > 0:
                c -= k32
            wu = (wx * a + wy * b + wz * c) >> 10
            s[_WP] = wp
            th = s[_TH]
            if th >> 31 > 0:
                th -= k32
            th += wp * dt  # mdps * ms = udeg
            if th > _CLAMP:
                th = _CLAMP
            elif th < -_CLAMP:
                th = -_CLAMP
            s[_TH] = th
            # 2nd-order low-pass of theta (2 Hz, critically damped): what the
            # slow state decisions see; ankle tremor and fatigue shake (4-9 Hz)
            # are cut by 10x or more. x'' = w^2 (th - x) - 2 w x'
            xf = s[_XF]
            if xf >> 31 > 0:
                xf -= k32
            vf = s[_VF]
            if vf >> 31 > 0:
                vf -= k32
            kd = dt if dt < 40 else 40
            vf += ((th // 1000 - xf) * 158 - ((vf * 402) >> 4)) * kd // 1000
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
                vb += ((th // 1000 - (xb >> 4)) * 632 - ((vb * 804) >> 4)) * kb // 1000
                xb += (vb * kb << 4) // 1000
                nb -= 1
            s[_XB] = xb
            s[_VB] = vb
            thb = xb * 1000 >> 4
            v = s[_PH]
            if v >> 31 > 0:
                v -= k32
            v += wr * dt
            if -_CLAMP < v < _CLAMP:
                s[_PH] = v
            v = s[_PS]
            if v >> 31 > 0:
                v -= k32
            v += wu * dt
            if -_CLAMP < v < _CLAMP:
                s[_PS] = v
            k = dt if dt < 53 else 53  # 3 Hz low-pass of the pitch rate
            wl = s[_WL]
            if wl >> 31 > 0:
                wl -= k32
            wl += (wp - wl) * k // 53
            s[_WL] = wl
            v = s[_WLMAX]
            if v >> 31 > 0:
                v -= k32
            if wl > v:
                s[_WLMAX] = wl
            v = s[_WLMIN]
            if v >> 31 > 0:
                v -= k32
            if wl < v:
                s[_WLMIN] = wl
            v = s[_PEAK]
            if v >> 31 > 0:
                v -= k32
            if th > v:
                s[_PEAK] = th
                s[_TPEAK] = t
            v = s[_THMIN]
            if v >> 31 > 0:
                v -= k32
            if th < v:
                s[_THMIN] = th
                s[_TTHMIN] = t
            if st == S_DESC or st == S_HOLD:
                # Bounce tracker, every sample, on the 4 Hz view: a bounce
                # is a rebound of at least BLIM from the deep point that takes 160-700 ms to its
                # top (1-3 Hz) and comes straight back down (within 600 ms).
                # Fatigue shake (5-8 Hz) is quicker; a roll-out or a strap
                # slip comes back much later; a rise never comes back.
                bmax = s[_BMAX]
                if bmax >> 31 > 0:
                    bmax -= k32
                if thb >= bmax - 500000:
                    s[_BNEART] = t
                if s[_BMODE] == 0:
                    if thb >= bmax:
                        s[_BMAX] = thb
                        s[_BMAXT] = t
                        s[_BNEART] = t
                    else:
                        pk = s[_PEAK]
                        if pk >> 31 > 0:
                            pk -= k32
                        if bmax - thb >= s[_BLIM] and thb > pk - 8000000:
                            s[_BMODE] = 1
                            s[_BMIN] = thb
                            s[_BMINT] = t
                            s[_BMINW] = vb
                else:
                    bmin = s[_BMIN]
                    if bmin >> 31 > 0:
                        bmin -= k32
                    if thb < bmin:
                        bmin = thb
                        s[_BMIN] = thb
                        s[_BMINT] = t
                    bw = s[_BMINW]
                    if bw >> 31 > 0:
                        bw -= k32
                    if vb < bw:
                        bw = vb
                        s[_BMINW] = vb
                    amp = bmax - bmin
                    back = amp >> 2
                    if back < 600000:
                        back = 600000
                    if thb - bmin >= back:
                        up_ms = int(ticks_diff(s[_BMINT], s[_BMAXT]))
                        if (0 - bw >= s[_BRATE] and up_ms >= 160 and up_ms <= 700
                                and int(ticks_diff(t, s[_BMINT])) <= 600):
                            s[_BCNT] += 1
                            s[_BAMP] = amp
                            s[_BUP] = up_ms
                            s[_RESTART] |= 2  # tick now: the bounce cue is due
                        s[_BMODE] = 0
                        s[_BMAX] = thb
                        s[_BMAXT] = t
            # level crossings of whole degrees, for the tempo fits
            kk = th // 1000000 + _OFF
            if kk < 0:
                kk = 0
            elif kk >= _NK:
                kk = _NK - 1
            pk = s[_PREVK]
            tr = s[_TRACK]
            if kk > pk:
                if tr == 1:
                    up = ptr32(self._tc_up)
                    j = pk + 1
                    while j <= kk:
                        up[j] = t
                        j += 1
            elif kk < pk:
                dn = ptr32(self._tc_dn)
                j = kk + 1
                while j <= pk:
                    dn[j] = t
                    j += 1
            if tr == 2:
                nk = s[_NEXTK]
                if nk <= kk:
                    up = ptr32(self._tc_up)
                    while nk <= kk:
                        up[nk] = t
                        nk += 1
                    s[_NEXTK] = nk
            s[_PREVK] = kk
        s[_ACC] += dt
        if s[_ACC] >= s[_SLOW] or (s[_RESTART] & 2):
            self._slow(t)
        return s[_NQ]

    # --------------------------------------------------------- internals
    def _emit(self, typ, t, **fields):
        fields["type"] = typ
        fields["t_ms"] = t
        if "rep" not in fields:
            fields["rep"] = self.rep if self._s[_STATE] >= S_DESC else 0
        self._q.append(fields)
        self._s[_NQ] = len(self._q)

    @micropython.native
    def _slow(self, t):
        self.t_ms = t
        s = self._s
        s[_RESTART] &= 1  # the tick-now request is served
        acc = s[_ACC]
        s[_ACC] = 0
        still = s[_STILL]
        s[_STILL] = 1
        wmax = s[_WMAX]
        s[_WMAX] = 0
        wraw = s[_WRAW]
        s[_WRAW] = 0
        st = s[_STATE]
        if st == S_CAL:
            self._step_cal(t, acc)
            return
        if st == S_AXIS:
            self._step_axis(t, acc, still, wraw, wmax)
            return
        self._correct(acc, wmax)
        wlmax = s[_WLMAX]
        wlmin = s[_WLMIN]
        s[_WLMAX] = s[_WL]
        s[_WLMIN] = s[_WL]
        if st == S_TOP:
            self._step_top(t, acc, still)
        else:
            self._step_rep(t, wlmax, wlmin, wraw)

    def _accel(self):
        s = self._s
        return s[_ALX] >> 4, s[_ALY] >> 4, s[_ALZ] >> 4

    @micropython.viper
    def _correct(self, acc: int, wmax: int) -> int:
        # Complementary filter: pull theta and phi towards the accelerometer's
        # pose, with gain acc/tau, unless the foot is accelerating or turning
        # fast (low-passed |w| > 30 deg/s since the last tick, DOMAIN 3.3):
        # turning about the forefoot, the heel's centripetal acceleration
        # would read as pitch. Integers only: bit-identical on every port.
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
        s[_RESTART] = 0
        if r & 1:
            th = int(_atan2_u(x, z))
            s[_TH] = th
            s[_PH] = int(_atan2_u(y, int(_isqrt((x >> 2) * (x >> 2) + (z >> 2) * (z >> 2))) << 2))
            s[_WL] = 0
            s[_XF] = th // 1000
            s[_VF] = 0
            s[_XB] = (th << 4) // 1000
            s[_VB] = 0
            return 0
        a2 = (ax >> 2) * (ax >> 2) + (ay >> 2) * (ay >> 2) + (az >> 2) * (az >> 2)
        if s[_G2LO] < a2 < s[_G2HI] and wmax < s[_GATE]:
            k = acc * 256 // s[_TAU]  # gain, Q8
            th = s[_TH]
            if th >> 31 > 0:
                th -= k32
            d = int(_atan2_u(x, z)) - th
            if d > 16777216:
                d = 16777216
            elif d < -16777216:
                d = -16777216
            s[_TH] = th + ((d * k) >> 8)
            ph = s[_PH]
            if ph >> 31 > 0:
                ph -= k32
            d = int(_atan2_u(y, int(_isqrt((x >> 2) * (x >> 2) + (z >> 2) * (z >> 2))) << 2)) - ph
            if d > 16777216:
                d = 16777216
            elif d < -16777216:
                d = -16777216
            s[_PH] = ph + ((d * k) >> 8)
        return 0

    # ------------------------------------------------------ calibration
    def _cal_reset(self, t):
        self._cs_n = 0
        self._cs_t0 = t
        self._cs = [0, 0, 0, 0, 0, 0]

    @micropython.native
    def _step_cal(self, t, acc):
        # a still spell: low-passed gyro and accel stay near the spell's mean
        s = self._s
        v = (s[_ALX], s[_ALY], s[_ALZ], s[_GLX], s[_GLY], s[_GLZ])
        cs = self._cs
        n = self._cs_n
        if n:
            sc = s[_STILLC] * 16 * n
            sa = self._still_a * n
            for i in range(6):
                lim = sa if i < 3 else sc
                if abs(v[i] * n - cs[i]) > lim:
                    self._cal_reset(t)
                    cs = self._cs
                    n = 0
                    break
        if n == 0:
            # the spell covers the samples since the previous tick
            self._cs_t0 = ticks_add(t, -acc)
        for i in range(6):
            cs[i] += v[i]
        n += 1
        self._cs_n = n
        span = ticks_diff(t, self._cs_t0)
        if span > self._longest_still:
            self._longest_still = span
        if span >= self._still_ms and n >= 10:
            self._calibrate_level(t, cs, n)

    def _calibrate_level(self, t, cs, n):
        u = _norm3(cs[0], cs[1], cs[2])
        if u is None:
            self._cal_reset(t)
            return
        s = self._s
        self._B16 = [cs[3] // n, cs[4] // n, cs[5] // n]
        self._set_bias()
        gn = math.sqrt(cs[0] * cs[0] + cs[1] * cs[1] + cs[2] * cs[2]) / n / 16  # counts
        gate = self.cfg.accel_gate_g * self.alsb
        lo = (gn - gate) / 4
        hi = (gn + gate) / 4
        self._g2hi = int(hi * hi)
        s[_G2LO] = int(lo * lo) if lo > 0 else 0
        s[_G2HI] = self._g2hi
        self._u = u
        # tilt of the board from its nearest axis, for the user
        m = max(abs(u[0]), abs(u[1]), abs(u[2]))
        tilt = math.degrees(math.acos(min(1.0, m)))
        self.calibrated = True
        s[_STATE] = S_AXIS
        self._ax_reset(t)
        g = 16 * n * self.glsb
        self._emit("calibrated", t, rep=0, stage="level", level_tilt_deg=r2(tilt),
                   axis=[r2(u[0]), r2(u[1]), r2(u[2])], axis_source="up",
                   bias_dps=[r2(cs[3] / g), r2(cs[4] / g), r2(cs[5] / g)])

    def _set_bias(self):
        B = self._B16
        s = self._s
        s[_BX] = (B[0] + 8) >> 4
        s[_BY] = (B[1] + 8) >> 4
        s[_BZ] = (B[2] + 8) >> 4

    @micropython.native
    def _track_bias(self, acc):
        # slow gyro bias tracking while still (tau 8 s), from the low-passed gyro
        s = self._s
        B = self._B16
        k = acc if acc < 100 else 100
        B[0] += (s[_GLX] - B[0]) * k // 8000
        B[1] += (s[_GLY] - B[1]) * k // 8000
        B[2] += (s[_GLZ] - B[2]) * k // 8000
        self._set_bias()

    # ------------------------------------------------ learning the axis
    def _ax_reset(self, t):
        s = self._s
        self._ax_on = False  # a candidate drop is under way
        self._ax_t0 = t
        s[_RX] = 0
        s[_RY] = 0
        s[_RZ] = 0
        self._ax_peak = 0
        self._ax_settle = None
        self._ax_bad = False
        self._ax_last_level = t

    def _tilt(self):
        # tilt of the low-passed accel from u (udeg), and its direction
        x, y, z = self._accel()
        u = self._u
        up = x * u[0] + y * u[1] + z * u[2]
        px = x - up * u[0]
        py = y - up * u[1]
        pz = z - up * u[2]
        perp = math.sqrt(px * px + py * py + pz * pz)
        return int(math.atan2(perp, up) * _R2U), (px, py, pz)

    @micropython.native
    def _step_axis(self, t, acc, still, wraw, wlow):
        # wraw: raw rotation rate (walking is violent); wlow: low-passed (rest)
        s = self._s
        tilt, perp = self._tilt()
        w_mdps = int(wraw * self._mdps)
        w_rest = int(wlow * self._mdps)
        ax, ay, az = self._accel()
        a2 = (ax >> 2) * (ax >> 2) + (ay >> 2) * (ay >> 2) + (az >> 2) * (az >> 2)
        impact = a2 > self._g2hi * 4  # more than ~2 g
        if not self._ax_on:
            if tilt < self._d_start // 2:
                self._ax_last_level = t
                s[_RX] = 0
                s[_RY] = 0
                s[_RZ] = 0
                if still:
                    self._track_bias(acc)
                    self._retare_level(t)
                else:
                    self._still_since = None
            if tilt > self._d_start and not self._ax_bad:
                self._ax_on = True
                self._ax_t0 = self._ax_last_level
                self._ax_peak = tilt
                self._ax_settle = None
            elif self._ax_bad and tilt < self._d_start // 2 and still:
                self._ax_bad = False
            return
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
        if w_rest < self._hold_rate * 2:
            if self._ax_settle is None:
                self._ax_settle = t
        else:
            self._ax_settle = None
        # The drop that teaches the axis must come to rest at its tilted pose
        # (a hold): walking, stepping and weight shifts never do.
        settled = self._ax_settle is not None and ticks_diff(t, self._ax_settle) >= 300
        if self._ax_peak >= self._axis_min and tilt >= self._axis_min and settled:
            self._learn_axis(t, perp, tilt)

    def _learn_axis(self, t, perp, tilt):
        s = self._s
        u = self._u
        f = _norm3(perp[0], perp[1], perp[2])
        if f is None:
            return
        p = _cross(f, u)
        # the gyro must agree: a rotation about p of about the tilt seen
        k = 16 * self._mdps / 1e6  # (counts*ms/16) -> deg
        rot = (s[_RX] * p[0] + s[_RY] * p[1] + s[_RZ] * p[2]) * k
        rn = math.sqrt(s[_RX] * s[_RX] + s[_RY] * s[_RY] + s[_RZ] * s[_RZ]) * k
        tilt_deg = tilt / _UDEG
        if rot < 0.5 * tilt_deg or rn > 2.0 * tilt_deg + 5:
            # inconsistent rotation: not a single-axis drop; wait for another
            self._ax_on = False
            self._ax_bad = True
            return
        self._set_frame(u, f)
        self.axis_known = True
        self._emit("calibrated", t, rep=0, stage="axis", level_tilt_deg=r2(tilt_deg),
                   axis=[r2(p[0]), r2(p[1]), r2(p[2])], axis_source="descent")
        # start the fusion from the accelerometer and enter the first rep
        s[_RESTART] = 1
        self._correct(0, 0)
        s[_STATE] = S_TOP
        self._start_rep(t, self._ax_t0)
        s[_PEAK] = s[_TH]
        s[_TPEAK] = t

    def _set_frame(self, u, f):
        # u: level up, f: forward (both unit float 3-tuples, f perpendicular to u)
        p = _cross(f, u)
        self._u = u
        self._f = f
        s = self._s
        for i in range(3):
            s[_FX + i] = int(f[i] * _AX_ONE)
            s[_UX + i] = int(u[i] * _AX_ONE)
            s[_PX + i] = int(p[i] * _AX_ONE)
        k = self._mdps * 1024
        s[_RPX] = int(p[0] * k)
        s[_RPY] = int(p[1] * k)
        s[_RPZ] = int(p[2] * k)
        s[_RFX] = int(-f[0] * k)  # roll rate = -w.f
        s[_RFY] = int(-f[1] * k)
        s[_RFZ] = int(-f[2] * k)
        s[_RUX] = int(u[0] * k)
        s[_RUY] = int(u[1] * k)
        s[_RUZ] = int(u[2] * k)

    def _retare_level(self, t):
        # Re-take the level pose after 1.5 s of rest near level (strap slip).
        if self._still_since is None:
            self._still_since = t
            self._retared = False
            return
        if self._retared or ticks_diff(t, self._still_since) < 1500:
            return
        self._retared = True
        x, y, z = self._accel()
        u = _norm3(x, y, z)
        if u is None:
            return
        self._u = u
        if self.axis_known:
            f = self._f
            d = _dot(f, u)
            f = _norm3(f[0] - d * u[0], f[1] - d * u[1], f[2] - d * u[2])
            if f is not None:
                self._set_frame(u, f)
                self._s[_RESTART] = 1

    # ------------------------------------------------------------- top
    @micropython.native
    def _step_top(self, t, acc, still):
        s = self._s
        th = s[_XF] * 1000
        wl = s[_VF]
        if th < self._top_band:
            self._t_last_top = t
        if s[_THMIN] < -_WALK_UDEG:
            self._t_walk = t
            s[_THMIN] = s[_TH]
        # at rest near level: track the gyro bias; re-take the level (a strap
        # slip of up to 5 deg moves it)
        if -2 * self._top_band < th < 2 * self._top_band and still and -self._hold_rate < wl < self._hold_rate:
            self._track_bias(acc)
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
        # descent start: deeper than the start threshold and moving down for
        # 0.2 s (low-passed), or a fast drop already well under way (raw)
        if self._t_walk is not None and ticks_diff(t, self._t_walk) < _WALK_MS:
            self._t_cand = None
            return
        if th > self._d_start and wl > self._d_rate:
            if self._t_cand is None:
                self._t_cand = t
            elif ticks_diff(t, self._t_cand) >= 200:
                self._start_rep(t, self._t_last_top)
                return
        else:
            self._t_cand = None
        if s[_TH] > self._d_start + 2 * _UDEG and s[_WL] > self._fast_mean_lim // 2:
            self._start_rep(t, self._t_last_top)

    def _reset_rep(self):
        s = self._s
        s[_PEAK] = s[_TH]
        s[_TPEAK] = self.t_ms
        s[_THMIN] = s[_TH]
        s[_TTHMIN] = self.t_ms
        s[_TRACK] = 1  # at the top: last upward crossings
        self._t_onset = self.t_ms
        self._peak_w = 0  # max downward low-passed rate
        self._peak_up = 0  # max upward low-passed rate (positive)
        self._k_first = 0
        self._settle = None
        self._t_dend = self.t_ms
        self._hold_ticks = 0
        self._hold_ref = 0
        self._hold_in = 0
        self._depth_settled = None
        self._hold_target_sent = False
        s[_BMODE] = 0
        s[_BMAX] = s[_TH]
        s[_BMAXT] = self.t_ms
        s[_BNEART] = self.t_ms
        s[_BMIN] = 0
        s[_BMINT] = 0
        s[_BMINW] = 0
        s[_BCNT] = 0
        self._bounces = 0
        self._fast = False
        self._rise_settle = None
        self._past_bottom = False
        self._fast_mean = 0.0
        self._snap = False
        self._roll_out = False
        self._roll_since = None
        self._max_roll = -(1 << 30)
        self._twisted = False
        self._bl = [0, 0, 0, 0, 0, 0]  # this rep's roll-pitch sums
        self._psi0 = s[_PS]

    def _start_rep(self, t, onset):
        s = self._s
        self._reset_rep()
        self.rep += 1
        s[_STATE] = S_DESC
        s[_TRACK] = 2  # first upward crossings from here on
        self._await_ready = False
        self._t_onset = onset
        k = s[_TH] // _UDEG + _OFF + 1
        if k < 0:
            k = 0
        elif k > _NK:
            k = _NK
        s[_NEXTK] = k
        # levels already passed were crossed while at the top (or are unknown)
        tcu = self._tc_up
        j = k - 1
        while j >= 0 and ticks_diff(tcu[j], onset) >= 0:
            j -= 1
        self._k_first = j + 1
        self._emit("rep_start", t, onset_ms=onset)

    def _cancel(self, reason):
        self._emit("rep_cancel", self.t_ms, reason=reason)
        self.rep -= 1
        self._s[_STATE] = S_TOP
        self._reset_rep()
        self._t_cand = None
        self._await_ready = True
        self._ready_since = None

    # ------------------------------------------------------------ reps
    @micropython.native
    def _step_rep(self, t, wlmax, wlmin, wmax):
        s = self._s
        th = s[_TH]
        wl = s[_WL]
        self._thf = s[_XF] * 1000
        self._wf = s[_VF]
        st = s[_STATE]
        if wlmax > self._max_rate or wlmin < -self._max_rate or wmax > self._max_rate_c * 2:
            self._cancel("too violent for a heel drop")
            return
        # walking: push-off lifts the heel 35-55 deg above level (a raised
        # top is at most 25); turning away swings the yaw
        dpsi = s[_PS] - self._psi0
        if s[_TH] < -_WALK_UDEG or dpsi > 60 * _UDEG or dpsi < -60 * _UDEG:
            self._cancel("walking or turning: not a heel drop")
            return
        self._check_roll_twist(t, th)
        if st == S_DESC:
            self._step_desc(t, th, wl, wlmax)
        elif st == S_HOLD:
            self._step_hold(t, th, wl)
        else:
            self._step_rise(t, th, wl, wlmin)

    @micropython.native
    def _check_roll_twist(self, t, th):
        s = self._s
        side = self.side
        ro = self._rsign * s[_PH] // 1000  # mdeg, + = inversion
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
        # baseline sums (0.1 deg units)
        a = th // 100000
        b = ro // 100
        bl = self._bl
        bl[0] += 1
        bl[1] += a
        bl[2] += b
        bl[3] += a * a
        bl[4] += a * b
        dpsi = s[_PS] - self._psi0
        if not self._twisted and (dpsi > self._twist or dpsi < -self._twist):
            self._twisted = True
            self._emit("twist", t, yaw_deg=r2(dpsi / _UDEG))

    @micropython.native
    def _bounce_sync(self, t):
        # emit the bounces the core counted; 1 while a rebound is under way
        s = self._s
        n = s[_BCNT]
        while self._bounces < n:
            self._bounces += 1
            # undo the 4 Hz filter's gain at the rebound's frequency
            f = 500.0 / max(1, s[_BUP])
            self._emit("bounce", t, amplitude_deg=r2(s[_BAMP] / _UDEG * (1.0 + (f / 4.0) ** 2)))
        return s[_BMODE]

    @micropython.native
    def _step_desc(self, t, th, wl, wlmax):
        s = self._s
        peak = s[_PEAK]
        # the descent is over once the heel has come back 1 deg from its deepest
        if th < peak - _UDEG:
            self._past_bottom = True
        if wlmax > self._peak_w and not self._past_bottom:
            self._peak_w = wlmax
        # too fast: peak rate, or mean rate since the start threshold once deep
        # enough; judged on the way down only, before any rebound at the bottom
        if not self._fast and not self._past_bottom and th + 2 * _UDEG > peak:
            fast = wlmax > self._fast_peak
            if not fast and th >= self._min_depth and th + _UDEG > peak:
                el = ticks_diff(t, self._tc_up_at(self._d_start))
                if el > 0:
                    fast = (th - self._d_start) // el > self._fast_mean_lim
            if fast:
                self._fast = True
                self._emit("descent_too_fast", t, speed_dps=r2(max(wlmax, 0) / 1000))
        reb = self._bounce_sync(t)
        # settled at the bottom: hold
        wf = self._wf
        if -self._hold_rate < wf < self._hold_rate and self._thf >= peak - peak // 5:
            if self._settle is None:
                self._settle = t
            elif ticks_diff(t, self._settle) >= self._hold_enter and peak >= self._min_depth:
                self._enter_hold(t, th)
                return
        else:
            self._settle = None
        # rising without a hold
        if reb and self._rising(t, th):
            if peak < self._min_depth:
                self._cancel("too shallow")
                return
            self._t_dend = self._desc_end(t)
            self._enter_rise(t)
            return
        if peak < self._min_depth and self._thf < self._top_band and wf < 0:
            self._cancel("too shallow")

    @micropython.native
    def _tc_up_at(self, level):
        k = level // _UDEG + _OFF + 1
        if self._k_first <= k < self._s[_NEXTK]:
            return self._tc_up[k]
        return self._t_onset

    @micropython.native
    def _rising(self, t, th):
        # A rise reaches the top; a rebound (bounce), a strap slip or a roll
        # transient turns back. Confirm once the heel is within 30 % of the
        # depth from the top, or still going up after 1 s.
        if self._s[_BMAX] - th < self._band:
            return False
        if th <= self._top_band or th <= (self._s[_PEAK] * 3) // 10:
            return True
        # still moving up 1 s after leaving the bottom: a rise, not a rebound,
        # a slip or a roll transient
        return ticks_diff(t, self._s[_BNEART]) >= 1000 and self._wf < -self._rise_half

    def _desc_end(self, t):
        # end of the descent from a minimum-jerk fit of the crossing times
        fit = self._fit_up()
        if fit is None:
            return self._s[_TPEAK] if self._settle is None else self._settle
        self._t_onset = fit[0]
        return fit[1]

    def _fit_up(self):
        P = self._s[_PEAK] / _UDEG
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
        if k2 <= k1 or i2 >= self._s[_NEXTK] or k1 < 1:
            return None
        t1 = self._tc_up[i1]
        t2 = self._tc_up[i2]
        s1 = _mj_inv(k1 / P)
        s2 = _mj_inv(k2 / P)
        d = ticks_diff(t2, t1)
        if d <= 0 or s2 <= s1:
            return None
        T = d / (s2 - s1)
        self._fast_mean = (k2 - k1) * 1000.0 / d  # deg/s over ~10-90 %
        return ticks_add(t1, -int(s1 * T + 0.5)), ticks_add(t2, int((1.0 - s2) * T + 0.5))

    def _enter_hold(self, t, th):
        s = self._s
        self._t_dend = self._desc_end(t)
        if ticks_diff(self._t_dend, t) > 0:
            self._t_dend = t
        s[_STATE] = S_HOLD
        s[_TRACK] = 0
        self._hold_ref = s[_PEAK]
        self._hold_in = t
        self._emit("hold_start", t, depth_deg=r2(th / _UDEG))
        self._hold_tick(t)

    @micropython.native
    def _hold_tick(self, t):
        el = ticks_diff(t, self._t_dend)
        while (self._hold_ticks + 1) * 1000 <= el:
            self._hold_ticks += 1
            self._emit("hold_tick", t, hold_s=self._hold_ticks)
        if not self._hold_target_sent and el >= self._hold_target_ms:
            self._hold_target_sent = True
            self._emit("hold_target", t, hold_s=r2(el / 1000))

    @micropython.native
    def _step_hold(self, t, th, wl):
        if th > self._hold_ref:
            self._hold_ref = th
        # depth from the settled hold, once the accelerometer correction has
        # pulled out the gyro's scale error of the descent (a few tau)
        if ticks_diff(t, self._hold_in) >= 2 * self._tau and -self._hold_rate < self._wf < self._hold_rate:
            if self._depth_settled is None or th > self._depth_settled:
                self._depth_settled = th
        reb = self._bounce_sync(t)
        if reb and self._rising(t, th):
            self._enter_rise(t)
            return
        if not reb:
            self._hold_tick(t)

    def _enter_rise(self, t):
        s = self._s
        # the rise began as a rebound: its fastest upward rate counts
        if -s[_BMINW] > self._peak_up:
            self._peak_up = -s[_BMINW]
        s[_STATE] = S_RISE
        s[_TRACK] = 0
        s[_THMIN] = s[_TH]
        s[_TTHMIN] = t
        self._emit("rise_start", t, hold_s=r2(max(0, ticks_diff(s[_BMAXT], self._t_dend)) / 1000))
        if not self._snap and self._peak_up > self._snap_peak:
            self._snap = True
            self._emit("snap_up", t, speed_dps=r2(self._peak_up / 1000))

    @micropython.native
    def _step_rise(self, t, th, wl, wlmin):
        s = self._s
        up = -wlmin
        if up > self._peak_up:
            self._peak_up = up
            if not self._snap and up > self._snap_peak:
                self._snap = True
                self._emit("snap_up", t, speed_dps=r2(up / 1000))
        thf = self._thf
        wf = self._wf
        if thf < self._top_band and -self._hold_rate < wf < self._hold_rate:
            self._end_rep(t, t)
            return
        # settled near the top, which a strap slip may have moved: done too
        if -self._hold_rate < wf < self._hold_rate and thf <= (s[_PEAK] * 3) // 10:
            if self._rise_settle is None:
                self._rise_settle = t
            elif ticks_diff(t, self._rise_settle) >= 500:
                self._end_rep(t, self._rise_settle)
                return
        else:
            self._rise_settle = None
        if th < self._top_band // 2:
            self._end_rep(t, t)
            return
        # going down again before reaching the top: a new rep (continuous pumping)
        if thf - s[_THMIN] > 4 * _UDEG and wf > self._d_rate:
            onset = s[_TTHMIN]
            self._end_rep(t, onset)
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
        s = self._s
        peak = s[_PEAK]
        H = self._hold_ref if self._hold_ref else peak
        low = s[_THMIN]
        fit = self._fit_dn(H, low if low > 0 else 0)
        if fit is not None:
            r_on, r_end, r_mean = fit
        else:
            r_on, r_end, r_mean = s[_BMAXT], t_end, 0.0
        if ticks_diff(r_on, self._t_dend) < 0:
            r_on = self._t_dend
        start = self._t_onset
        d_s = max(1, ticks_diff(self._t_dend, start)) / 1000
        h_s = max(0, ticks_diff(r_on, self._t_dend)) / 1000
        r_s = max(1, ticks_diff(r_end, r_on)) / 1000
        depth = (self._depth_settled if self._depth_settled is not None else peak) / _UDEG
        rise_deg = (H - low) / _UDEG
        fmean = self._fast_mean
        fast = self._fast or fmean > self.cfg.fast_descent_dps or self._peak_w > self._fast_peak
        if fast and not self._fast:
            self._emit("descent_too_fast", t, speed_dps=r2(fmean))
        snap = self._snap or r_mean > self.cfg.snap_up_dps or self._peak_up > self._snap_peak
        if snap and not self._snap:
            self._emit("snap_up", t, speed_dps=r2(max(r_mean, self._peak_up / 1000)))
        ev = {
            "start_ms": start, "end_ms": r_end, "depth_deg": r2(depth), "hold_s": r2(h_s),
            "descent_s": r2(d_s), "rise_s": r2(r_s), "descent_speed_dps": r2(depth / d_s),
            "rise_speed_dps": r2(rise_deg / r_s), "bounces": self._bounces,
            "max_roll_deg": r2(self._max_roll / 1000), "fast_descent": fast,
            "roll_out": self._roll_out, "snap_up": snap, "twist": self._twisted,
            "no_hold": h_s < self.cfg.no_hold_s,
        }
        self._emit("rep_end", t, **ev)
        tot = self._tot[self.side]
        tot[0] += 1
        tot[1] += int(h_s * 1000 + 0.5)
        tot[2] += self._bounces
        i = 3
        for flag in _FLAGS:
            if ev[flag]:
                tot[i] += 1
            i += 1
        # a ring of the last _DEPTHS depths (tot[0] - 1 is this rep's index)
        self._depths[self.side][(tot[0] - 1) % _DEPTHS] = min(32767, max(-32768, int(depth * 100 + 0.5)))
        if not (self._roll_out or self._twisted):
            self._add_baseline()
        s[_STATE] = S_TOP
        self._reset_rep()
        self._t_cand = None
        self._await_ready = True
        self._ready_since = None
        self._t_last_top = t

    def _add_baseline(self):
        # the person's own pitch-roll coupling, fitted on clean reps per side
        side = self.side
        B = self._bl_sums[side]
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


_STEP = Engine.step  # feed() calls it as a plain function
