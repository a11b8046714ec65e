# The exercise layer of the engine: the rep state machine and its faults.
#
# The signal layer (heelcore.fusion) hands over, every sample, the foot's
# pitch theta (micro-degrees, + = heel below level) and its filtered views;
# every 100 ms tick, the slow values (2 Hz view, roll, yaw). A Reps object
# follows one hypothesis of which way is down: sign +1 takes the signal's
# pitch as it is, -1 mirrors it. Until the engine knows the sign (the first
# clear excursion gives the axis, not its direction), two run side by side
# and keep their events back; the engine then keeps one (heelcore.engine).
#
# Per sample (ex_sample, viper, no heap objects): the 3 Hz rate's extremes,
# the rep's deepest and highest points, the bounce tracker and the times of
# whole-degree level crossings (for the minimum-jerk tempo fits). Per tick
# (Reps.tick): top -> descent -> hold -> rise -> top with the faults.
#
# Every value is an integer: angles in micro-degrees (udeg), rates in
# milli-degrees per second (mdps), times in ms ticks (heelcore.ticks).

try:
    import micropython
    from micropython import const
except ImportError:  # CPython: the same code, interpreted
    from heelcore.mpcompat import const, micropython, ptr32

from heelcore.events import c2, ms_s, rdiv, udeg_c
from heelcore.imath import Q14, mj_inv, zeros
from heelcore.ticks import ticks_add, ticks_diff

# states (shared with the engine's phases)
S_TOP = const(2)
S_DESC = const(3)
S_HOLD = const(4)
_S_RISE = const(5)

# exercise state array (a slot no other module names is a _ const: the
# compiler's alone, no module global and no name string in the board's heap,
# docs/DESIGN.md RAM)
E_STATE = const(0)
E_SIGN = const(1)
_E_WLMAX = const(2)  # max / min of the 3 Hz rate since the tick, mdps
_E_WLMIN = const(3)
E_PEAK = const(4)  # deepest theta since the rep's reset, and its time
_E_TPEAK = const(5)
_E_THMIN = const(6)  # highest (least deep) theta since reset (rise)
_E_TTHMIN = const(7)
_E_TRACK = const(8)  # crossings: 0 off, 1 at the top (last up), 2 descent (first up)
_E_NEXTK = const(9)
E_PREVK = const(10)
_E_BMODE = const(11)  # bounce tracker: 0 tracking the deep point, 1 rebounding
_E_BMAX = const(12)  # deep point (udeg, 4 Hz view) and its time
_E_BMAXT = const(13)
_E_BNEART = const(14)  # last time within 0.5 deg of the deep point
_E_BMIN = const(15)  # top of the rebound and its time
_E_BMINT = const(16)
_E_BMINW = const(17)  # fastest upward rate of the rebound (mdps, < 0)
_E_BCNT = const(18)  # bounces counted in this rep
_E_BAMP = const(19)  # amplitude of the last one, udeg (4 Hz view)
_E_BUP = const(20)  # rise time of its rebound, ms
_E_BLIM = const(21)  # bounce amplitude threshold, udeg
_E_BRATE = const(22)  # bounce rate threshold, mdps
_E_BEND = const(23)  # when the last bounce came back down
_E_SWAY = const(24)  # the largest rebound (udeg) of the person's own sway, seen at rest at the top
_E_BLIM0 = const(25)  # a rebound this large is followed (a rise starts as one); a bounce needs BLIM
_E_BAMPC = const(26)  # a bounce's amplitude at least (udeg, true scale: the view's gain undone)
_E_REBEND = const(27)  # when the last rebound at the bottom (counted or not) was back down, estimated
_E_HOLDT = const(28)  # when the heel reached the bottom zone (the rep's start until then)
_E_BSTART = const(29)  # when the rebound's quick part began (the view last rose slower than BRATE / 3)
_E_BSTH = const(30)  # the 4 Hz view then (udeg)
_E_DEEP = const(31)  # the deepest 4 Hz view so far, renewed only _ARR_UDEG deeper (udeg)
_E_ARRT = const(32)  # the heel's arrival at a new depth: when _E_DEEP was renewed on the way down
_E_HIN = const(33)  # when the hold was entered
_E_BPEND = const(34)  # > 0: a rebound late in a hold, bounce-sized, waits for a second (a series): its size (ga)
_E_BPENDT = const(35)  # when it came back down
_E_BPAIR = const(36)  # 1: the last count took that waiting rebound too (counted, not cued)
_E_HSW = const(37)  # the largest rebound (ga) late in a hold that was no bounce: the person's own sway and shake there
_E_DEEPT = const(38)  # when _E_DEEP was last renewed (on the way down or not)
E_GAPT = const(39)  # the first sample after samples went missing (heelcore.fusion)
_E_N = const(40)
OFF = const(48)  # crossing tables cover -48..95 degrees
NK = const(144)
E_UP = const(40)  # tc_up: E_UP + OFF + k
E_DN = const(184)  # E_UP + NK
# the fast-roll rule's last two ticks (Reps._roll_rules): the extra roll
# two ticks back (mdeg), 1 when the last tick's step was faster than
# 45 deg/s, theta one and two ticks back (udeg)
_E_RO2 = const(328)
_E_RFAST = const(329)
_E_RTH1 = const(330)
_E_RTH2 = const(331)
# the last rep's deepest theta and the top it started from (udeg), kept
# past its end for the sign decision (heelcore.engine, Engine._down)
E_LPK = const(332)
E_LTOP = const(333)
# reps that began at level and came back to rest there (Reps._step_top;
# they confirm the frame: heelcore.engine, Engine._long_hold), and 1 while
# the last rep, begun at level, waits for its rest back at level
E_LVN = const(334)
_E_LVP = const(335)
# the pitch and roll (udeg, mdeg) at the descent's deepest tick while the
# heel still sank at the descent's pace (Reps._roll_rules): the roll that
# came with the descent, before the person's coupling is known
E_DTH = const(336)
E_DRO = const(337)
# the limit rules' hits in the descent before the coupling is known: the
# least pitch (udeg) and the most roll (mdeg) they had; _HDEF in E_HTH: a
# hit no descent's roll explains (the quick roll, or past the descent)
_E_HTH = const(338)
_E_HRO = const(339)
# the bottom's mean level (udeg, a 0.8 s time constant on the 2 Hz view)
# and since when (tick) it stayed within 1.5 deg of where it was then
# (udeg; _HNONE: not in the bottom zone): Reps._step_desc, a swaying hold
_E_SM = const(340)
_E_ST3 = const(341)
_E_ST3F = const(342)
E_SIZE = const(343)  # E_DN + NK + 15
_HNONE = const(-536870912)  # -(1 << 29): none
_HDEF = const(-536870911)

_UDEG = const(1000000)
_WALK_UDEG = const(30000000)  # heel this far above level: a walking push-off (raised tops are <= 25)
_WALK_MS = const(1500)  # no rep starts this soon after one
_ARR_UDEG = const(2000000)  # the heel arrives at a new depth when this much deeper than before
_TW_MEAN = const(8)  # ticks (0.8 s) of yaw averaged for the twist (Reps._check_roll_twist)
_BOUNCE_MS = const(6000)  # bounces come within this long of the arrival at the bottom zone
_BSERIES_MS = const(2000)  # or this soon after the last bounce (a series goes on)
_BHOLD_MS = const(5000)  # and, in a hold, this soon after it began
_QUIET_REP_MS = const(8000)  # a hold quiet this long (a top dwell is 0.5-3 s) confirms the frame
_RISE_HOLD_MS = const(2000)  # a "rise" at rest this long, still deep, was a dip in the hold
_BLIM_MAX = const(6000000)  # the sway-judged bounce threshold at most (6 deg on the 4 Hz view)
_RESTRAP_UDEG = const(4000000)  # a re-strap moves the level's pitch by up to 4 deg (heelcore.fusion)
_SINK_UDEG = const(1500000)  # deeper than this since the heel turned slow: still sinking
_REFIT_MS = const(8000)  # a hold shorter than this is checked for a descent that went on in it
_BOT_N = const(80)  # a bottom shorter than this many ticks (8 s) is judged on its mean level
_SWAY_ADD_UDEG = const(4000000)  # sway (unsupported: 1-2 deg) and a fatigue shake (0.3-1.5 deg) take the heel this far past a level at most
_TOP_SEEN_MS = const(8000)  # a top longer than this after a rep's end is a rest, no top
_TOP_OPEN = const(1 << 28)  # Reps._tmin: a rep ended, no top seen yet
_NO_TOP = const(1 << 29)  # Reps._tmin: no top to measure (never below _TOP_OPEN: not tracked)
_NOHOLD_DEPTH_MS = const(8000)  # no hold, and no deeper for this long: the depth is the mean level
_CREEP_UDEG = const(2000000)  # a bottom whose peak is this close to the valid-rep depth may creep past it
_CREEP_MS = const(20000)  # judged on its mean level for this long after it turned calm there
_REB_CALM_MS = const(3000)  # a damped bounce series dies down this soon after its last bounce
_FAST_TAIL_MS = const(600)  # a too-fast drop's peak rate comes this close to its pass of 70 % of the depth
_RO_LEAK_MS = const(1000)  # a roll-out reads on the pitch axis as a rebound this long after its cue
_RISE_END_UDEG = const(4000000)  # a rise's end is looked for up to this far short of the highest the heel came up
_RISE_RES_MS = const(200)  # ... when the fit to the highest point is off by more than this (ms, 30/50/70 % summed)
_PRE_RO_MS = const(2000)  # a roll-out this long before the rep's onset began with its descent
FLAGS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold")


@micropython.viper
def ex_sample(ea, t: int, th: int, wl: int, xb: int, vb: int) -> int:
    # One sample for one hypothesis (array ea): th udeg, wl the 3 Hz rate
    # (mdps), xb/vb the 4 Hz view (mdeg * 16, mdps), all as the signal layer
    # has them; the hypothesis' sign mirrors them. Returns 1 when a bounce
    # was just counted (its cue is due: tick now).
    e = ptr32(ea)
    k32 = 65536
    k32 <<= 16  # 2**32 on a 64-bit port; never used on a 32-bit one
    sg = e[E_SIGN]
    if sg >> 31 > 0:
        sg -= k32
    if sg < 0:
        th = 0 - th
        wl = 0 - wl
        xb = 0 - xb
        vb = 0 - vb
    thb = (xb * 125) >> 1  # mdeg * 16 -> udeg
    v = e[_E_WLMAX]
    if v >> 31 > 0:
        v -= k32
    if wl > v:
        e[_E_WLMAX] = wl
    v = e[_E_WLMIN]
    if v >> 31 > 0:
        v -= k32
    if wl < v:
        e[_E_WLMIN] = wl
    v = e[E_PEAK]
    if v >> 31 > 0:
        v -= k32
    if th > v:
        e[E_PEAK] = th
        e[_E_TPEAK] = t
    v = e[_E_THMIN]
    if v >> 31 > 0:
        v -= k32
    if th < v:
        e[_E_THMIN] = th
        e[_E_TTHMIN] = t
    req = 0
    st = e[E_STATE]
    if st == S_DESC or st == S_HOLD or st == S_TOP:
        # Bounce tracker on the 4 Hz view: a rebound of at least BLIM from
        # the deep point that takes 160-560 ms to its top (1-3 Hz) at BRATE
        # or faster, and comes straight back down (within 600 ms). Fatigue
        # shake (5-8 Hz) is quicker; a roll-out or a strap slip come back
        # later; a rise never comes back. At rest at the top the same
        # tracker measures the person's own sway (_E_SWAY: its largest
        # rebound, 0.7 Hz and up), which a bounce must exceed.
        top = st == S_TOP
        blim = 300000 if top else e[_E_BLIM0]
        bmax = e[_E_BMAX]
        if bmax >> 31 > 0:
            bmax -= k32
        if thb >= bmax - 500000:
            e[_E_BNEART] = t
        v = e[_E_DEEP]
        if v >> 31 > 0:
            v -= k32
        if thb > v + _ARR_UDEG:
            e[_E_DEEP] = thb
            e[_E_DEEPT] = t
            # (an arrival goes on from the last one while the heel is on
            # its way down; once it stayed 6 s no deeper, a deeper moment
            # is sway, creep or a fatigue shake, not a new arrival)
            if int(ticks_diff(t, e[_E_ARRT])) <= _BOUNCE_MS:
                e[_E_ARRT] = t
        if e[_E_BMODE] == 0:
            # (_E_BMINW: the fastest upward rate since the quick part began;
            # followed from blim on, the rebound is near its top, where it
            # turns slower than at its middle)
            if thb >= bmax:
                e[_E_BMAX] = thb
                e[_E_BMAXT] = t
                e[_E_BNEART] = t
                e[_E_BSTART] = t
                e[_E_BSTH] = thb
                e[_E_BMINW] = 0
            elif 3 * vb > 0 - e[_E_BRATE]:
                e[_E_BSTART] = t
                e[_E_BSTH] = thb
                e[_E_BMINW] = 0
            bw = e[_E_BMINW]
            if bw >> 31 > 0:
                bw -= k32
            if vb < bw:
                e[_E_BMINW] = vb
            if bmax - thb >= blim:
                e[_E_BMODE] = 1
                e[_E_BMIN] = thb
                e[_E_BMINT] = t
        else:
            bmin = e[_E_BMIN]
            if bmin >> 31 > 0:
                bmin -= k32
            if thb < bmin:
                bmin = thb
                e[_E_BMIN] = thb
                e[_E_BMINT] = t
            bw = e[_E_BMINW]
            if bw >> 31 > 0:
                bw -= k32
            if vb < bw:
                bw = vb
                e[_E_BMINW] = vb
            amp = bmax - bmin
            back = amp >> 3
            if back < 400000:
                back = 400000
            if thb - bmin >= back or (top and int(ticks_diff(t, e[_E_BMINT])) > 600):
                pk = e[E_PEAK]
                if pk >> 31 > 0:
                    pk -= k32
                # (at the top, from the deep point: sway is measured whole;
                # at the bottom, from where the rebound's quick part began:
                # sway or the descent's last creep before it do not count)
                up_ms = int(ticks_diff(e[_E_BMINT], e[_E_BMAXT] if top else e[_E_BSTART]))
                quick = int(ticks_diff(t, e[_E_BMINT])) <= 600
                # samples went missing while the view rose (E_GAPT): the
                # turn across the gap is a guess the accelerometer pulls
                # back over a second, which looks like a rebound (a fatigue
                # shake turns the foot at up to 75 deg/s): no bounce, no sway
                gt = int(ticks_diff(e[_E_BMINT], e[E_GAPT]))
                if gt >= 0 and gt <= up_ms:
                    pass
                elif top:
                    if up_ms >= 160 and up_ms <= 700 and quick and amp > e[_E_SWAY] and amp < 10000000:
                        e[_E_SWAY] = amp
                # (a bounce's heel comes back down as fast as it went up:
                # an eighth of the way back, a sine turns at 2/3 of its peak
                # rate; a drop and catch, or a rebound that stays up, is
                # taken back down by sway, far slower: a quarter at least)
                elif quick and up_ms >= 120 and bmax > pk - 8000000 and vb * 4 >= 0 - bw and (
                        up_ms <= 400 or (up_ms <= 560 and (st == S_TOP or int(ticks_diff(t, e[_E_HOLDT])) < 3000))):
                    win = 0
                    if (int(ticks_diff(t, e[_E_ARRT])) <= _BOUNCE_MS
                            and (st != S_HOLD or int(ticks_diff(t, e[_E_HIN])) <= _BHOLD_MS
                                 or int(ticks_diff(t, e[_E_ARRT])) <= _BHOLD_MS - 2000)) \
                            or (e[_E_BCNT] > 0 and int(ticks_diff(t, e[_E_BEND])) <= _BSERIES_MS):
                        win = 1
                    # (a bounce series is 2-6 cycles at 1-3 Hz from the
                    # arrival at the bottom: within 6 s of the heel's
                    # arrival at its depth (and, in a hold, within 5 s of
                    # its start or 3 s of the arrival: a slow descent's
                    # last degrees can pass for a hold), or within 2 s
                    # of the last bounce, which it continues; later, in a
                    # hold, a rebound is sway, a fidget or fatigue shake)
                    # (3 s after the heel reached the bottom, where the
                    # person stands still but sways at up to 1 Hz, a bounce
                    # takes 400 ms at most to its top: 1.25 Hz and up)
                    # a rebound from the bottom zone (its deep point within
                    # 8 deg of the rep's deepest; its top may be 10 deg
                    # above). Amplitude and rate on the true scale: the 4 Hz
                    # view passes 1 / (1 + (f/4)^2) at f = 500 / up_ms Hz.
                    g = 1024 + 16000000 // (up_ms * up_ms)
                    bs = e[_E_BSTH]
                    if bs >> 31 > 0:
                        bs -= k32
                    amp = bs - bmin  # the quick part's amplitude
                    # (the person's sway, _E_BLIM, is slow: 0.1-1 Hz, on the
                    # true scale in the view too)
                    ga = (amp // 1000) * g
                    # (outside that window a lone rebound is none, but a
                    # second within 2 s of one starts a series: both count,
                    # the cue comes with the second)
                    ok = 0
                    if ((0 - bw) // 8) * g >= (e[_E_BRATE] // 8) * 1024 and ga >= (e[_E_BAMPC] // 1000) * 1024 \
                            and ga >= (e[_E_BLIM] // 1000) * 1024:
                        ok = 1
                    if win == 0:
                        # late in a hold: a series must also rebound a
                        # quarter more than the rebounds this person's sway
                        # and shake make in their holds (_E_HSW: the largest
                        # that was no bounce; a lone one is none)
                        hsw = e[_E_HSW]
                        if ga <= hsw + (hsw >> 2):
                            ok = 0
                        pg = e[_E_BPEND]
                        if pg > 0 and int(ticks_diff(t, e[_E_BPENDT])) > _BSERIES_MS:
                            if pg > hsw:
                                hsw = pg
                            pg = 0
                            e[_E_BPEND] = 0
                        if ok == 0:
                            if ga > hsw:
                                hsw = ga
                        elif pg > 0:
                            win = 1
                            e[_E_BPEND] = 0
                            e[_E_BPAIR] = 1
                            e[_E_BCNT] += 1
                        else:
                            e[_E_BPEND] = ga
                            e[_E_BPENDT] = t
                        e[_E_HSW] = hsw
                    elif ok == 0 or ga <= e[_E_HSW] + (e[_E_HSW] >> 2):
                        # (at the arrival too, a bounce rebounds a quarter
                        # more than this person's sway and shake do in holds)
                        win = 0
                    if win != 0:
                        e[_E_BCNT] += 1
                        e[_E_BAMP] = amp
                        e[_E_BUP] = up_ms
                        e[_E_BEND] = t
                        req = 1
                        if st == S_DESC:
                            # the hold starts once the heel is back down from it
                            e[_E_REBEND] = int(ticks_add(e[_E_BMINT], up_ms))
                e[_E_BMODE] = 0
                e[_E_BMAX] = thb
                e[_E_BMAXT] = t
                e[_E_BSTART] = t
                e[_E_BSTH] = thb
    # level crossings of whole degrees, for the tempo fits
    kk = th // 1000000 + OFF
    if kk < 0:
        kk = 0
    elif kk >= NK:
        kk = NK - 1
    pk = e[E_PREVK]
    tr = e[_E_TRACK]
    if kk > pk:
        if tr == 1:
            j = pk + 1
            while j <= kk:
                e[E_UP + j] = t
                j += 1
    elif kk < pk:
        j = kk + 1
        while j <= pk:
            e[E_DN + j] = t
            j += 1
    if tr == 2:
        nk = e[_E_NEXTK]
        if nk <= kk:
            while nk <= kk:
                e[E_UP + nk] = t
                nk += 1
            e[_E_NEXTK] = nk
    e[E_PREVK] = kk
    return req


class Reps:
    """The rep state machine for one sign hypothesis (see the module comment).

    The engine (heelcore.engine.Engine) owns it: it passes its thresholds
    (integers, built once from the Config), collects the events (out()),
    and keeps the per-side totals."""

    held: list  # events kept back while the sign is pending; None once live
    _roll_out: bool
    _roll_since: int | None
    _pre_t: int | None
    _pre_x: int
    _max_roll: int
    _roll_t: int
    _roll_prev: int
    _cw: int | None
    _fast_rate: int | None
    _cw_m: int

    def __init__(self, eng, sign, t, rep0):
        self.eng = eng
        self.e = zeros("i", E_SIZE)
        self._yring = zeros("i", 30)  # the yaw (udeg) at each of the last 30 ticks of a rep
        self._dring = zeros("i", 4)  # theta (udeg) at the last 4 ticks of a descent
        self.reset(sign, t, rep0)

    def reset(self, sign, t, rep0):
        """Start afresh as the hypothesis of sign, in this object's arrays
        (the engine makes its two once and resets them: made mid-session,
        they were holes and islands in a board's heap)."""
        eng = self.eng
        self.sign = sign
        e = self.e
        for i in range(E_SIZE):
            e[i] = 0
        yr = self._yring
        for i in range(30):
            yr[i] = 0
        d = self._dring
        for i in range(4):
            d[i] = 0
        e[E_SIGN] = sign
        e[E_STATE] = S_TOP
        e[E_PREVK] = OFF
        e[_E_BLIM] = eng.k_blim
        e[_E_BLIM0] = eng.k_blim
        e[_E_BRATE] = eng.k_brate
        e[_E_BAMPC] = eng.k_blim * 4 // 3  # bounce_min_deg (k_blim is its 4 Hz view at 2 Hz)
        e[_E_SWAY] = eng.sway0  # the sway seen before the axis was known
        self._sw_ok = eng.sway0  # _E_SWAY as last taken at rest at the top
        self._sw_bad = t  # when the heel was last off the top
        self.rep = rep0  # reps started so far (the engine's count)
        self.held = None  # type: ignore[assignment]
        self.t_ms = t
        self.top_ref = 0  # the top this rep starts from (udeg): level, or a raised top
        self._top_since = None
        self._top_th0 = 0  # where the heel was then (udeg)
        # since when the heel rests where the last rep's rise ended: -1 not
        # yet, None not since it was above level (or no rep ended)
        self._lvl_t = None
        self._lvl_avg = 0
        # the level's drift at the top (strap creep, docs/DOMAIN.md section
        # 5: 0.05-0.2 deg a rep; slips): the lowest the 2 Hz view went
        # between the last rep's end and the next start (_tmin, udeg), the
        # mean of the first three (_top1, of _ntop so far: the person's own
        # top, level or raised), and how far the later ones moved from it,
        # a quarter of the way a rep (_drift)
        self._tmin = _NO_TOP
        self._top1 = 0
        self._ntop = 0
        self._drift = 0
        self._t_last_top = t
        self._t_last_end = None  # end of the previous rep (no overlap)
        self.last_start = t  # start of the previous rep (its length, with _t_last_end, for the sign)
        self._t_cand = None
        self._t_walk = None
        self._await_ready = False
        self._ready_since = None
        self.max_seen = 0  # deepest 2 Hz theta seen while this hypothesis ran
        self.reps_done = 0
        self.held_ms = 0  # longest hold so far
        self.quiet_max = 0  # longest quiet hold so far (decides the sign)
        self.quiet_reps = 0  # reps held quiet _QUIET_REP_MS or more (they confirm the frame)
        self._q_rep = -1  # the last rep counted there
        self.depth_sum = 0  # sum of rep depths (udeg), for the sign decision
        self._thf = 0
        self._wf = 0
        self._k_roll_abs = int(eng.cfg.roll_out_abs_deg * 1000 + 0.5)  # mdeg
        self._th = 0
        self._wl = 0
        self._reset_rep(t)

    # ------------------------------------------------------------ events
    def out(self, typ, t, **f):
        f["type"] = typ
        f["t_ms"] = t
        if "rep" not in f:
            f["rep"] = self.rep if self.e[E_STATE] >= S_DESC else 0
        self.eng.ex_event(self, f)

    # ------------------------------------------------------------- tick
    # Bytecode (as every rep-machine step now): 10 times a second per
    # hypothesis; as armv6m machine code tick, _step_rep and _hold_tick
    # took 1.5 KB more of the heap (docs/DESIGN.md, RAM).
    def tick(self, t, th, thf, wf, wl, jolt, ph, ps):
        """The slow tick, with the signal's values (this hypothesis mirrors
        them): th (udeg), thf (2 Hz view, udeg), wf (its rate, mdps), wl
        (3 Hz rate, mdps), jolt: the signal layer's walking/stepping grade
        since the last tick (2: what no heel drop does, which cancels the
        rep under way); ph, ps: roll and yaw (udeg)."""
        e = self.e
        sg = self.sign
        self.t_ms = t
        self._th = th * sg
        self._wl = wl * sg
        self._thf = thf * sg
        self._wf = wf * sg
        if self._thf > self.max_seen:
            self.max_seen = self._thf
        wlmax = e[_E_WLMAX]
        wlmin = e[_E_WLMIN]
        e[_E_WLMAX] = self._wl
        e[_E_WLMIN] = self._wl
        if e[E_STATE] == S_TOP:
            # A roll-out can begin as the heel leaves the top (docs/DOMAIN.md
            # section 7(a) judges the whole rep; section 7(b): a near-threshold
            # roll from the descent's start), 1-3 s before the rep machine sees
            # the descent: the roll rules run at the top too (the pitch barely
            # moves there: the fast-roll rule needs no baseline), and the last
            # roll-out seen there, (t, extra), waits in _pre_t, _pre_x (None at the
            # top, reset at the rep's start) for _start_rep; a roll held past
            # the limit counts from when it first was one (a foot resting
            # rolled at the top did not roll out as the heel left it)
            x = self._roll_rules(t, self._th, self.eng.rsign * ph * sg // 1000, True)
            if x is not None:
                p = self._pre_t
                rs = self._roll_since
                if p is None or rs is None or ticks_diff(p, rs) < 0:
                    self._pre_t = t
                    self._pre_x = x
            self._step_top(t)
        else:
            self._step_rep(t, wlmax, wlmin, jolt, ph * sg, ps)

    # -------------------------------------------------------------- top
    # Bytecode, not native, as _step_desc: 10 times a second per
    # hypothesis, and as armv6m machine code 1.3 KB more of the heap the
    # board's code and data share (docs/DESIGN.md, RAM).
    def _step_top(self, t):
        eng = self.eng
        e = self.e
        th = self._thf
        wf = self._wf
        band = eng.k_top_band
        calm = -eng.k_hold_rate < wf < eng.k_hold_rate
        # the top this rep will start from: where the heel rests between
        # reps, at level or on a raised top (never below level)
        # (on a raised top (not from a foot lifted past any, 30 deg and
        # more), deeper than it was only at rest 1.5 s within
        # half a degree of where the calm spell began: a slow sink from a
        # raised top turns slower than the hold rate, and sway makes it
        # pause now and then)
        if calm and th < (band if self.top_ref <= 0 else 0):
            raised = th < -band
            d = th - self._top_th0
            if self._top_since is None or (raised and (d > _UDEG // 2 or d < -_UDEG // 2)):
                self._top_since = t
                self._top_th0 = th
            elif ticks_diff(t, self._top_since) >= (1500 if raised and th > self.top_ref > -_WALK_UDEG else 500):
                self.top_ref = th if th < 0 else 0
                if e[_E_LVP] and not raised:
                    e[_E_LVP] = 0
                    e[E_LVN] += 1
        else:
            self._top_since = None
        self._moved_level(t, th, band)
        if th < self._tmin < _NO_TOP:
            self._tmin = th
        if th < self.top_ref + band:
            self._t_last_top = t
        # the person's sway (_E_SWAY) is what the heel does at rest at the
        # top: a rebound there counts only once the heel has stayed within
        # two top bands of the top for 1.5 s (the whole rebound). The end
        # of a rise past a rep's end, a rise onto the toes, a re-strap or a
        # step (the heel 10-180 deg off) are no sway
        if th < self.top_ref - 2 * band or th > self.top_ref + 2 * band:
            self._sw_bad = t
        if e[_E_SWAY] > self._sw_ok and ticks_diff(t, self._sw_bad) < 1500:
            e[_E_SWAY] = self._sw_ok
        self._sw_ok = e[_E_SWAY]

        if e[_E_THMIN] < -_WALK_UDEG:
            self._t_walk = t
            e[_E_THMIN] = th
        # reset_ready after a rep, once steady at the top
        if self._await_ready:
            if th < self.top_ref + band and calm:
                if self._ready_since is None:
                    self._ready_since = t
                elif ticks_diff(t, self._ready_since) >= eng.k_reset_ms:
                    self._await_ready = False
                    self.out("reset_ready", t)
            else:
                self._ready_since = None
        if self._t_walk is not None and ticks_diff(t, self._t_walk) < _WALK_MS:
            self._t_cand = None
            return
        # descent start: deeper than the start threshold below the top and
        # moving down for 0.2 s, or a fast drop already well under way
        start = self.top_ref + eng.k_d_start
        if th > start and wf > eng.k_d_rate:
            if self._t_cand is None:
                self._t_cand = t
            elif ticks_diff(t, self._t_cand) >= 200:
                self._start_rep(t, self._t_last_top)
                return
        else:
            self._t_cand = None
        if self._th > start + 2 * _UDEG and self._wl > eng.k_fast_mean // 2:
            self._start_rep(t, self._t_last_top)
            return
        # past the valid-rep depth and calm 1.5-2.5 s after the heel was at
        # the top, no descent seen: a burst of dropped samples (1-10, 0.4 s
        # at 25 Hz) hid a fast drop (0.3-1.2 s, docs/DOMAIN.md section
        # 7(b)); the angles re-anchored after the gap, the rates started
        # afresh there
        dt = ticks_diff(t, self._t_last_top)
        if calm and th > self.top_ref + eng.k_min_depth and 1500 <= dt < 2500:
            self._start_rep(t, self._t_last_top)

    # Bytecode: once a tick, at the top and in a rep
    def _roll_rules(self, t, th, ro, fast_ok):
        # The contract's roll-out (docs/DOMAIN.md section 7(a)) this tick:
        # the extra roll (mdeg) when it is one, else None. The extra
        # inversion (beyond the person's coupling) past roll_out_deg, or the
        # whole roll past roll_out_abs_deg, for roll_out_time_s; or the
        # extra inversion rising faster than 45 deg/s: at 10 ticks a second
        # a quick roll-out (0.1-0.3 s to its peak, docs/DOMAIN.md section
        # 7(b)) falls across two ticks, so it is the rise over the last two
        # ticks (0.2 s), 9 deg at least (45 deg/s held over them: sway and
        # corrective steps, 3-5 deg, times a shoe mount's gain, stay under
        # it), one of the two steps faster than 45 deg/s, to an inversion
        # (an eversion coming back is no roll-out), 4 deg past the
        # coupling at least; where fast_ok (the person's coupling known, or
        # the pitch at rest), or where the pitch moved under 5 deg over the
        # two ticks (whatever the coupling, 0.56 times a shoe mount's 2 at
        # most, such a pitch couples under 9 deg of roll)
        eng = self.eng
        side = eng.side
        e = self.e
        if ro > self._max_roll:
            self._max_roll = ro
        extra = ro - (eng.k1024[side] * (th // 1000) >> 10) - eng.c_md[side]
        # Before the person's coupling is known (3 clean reps on the side),
        # the limit rules judge the roll beyond the one the descent brought:
        # a roll-out comes at the bottom or in the rise (docs/DOMAIN.md
        # section 7(b)), while a roll that grew with the pitch as the heel
        # sank is the person's coupling (times a shoe mount's 0.5-2), or
        # the pitch read through a frame the first excursion taught off
        # the foot's axis (up to 40 deg: Engine._axis_from_rest), which
        # the coupling prior (none) cannot take out. That roll, per degree
        # of pitch, at the deepest tick of the descent while the heel still
        # sank faster than the hold rate (E_DTH, E_DRO; in a hold too, once
        # past the hold band below where the descent settled: a weight
        # shift before the first drop reads as its descent, the drop as a
        # dip in its hold; sway, creep and a roll-out's leak into the pitch
        # stay within it), is this rep's coupling (at most 1: 45 deg), when an
        # inversion: the heel everts at depth (phi = -k theta), so an
        # inversion that came with the pitch is the frame's or a shoe's (an
        # eversion's, the drop-learned axis mostly takes in). In the descent
        # that coupling is not known yet: the rules judge as before (the cue
        # comes as the roll does), and a hit there (its least pitch and most
        # roll, _E_HTH, _E_HRO) is judged against the descent's coupling
        # once it is (desc_judge: at the rep's end, or when the frame turns
        # under the rep). The fast-roll rule is left as it was: a quick roll
        # is no descent's (a hit by it is final, _HDEF)
        lx = extra
        rabs = ro
        prov = False
        if eng._bl_sums[side][5] < 3:
            st = e[E_STATE]
            if th > e[E_DTH] and self._wl > eng.k_hold_rate and (
                    st == S_DESC or st == S_HOLD and th > self._speak + eng.k_band):
                e[E_DTH] = th
                e[E_DRO] = ro
            prov = st == S_DESC
            c = self.desc_roll(th)
            if not prov and c > 0:
                lx = extra - c
                rabs = ro - c
        dt = ticks_diff(t, self._roll_t)
        p1 = self._roll_prev
        lo = e[_E_RO2]
        if p1 < lo:
            lo = p1
        fast = 1 if dt > 0 and extra - p1 > 45 * dt else 0
        hit = False
        if extra > 4000 and extra - lo >= 9000 and (fast or e[_E_RFAST]):
            d = th - e[_E_RTH2]
            hit = fast_ok or -5 * _UDEG < d < 5 * _UDEG
        e[_E_RO2] = p1
        e[_E_RFAST] = fast
        e[_E_RTH2] = e[_E_RTH1]
        e[_E_RTH1] = th
        self._roll_prev = extra
        self._roll_t = t
        if hit or not prov:
            prov = False  # (a quick roll is no descent's)
        if lx > eng.k_roll_lim or rabs > self._k_roll_abs:
            if self._roll_since is None:
                self._roll_since = t
            elif ticks_diff(t, self._roll_since) >= eng.k_roll_ms:
                hit = True
                if prov and e[_E_HTH] != _HDEF:
                    if th < e[_E_HTH]:
                        e[_E_HTH] = th
                    if ro > e[_E_HRO]:
                        e[_E_HRO] = ro
        else:
            self._roll_since = None
        if hit and not prov:
            e[_E_HTH] = _HDEF
        return extra if hit else None

    def desc_judge(self):
        """A roll-out hit in the descent, before the person's coupling was
        known, that the roll the descent brought explains (_roll_rules) was
        the pitch read as roll: no roll-out (cued as it came). At the rep's
        end, or when the frame turns under the rep (Engine._axis_from_rest:
        judged in the frame the hits were read in; the descent's roll is
        then taken afresh)."""
        e = self.e
        eng = self.eng
        if self._roll_out and e[_E_HTH] != _HDEF and e[_E_HRO] != _HNONE and eng._bl_sums[eng.side][5] < 3:
            x = e[_E_HRO] - self.desc_roll(e[_E_HTH])
            if x <= eng.k_roll_lim and x <= self._k_roll_abs:
                self._roll_out = False
        e[E_DTH] = 0
        e[E_DRO] = 0
        self._roll_since = None  # (this tick's angles are still the old frame's)
        if e[_E_HTH] != _HDEF:
            e[_E_HTH] = 1 << 29
            e[_E_HRO] = _HNONE

    def desc_roll(self, th):
        # the roll (mdeg) the descent's coupling gives at pitch th (udeg):
        # E_DRO per E_DTH, an inversion only (_roll_rules), else 0
        e = self.e
        d = e[E_DTH] // 1000
        c = e[E_DRO]
        if d < self.eng.k_min_depth // 1000 or c <= 0:
            return 0
        c = 1024 if c >= d else (c << 10) // d  # Q10
        return c * (th // 1000) >> 10

    # Bytecode, not native: once a tick at the top (machine code would take
    # the Pico's heap, docs/DESIGN.md, RAM)
    def _moved_level(self, t, th, band):
        # resting 5 s where a rep's rise ended, between level and the
        # valid-rep depth, deeper than the top band: the level has moved (a
        # strap slip, docs/DOMAIN.md section 7(b): 1-5 deg steps) since a top is never
        # below level (0 +- 2 deg); reps start, and are deep enough, from
        # there (sway and all). (A shallow drop's hold came down to it.)
        lt = self._lvl_t
        if th < 0:
            lt = None
        if lt is not None and th < self.eng.k_min_depth:
            d = th - self._lvl_avg
            if lt == -1 or d > band or d < -band:
                # (at rest: within the top band of where it rests all
                # along; the slow start of the next drop, 1.3-3 deg/s over
                # its first seconds, or a weight shift's dip, 1-5 deg, is
                # none, and its average passes the band in a few seconds)
                lt = t
                self._lvl_avg = th
            else:
                self._lvl_avg += d >> 4
                if ticks_diff(t, lt) >= 5000 and self._lvl_avg > band:
                    self.top_ref = self._lvl_avg
        elif lt is not None:
            lt = -1
        self._lvl_t = lt
        if self.top_ref > 0 and th < self.top_ref - 2 * band:
            self.top_ref = 0  # the heel rose past it: level again (or a raised top, once at rest)

    def _reset_rep(self, t):
        e = self.e
        th = self.eng.th_now(self)
        e[E_PEAK] = th
        e[_E_TPEAK] = t
        e[_E_THMIN] = th
        e[_E_TTHMIN] = t
        e[_E_TRACK] = 1  # at the top: last upward crossings
        self._rebound_from(t, th)
        e[_E_BMIN] = 0
        e[_E_BMINT] = 0
        e[_E_BMINW] = 0
        e[_E_BCNT] = 0
        e[_E_BEND] = t
        e[_E_REBEND] = t
        e[_E_HOLDT] = t
        e[_E_DEEP] = th
        e[_E_ARRT] = t
        e[_E_DEEPT] = t
        e[_E_BPEND] = 0
        e[_E_BPENDT] = t
        e[_E_BPAIR] = 0
        e[_E_SM] = th
        e[_E_ST3F] = _HNONE
        self._t_onset = t
        self._peak_w = 0  # max downward rate of the descent (mdps)
        self._peak_up = 0  # max upward rate of the rise (mdps, positive)
        self._k_first = 0
        self._settle = None
        self._settle_th = 0
        self._calm0 = None
        self._st2 = None  # since when the 2 Hz level stayed within 0.75 deg of _st2f at the bottom
        self._st2f = 0
        self._cw = None  # the creep wait at a bottom a little short of a rep: since when (tick)
        self._cw_m = 0  # and its mean level (mdeg)
        self._t_dend = t
        self._t_hs = t  # hold start
        self._hold_ticks = 0
        self._hold_ref = 0
        self._hold_last = 0
        self._hold_avg = 0
        self._hold_in = t
        self._depth_settled = None
        self._hold_target_sent = False
        self._quiet_since = None
        self._bounces = 0
        self._fast = False
        self._fast_rate = None  # when the peak rate decided it was too fast
        self._fast_mean = 0  # mdps, from the descent fit
        self._fit_T = 0  # its duration, ms
        self._fit_res = 0
        self._fit_on = t
        self._fit_end = t
        self._rise_settle = None
        self._rise_hold = None  # since when a "rise" has rested deep down
        self._rise_h = 0  # where the rise started from (udeg)
        self._past_bottom = False
        self._at_bottom = False
        self._bot_s = 0  # the 2 Hz view summed (mdeg) over the first ticks at the bottom
        self._bot_n = 0
        self._shal = False  # the rise began from a short, shallow bottom: no rep
        self._snap = False
        self._roll_out = False
        self._pre_t = None  # a roll-out seen at the top before this rep's start (tick)
        self._pre_x = 0
        self._roll_fresh()
        self._roll_t = t
        self._twisted = False
        self._yi = 0
        self._yn = 0
        self._bl = [0, 0, 0, 0, 0, 0]  # this rep's roll-pitch sums
        self._psi0 = self.eng.ps_now()
        self._dp_prev = 0  # the yaw since the rep's start at the last tick (udeg, about the foot's up axis)
        self._yc = 0  # the same about the vertical (udeg)
        self._rep_top = self.top_ref
        # the peak a rep needs: the valid-rep depth, from a level that moved
        lv = self.top_ref - 2 * _UDEG
        if lv < self._drift:
            lv = self._drift
        self._min_pk = self.eng.k_min_depth + (lv if lv > 0 else 0)
        d = self._dring
        for i in range(4):
            d[i] = th
        self._di = 0
        self._speak = th  # deepest level the heel stayed at for 0.3 s

    def _top_seen(self, t):
        # the top between the last rep and this one (a dwell of 0.5-3 s,
        # or none when pumping; not a rest between sets, 20-120 s): how far
        # the level moved since the first rep
        # (once a rep's end: a rep cancelled at once, e.g. by a jolt, and
        # started again saw no top; nor a re-strap or a step, 6 deg and
        # more off the top, and a slip moves it 1-5 deg: a quarter of
        # at most the top band a rep)
        m = self._tmin
        self._tmin = _NO_TOP
        if m >= _TOP_OPEN or ticks_diff(t, self._t_last_end) > _TOP_SEEN_MS:
            return
        n = self._ntop
        if n < 3:
            # the person's top: the mean of the first three (their sway and
            # where they stop vary from rep to rep, 0.5-2 deg)
            n += 1
            self._ntop = n
            self._top1 = m if n == 1 else self._top1 + (m - self._top1) // n
            return
        d = m - self._top1 - self._drift
        b = self.eng.k_top_band
        if d > 2 * b or d < -2 * b:
            return
        if d > b:
            d = b
        elif d < -b:
            d = -b
        self._drift += d >> 2

    def _start_rep(self, t, onset):
        e = self.e
        e[_E_LVP] = 0
        self._top_seen(t)
        p = self._pre_t  # a roll-out seen at the top (tick), or None
        px = self._pre_x
        self._reset_rep(t)
        # a bounce must rebound more than the person's own sway does at
        # rest (a quarter more); the measure then fades over the next rests
        sw = e[_E_SWAY]
        lim = sw + (sw >> 2)
        if lim > _BLIM_MAX:
            lim = _BLIM_MAX  # a severe bounce (5-10 deg) is never taken for sway
        e[_E_BLIM] = lim if lim > self.eng.k_blim else self.eng.k_blim
        # and turn faster than the person's own sway does at rest
        sr = self.eng.sway_mdps
        e[_E_BRATE] = self.eng.k_brate + (sr >> 1)
        e[_E_SWAY] = sw * 3 >> 2
        e[_E_HSW] = e[_E_HSW] * 3 >> 2  # (and the sway in holds)
        # never before the previous rep's end
        if self._t_last_end is not None and ticks_diff(onset, self._t_last_end) < 0:
            onset = self._t_last_end
        self.rep += 1
        e[E_STATE] = S_DESC
        e[_E_TRACK] = 2  # first upward crossings from here on
        self._await_ready = False
        self._t_onset = onset
        k = self.eng.th_now(self) // _UDEG + OFF + 1
        if k < 0:
            k = 0
        elif k > NK:
            k = NK
        e[_E_NEXTK] = k
        # levels already passed were crossed at the top (or are unknown)
        j = k - 1
        while j >= 0 and ticks_diff(e[E_UP + j], onset) >= 0:
            j -= 1
        self._k_first = j + 1
        self.out("rep_start", t, onset_ms=onset)
        # a roll-out as the heel left the top, before the descent was seen
        # (tick), is this rep's
        if p is not None and ticks_diff(p, onset) >= -_PRE_RO_MS and (
                self._t_last_end is None or ticks_diff(p, self._t_last_end) > 0) and (
                self._t_walk is None or ticks_diff(p, self._t_walk) > 0):
            self._roll_out = True
            self.out("roll_out", t, roll_deg=c2(rdiv(px, 10)))

    def cancel(self, reason, interrupted=False):
        t = self.t_ms
        self.out("rep_cancel", t, reason=reason, interrupted=interrupted)
        self.rep -= 1
        self._to_top(t)
        if reason != "too shallow" and self._lvl_t is not None:
            self._lvl_t = -1  # (a shallow drop at rest is part of it)

    def reframed(self):
        """The frame was turned under the rep under way (a hold read 30-75
        deg off forward; the sign is decided then): what was read as roll
        so far was the pitch seen through the old frame, so the rep's roll
        is judged afresh from here, and a roll-out already cued no longer
        flags the rep."""
        self._roll_out = False
        self._roll_fresh()
        bl = self._bl
        for i in range(6):
            bl[i] = 0

    def _roll_fresh(self):
        # the roll rules start afresh (a rep's start; a frame turned under
        # the rep: what was read so far was the old frame's): no roll run,
        # no largest roll, no fast step from the last tick, no descent's
        # roll and no hit in the descent yet
        e = self.e
        self._roll_since = None
        self._max_roll = -(1 << 29)
        self._roll_prev = 1 << 29
        e[_E_RO2] = 1 << 29
        e[E_DTH] = 0
        e[E_DRO] = 0
        e[_E_HTH] = 1 << 29
        e[_E_HRO] = _HNONE

    def _to_top(self, t):
        self.e[E_STATE] = S_TOP
        self._sw_ok = self.e[_E_SWAY]
        self._sw_bad = t  # (the rise may not be over)
        self._reset_rep(t)
        self._t_cand = None
        self._await_ready = True
        self._ready_since = None
        self._top_since = None

    # ------------------------------------------------------------- reps
    def _step_rep(self, t, wlmax, wlmin, jolt, ph, ps):
        eng = self.eng
        e = self.e
        st = e[E_STATE]
        if wlmax > eng.k_max_rate or wlmin < -eng.k_max_rate or jolt == 2:
            self.cancel("too violent for a heel drop")
            return
        # walking: push-off lifts the heel 35-55 deg above level (a raised
        # top is at most 25); turning away swings the yaw (_check_roll_twist)
        th = self._th
        if th < -_WALK_UDEG or self._check_roll_twist(t, th, ph, _wrap180(ps - self._psi0)):
            self.cancel("walking or turning: not a heel drop")
            return
        if st == S_DESC:
            self._step_desc(t, th, wlmax)
        elif st == S_HOLD:
            self._step_hold(t, th)
        else:
            self._step_rise(t, th, wlmin)

    # Bytecode, not native: once a tick (10 Hz), and as armv6m machine code
    # 2.2 KB more of the heap the board's code and data share (docs/DESIGN.md, RAM).
    def _check_roll_twist(self, t, th, ph, dpsi):
        # True when the foot turns away (the rep is cancelled, no roll or
        # twist judged this tick)
        eng = self.eng
        # twist: the yaw's range over the last 3 s (a twist takes 0.3-2 s;
        # what the gyro's bias leaves in the yaw over 3 s is a few tenths of
        # a degree, over a minute's hold it would be a twist of its own),
        # the ticks before the rep machine saw the descent included: the
        # heel leaves the top 1-3 s before that, and a twist comes early
        # in the rep, as the heel sinks
        if self._yn == 0:
            self._yaw_before()
        # The gyro's yaw is about the foot's up axis; a twist is about the
        # vertical, which the heel pitched by th sees at cos(th)
        # (docs/DOMAIN.md section 7(b): 10-25 deg twists, 20-40 deg deep):
        # each tick's yaw is scaled by 1/cos(th) (series to th^4, Q10)
        d = dpsi - self._dp_prev
        self._dp_prev = dpsi
        a = th if th > 0 else -th
        if a > 60 * _UDEG:
            a = 60 * _UDEG
        a = (a // 1000) * 1787 // 100000  # rad, Q10
        a = a * a >> 10
        sec = 1024 + (a >> 1) + 5 * a * a // 24576
        d >>= 4
        if d > 600000:
            d = 600000
        elif d < -600000:
            d = -600000
        self._yc += (d * sec >> 10) << 4
        dpsi = self._yc
        yr = self._yring
        k = self._yi
        yr[k] = dpsi
        self._yi = k + 1 if k < 29 else 0
        if self._yn < 30:
            self._yn += 1
        lo = dpsi
        hi = dpsi
        for i in range(self._yn):
            v = yr[i]
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
        # turning away (walking off, turning round) swings the yaw by more
        # than 60 deg within 3 s (the old test, 60 deg since the rep's
        # start, fired on the drift of a gyro bias about the up axis that
        # no rest window could follow in a long hold: a fatigue shake keeps
        # them from completing); a twist is 10-25 deg
        if hi - lo > 60 * _UDEG:
            return True
        tw = 0
        if not self._twisted and hi - lo > eng.k_twist:
            # the twist is the foot's turn, not its yaw sway (docs/DOMAIN.md
            # section 7(b): the foot's normal yaw is +-0-3 deg and a person
            # sways at 0.1-1 Hz, which a twist's own size leaves out; the
            # sway's crest on the turn and its trough before it added up to
            # 3 deg): the range of the yaw's 0.8 s means (_TW_MEAN ticks,
            # oldest first), over which the sway's faster half mostly
            # cancels and a twist (10-25 deg turned in 0.3-2 s) keeps its
            # size, even one turned back after 0.3 s
            n = self._yn
            j = k + 1 - n
            if j < 0:
                j += 30
            q = j
            sm = 0
            m = 0
            for i in range(n):
                sm += yr[j] >> 3  # (a sum of 8 yaws in udeg stays a small int)
                j = j + 1 if j < 29 else 0
                if m < _TW_MEAN:
                    m += 1
                else:
                    sm -= yr[q] >> 3
                    q = q + 1 if q < 29 else 0
                if m < _TW_MEAN and i + 1 < n:
                    continue  # (whole means only, or all there is)
                v = sm // m
                if i + 1 == m:
                    lo = hi = v
                elif v < lo:
                    lo = v
                elif v > hi:
                    hi = v
            if (hi - lo) << 3 > eng.k_twist:
                tw = (v - lo if v - lo > hi - v else v - hi) << 3
        side = eng.side
        ro = eng.rsign * ph // 1000  # mdeg, + = inversion
        # the fast-roll rule (_roll_rules) in the hold, where the pitch
        # stands still and couples no roll; elsewhere once the person's
        # coupling is known from 3 clean reps, so that a descent's or a
        # rise's own roll is taken out
        x = self._roll_rules(t, th, ro, eng._bl_sums[side][5] >= 3 or self.e[E_STATE] == S_HOLD
                             or (self._calm0 is not None and ticks_diff(t, self._calm0) >= eng.k_hold_enter))
        if x is not None and not self._roll_out:
            self._roll_out = True
            self._pre_t = t  # (free in a rep: its time, for bounces_sync)
            self.out("roll_out", t, roll_deg=c2(rdiv(x, 10)))
        # baseline sums (0.1 deg units)
        a = th // 100000
        b = ro // 100
        bl = self._bl
        bl[0] += 1
        bl[1] += a
        bl[2] += b
        bl[3] += a * a
        bl[4] += a * b
        if tw:
            self._twisted = True
            self.out("twist", t, yaw_deg=udeg_c(tw))
        return False

    def snap_jolt(self, t, wraw):
        """Bytecode: only on a tick past max_rate_dps (L1) or 2 g: 1 for a
        snap-up's own rise, else 2 (walking or stepping). A snap-up at the
        envelope's edge (docs/DOMAIN.md section 7(b): 0.2 s, peak 240
        deg/s, a 10-20 Hz wobble after it, a roll-out that may end with
        it) reaches those marks: the heel turning fast (over half the rate;
        a heel strike's impact comes as the foot lands, turning slowly) but
        under twice the rate, in a hold or a rise begun within 0.4 s after
        a hold of 1 s or more (a step off the step from a no-hold "rep" is
        walking), for this sign or, while the sign is pending, the other."""
        eng = self.eng
        k = eng.k_max_rate_c
        if not k >> 1 < wraw < k << 1:
            return 2
        st = self.e[E_STATE]
        if st == S_HOLD or (st == _S_RISE and ticks_diff(t, self._r_on0) <= 400
                            and ticks_diff(self._r_on0, self._t_hs) >= 1000):
            return 1
        x = eng._ex2
        if x is None or x is self:
            return 2
        return x.snap_jolt(t, wraw)

    def _turned(self):
        # the foot turned about the vertical both ways, by more than 3 deg
        # each, in the last 1.5 s (15 ticks of the twist window's ring): a
        # heel bounces about the ankle, its yaw within the normal +-3 deg
        # (docs/DOMAIN.md section 7(b)), and a twist turns it one way
        yr = self._yring
        n = self._yn
        if n > 15:
            n = 15
        k = self._yi - n
        if k < 0:
            k += 30
        lo = hi = yr[k]
        up = dn = 0
        for i in range(n):
            v = yr[k]
            k = k + 1 if k < 29 else 0
            if v < lo:
                lo = v
            elif v > hi:
                hi = v
            if v - lo > up:
                up = v - lo
            if hi - v > dn:
                dn = hi - v
        return up > 3 * _UDEG and dn > 3 * _UDEG

    def _yaw_before(self):
        # the rep's twist window starts with the yaw of the ticks the engine
        # kept (up to 3 s, since its frame was learned and since the last
        # walking-like jolt: a rep started again while walking or turning
        # away is not cued for the turn), as yaw since the rep's start (at
        # the top, about the vertical as it is)
        eng = self.eng
        r = eng.ps_ring
        n = r[31]
        if n > 29:
            n = 29
        j = eng._jolt_t
        if j is not None:
            d = ticks_diff(self.t_ms, j) // 100
            if d < n:
                n = d if d > 0 else 0
        k = r[30]
        yr = self._yring
        psi0 = self._psi0
        for i in range(n):
            k = k - 1 if k > 0 else 29
            yr[n - 1 - i] = _wrap180(r[k] - psi0)
        self._yi = n
        self._yn = n

    def bounces_sync(self, t):
        # emit the bounces the core counted; 1 while a rebound is under way
        e = self.e
        n = e[_E_BCNT]
        p = self._pre_t
        if n > self._bounces and (self._turned() or (
                self._bounces == 0 and p is not None and e[E_STATE] != S_TOP and ticks_diff(t, p) <= _RO_LEAK_MS)):
            # the foot turned about the vertical as it rebounded: handled
            # (a re-strap, a step), no bounce; nor does it start a series.
            # Nor a first rebound within a second of a roll-out cued in the
            # rep: the foot rolling out (8-25 deg at 10-60 deg/s,
            # docs/DOMAIN.md section 7(b)) shows on the pitch axis through
            # the mounting and the shoe as a quick rebound (a series under
            # way goes on)
            e[_E_BCNT] = self._bounces
            e[_E_BPAIR] = 0
            return e[_E_BMODE]
        if e[_E_BPAIR] != 0 and self._bounces < n:
            # a series that began late in a hold: its first rebound is
            # counted with the second, and cued with it (one event)
            e[_E_BPAIR] = 0
            self._bounces += 1
        while self._bounces < n:
            self._bounces += 1
            # undo the 4 Hz view's gain at the rebound's frequency (1 + (f/4)^2)
            f = 500000 // max(1, e[_E_BUP])  # mHz
            amp = e[_E_BAMP]
            self.out("bounce", t, amplitude_deg=udeg_c(amp + amp * f // 4000 * f // 4000))
        return e[_E_BMODE]

    # Bytecode, not native: it runs 10 times a second (per hypothesis while
    # the sign is pending), and as armv6m machine code it is 1.8 KB more of
    # the heap the board's code and data share (docs/DESIGN.md, RAM).
    def _step_desc(self, t, th, wlmax):
        eng = self.eng
        e = self.e
        peak = e[E_PEAK]
        top = self._rep_top
        if th < peak - _UDEG:
            self._past_bottom = True
        if wlmax > self._peak_w and not self._past_bottom:
            self._peak_w = wlmax
        # too fast: peak rate, or mean rate since the start threshold once deep
        # enough; judged on the way down only, before any rebound at the bottom
        if not self._fast and not self._past_bottom and th + 2 * _UDEG > peak:
            # the peak rate, less what the person's sway may add to it (half
            # their fastest sway rate at rest: it rarely peaks with the drop)
            sw = eng.sway_mdps >> 1
            fast = wlmax > eng.k_fast_peak + (sw if sw < 10000 else 10000)
            speed = wlmax
            if not fast and th >= eng.k_min_depth:
                # the mean rate over 10-90 % of the travel, from the
                # minimum-jerk fit of the crossings so far: on a partial
                # descent its central, near-linear part gives the mean
                # already (sway bends a crossing time, not the fit)
                if self._fit_up() and self._fast_mean > eng.k_fast_mean:
                    fast = True
                    speed = self._fast_mean
            if fast:
                self._fast = True
                # (when the peak rate decided: the fit may revise a mean)
                self._fast_rate = t if speed == wlmax else None
                self.out("descent_too_fast", t, speed_dps=c2(rdiv(min(max(speed, 0), eng.k_speed_max), 10)))
        reb = self.bounces_sync(t)
        # the bottom zone: within a fifth of the travel of the deepest level
        # the heel stayed at for 0.3 s (a "drop and catch" overshoots the
        # bottom by 2-6 deg for 0.1-0.3 s: docs/DOMAIN.md section 7(b))
        d = self._dring
        k = self._di
        d[k] = th
        self._di = (k + 1) & 3
        lo = d[0]
        for i in range(1, 4):
            if d[i] < lo:
                lo = d[i]
        if lo > self._speak:
            self._speak = lo
        zone = self._speak - (self._speak - top) // 5
        # settled at the bottom: hold (or, shallower than a rep, at rest: a
        # new top, e.g. back at level after a rise onto the toes)
        wf = self._wf
        if self._thf >= zone and not self._at_bottom:
            self._at_bottom = True
            e[_E_HOLDT] = t  # the heel reached the bottom zone
        if self._at_bottom and self._bot_n < _BOT_N:
            self._bot_s += self._thf // 1000
            self._bot_n += 1
        if ticks_diff(t, e[_E_DEEPT]) >= _NOHOLD_DEPTH_MS:
            # 8 s and no deeper, and never calm enough for a hold (a
            # fatigue shake): the depth is the bottom's mean level, as in a
            # hold, not the shake's deepest moment
            if self._depth_settled is None:
                self._depth_settled = self._thf
            else:
                self._depth_settled += (self._thf - self._depth_settled) // 80
        # (and no longer sinking: the heel 1.5 deg deeper than when it
        # turned that slow is still on its way down; a slow descent, 2-6 s
        # from level to a shallow depth or longer from a raised top, turns
        # slower than the hold rate all the way, docs/DOMAIN.md section 7(b))
        if self._cw is not None:
            # the creep wait's mean level, every tick (a slow descent going
            # on through it moves it as a creep does)
            self._cw_m += (self._thf // 1000 - self._cw_m) // 80
        if -eng.k_hold_rate < wf < eng.k_hold_rate and self._thf >= zone:
            if self._calm0 is None:
                self._calm0 = t  # (calm at the bottom since, sinking or not)
                # (and kept once the calm ends, until the rise: a field
                # of the rise, free until then, docs/DESIGN.md RAM)
                self._rise_settle = t
            if self._settle is None or self._thf - self._settle_th > _SINK_UDEG:
                if self._cw is not None:
                    self._cw = t  # sinking again: the creep's wait from here, on the same mean
                self._settle = t
                self._settle_th = self._thf
            elif ticks_diff(t, self._settle) >= eng.k_hold_enter:
                cw = self._cw
                if cw is None and peak >= self._min_pk:
                    self._enter_hold(t, th)
                    return
                # From a raised top, a bottom whose peak is within 2 deg
                # short of the valid-rep depth as it turned calm: the
                # hold's creep (1-3 deg over its first 15-20 s, tau 6-10 s,
                # docs/DOMAIN.md section 7(b)) may take it past. Judged on
                # its mean level from here on (time constant ~8 s, as the
                # hold's depth: sway, 0.3-2 deg at 0.1-1 Hz, takes a
                # moment's peak past it either way), for 20 s since it last
                # sank (creep 84 % done by 15-20 s)
                if cw is None and top < -eng.k_top_band and peak >= self._min_pk - _CREEP_UDEG:
                    self._cw = cw = t
                    self._cw_m = self._thf // 1000
                if cw is not None and ticks_diff(t, cw) < _CREEP_MS:
                    if self._cw_m >= self._min_pk // 1000:
                        self._enter_hold(t, th)
                    return
                self.cancel("too shallow")
                # at rest there 1 s: a top, as at the top (level,
                # or a raised top once back at rest above level)
                if self._thf < (eng.k_top_band if self.top_ref <= 0 else 0):
                    self.top_ref = self._thf if self._thf < 0 else 0
                return
        else:
            self._settle = None
            self._calm0 = None
        # a fatigue shake (docs/DOMAIN.md section 7(b): 0.3-1.5 deg at 5-8
        # Hz) swings the 2 Hz view's rate past hold_rate_dps again and again
        # (check_064: 53 s at the bottom, never a hold): the 2 Hz level
        # staying within 0.75 deg of where it was for twice hold_enter_s in
        # the bottom zone is a hold too (a descent still moving, at 0.4
        # deg/s or more, leaves the band; the rate's test comes first in a
        # calm hold)
        f = self._thf
        if f < zone or peak < self._min_pk or self._cw is not None:
            self._st2 = None
        elif self._st2 is None or not -750000 < f - self._st2f < 750000:
            self._st2 = t
            self._st2f = f
        elif ticks_diff(t, self._st2) >= 2 * eng.k_hold_enter:
            self._enter_hold(t, th)
            return
        # A person who sways or shakes holds still at the bottom while the
        # 2 Hz view's rate keeps crossing hold_rate_dps and its level swings
        # past 0.75 deg (docs/DOMAIN.md section 7(b): unsupported sway 1-2
        # deg of pitch at 0.1-1 Hz, a roll sway of up to 3 deg times a
        # shoe mount's 2 that a frame a little off the foot's axis reads on
        # the pitch axis, fatigue tremor 0.3-1.5 deg at 5-8 Hz that a low
        # rate aliases): the hold's cue came 8-16 s into it (tuning_033,
        # tuning_070). The bottom's mean level (0.8 s time constant: sway
        # at 0.5 Hz and up moves it by under 0.4 of its swing) staying
        # within 1.5 deg of where it was for twice hold_enter_s in the
        # bottom zone is a hold too: the rate's test lets a calm heel sink
        # 1.5 deg in hold_enter_s, this one half as fast (a descent still
        # moving at 0.75 deg/s or more leaves the band; a hold's creep,
        # 1-3 deg over 15-20 s, stays in it)
        m = e[_E_SM]
        m += (f - m) >> 3
        e[_E_SM] = m
        if f < zone or peak < self._min_pk or self._cw is not None:
            e[_E_ST3F] = _HNONE
        elif e[_E_ST3F] == _HNONE or not -1500000 < m - e[_E_ST3F] < 1500000:
            e[_E_ST3] = t
            e[_E_ST3F] = m
        elif ticks_diff(t, e[_E_ST3]) >= 2 * eng.k_hold_enter:
            self._enter_hold(t, th)
            return
        # rising without a hold
        if reb and self._rising(t, th):
            # (a bottom judged short on its mean level: its sway's peak is no rep)
            if peak < self._min_pk or self._cw is not None:
                self.cancel("too shallow")
                return
            self._t_dend = self._desc_end(t, e[_E_BMAX])
            self._t_hs = self._hold_start(self._t_dend)
            self._enter_rise(t)
            return
        if peak < self._min_pk and self._thf < top + eng.k_top_band and wf < 0:
            self.cancel("too shallow")

    def _shallow(self):
        # a short stay at the bottom (no hold, or a short one) whose mean
        # level is shallower than a rep: a partial drop or a weight shift
        # whose peak sway or tremor took past the valid-rep depth (the
        # person's sway adds 0.3-2 deg, docs/DOMAIN.md section 7(b)). (The
        # bottom zone's mean is under its deepest point by about a
        # fifteenth of the travel when the heel turns straight back up.)
        # Only once two reps counted: until then the engine still learns
        # the frame from them (the axis from rests, the sign from depths)
        # A longer stay (a hold) is judged on the hold's mean level (the
        # depth it reports: sway averaged out), unless its peak went
        # deeper than sway and shake take the heel past the level it holds
        # (_SWAY_ADD_UDEG): a catch overshoot (2-6 deg, section 7(b)) is
        # the rep's own depth
        n = self._bot_n
        if self.reps_done < 2 or n <= 0:
            return False
        if n < _BOT_N:
            return self._bot_s < ((self._min_pk - (self._speak - self._rep_top) // 15) // 1000) * n
        s = self._depth_settled
        return s is not None and s < self._min_pk and self.e[E_PEAK] - s < _SWAY_ADD_UDEG

    def _rising(self, t, th):
        # A rise reaches the top; a rebound (bounce), a strap slip or a roll
        # transient and sway turn back. Confirm once the heel is back within
        # the top band, or 60 % of the way up and still rising after longer
        # than a bounce's rebound takes (560 ms: bounces are 1-3 Hz, up to
        # 10 deg even from a shallow depth) or staying there longer than a
        # bounce's cycle.
        e = self.e
        eng = self.eng
        if e[_E_BMAX] - th < eng.k_band:
            return False
        top = self._rep_top
        if th <= top + eng.k_top_band:
            return True
        up = ticks_diff(t, e[_E_BNEART])
        travel = e[E_PEAK] - top
        if th <= top + travel * 4 // 10 and (up >= 1500 or (up >= 600 and self._wf < 0)):
            return True
        # a partial rise that keeps going up for 1 s: up by a quarter of the
        # travel and by three hold bands at least (sway and corrective roll
        # steps never move the heel that far)
        came = e[_E_BMAX] - th
        return up >= 1000 and self._wf < -eng.k_rise_half and came >= travel // 4 and came >= 3 * eng.k_band

    def _desc_end(self, t, px):
        # end of the descent from a minimum-jerk fit of the crossing times.
        # Where the descent ends (P) is not the deepest point: sway adds to
        # it, and a slow descent's tail may not be over when the heel
        # settles. Of the P from the deepest point up to 5 deg less deep,
        # the one whose fit (10 % and 90 % of the travel) best predicts the
        # 30, 50 and 70 % crossings
        # (and px, where the heel rests now (a hold) or turned up from (a
        # rise with no hold), when a moment deeper than it set the peak)
        pk = self.e[E_PEAK]
        best = -1
        bres = 0
        for j in range(6):
            P = pk - j * 500000 if j < 5 else px
            if j == 5 and px > pk - 2 * _UDEG:
                break
            if self._fit_up(P) and (best < 0 or self._fit_res < bres):
                best = j
                bres = self._fit_res
        if best < 0 or not self._fit_up(pk - best * 500000 if best < 5 else px):
            top = self._rep_top
            if self._k_first - OFF > (top + (pk - top) // 10) // _UDEG + 1:
                # the descent's first tenth was never seen (the frame was
                # learned again with the heel already down): from when the
                # heel reached the bottom zone
                return self.e[_E_HOLDT]
            return self.e[_E_TPEAK] if self._settle is None else self._settle
        on = self._fit_on
        # the foot stood at rest where the level was first taken (on the
        # step; not a re-take, which a slow drop's start may be): no descent
        # began before (a fit bent by sway, or a first rep replayed once
        # the sign is known, can reach back tens of seconds: a rep that
        # started before the trace did)
        c = self.eng._cal_t1
        if ticks_diff(on, c) < 0:
            on = c
        if self._t_last_end is None or ticks_diff(on, self._t_last_end) >= 0:
            self._t_onset = on
        # (a fit extrapolates: its end is never after now)
        return t if ticks_diff(self._fit_end, t) > 0 else self._fit_end

    def _hold_start(self, t_dend):
        # the hold starts once the descent is over, and after any rebounds
        # at the bottom (counted as bounces or not: the heel settles after
        # the last one is back down)
        e = self.e
        tb = e[_E_REBEND]
        if 0 < ticks_diff(tb, t_dend) < 4000 and ticks_diff(tb, self.t_ms) <= 0:
            # a damped series goes on in rebounds smaller than a bounce
            # (decay 0.5-0.8 per cycle, docs/DOMAIN.md section 7(b)) when
            # its last bounce was under twice the bounce size
            # (bounce_min_deg, or the person's sway's if larger; a larger
            # one's next would be a bounce too): the hold starts where the
            # heel came to rest after it (rate under hold_rate_dps,
            # section 7(a)), a few cycles later at most
            c = self._rise_settle  # (the latest calm spell at the bottom began)
            if c is not None and e[_E_BCNT] > 0 and 0 < ticks_diff(c, tb) < _REB_CALM_MS:
                f = 500000 // max(1, e[_E_BUP])  # mHz (the view's gain undone, as in bounces_sync)
                amp = e[_E_BAMP]
                lim = self.eng.k_blim * 4 // 3  # (k_blim: 3/4 of bounce_min_deg, for the view)
                if e[_E_BLIM] > lim:
                    lim = e[_E_BLIM]
                if amp + amp * f // 4000 * f // 4000 < 2 * lim:
                    return c
            return tb
        return t_dend

    def _fit_up(self, P=None):
        # The descent from the top (level or raised) to P (default: the
        # peak): the times of its first upward crossings of the levels
        # nearest 10 % and 90 % of the travel, fitted to a minimum-jerk
        # profile. All in integers below 2**30 and no tuple (it runs every
        # tick of a descent): the result is in _fit_on, _fit_end, _fit_T,
        # _fast_mean and _fit_res (ms: how far the crossings of 30, 50 and
        # 70 % of the travel are from the fit, summed).
        e = self.e
        if P is None:
            P = e[E_PEAK]
        top = self._rep_top
        R = P - top
        if R < 3 * _UDEG:
            return False
        k1 = (top + R // 10) // _UDEG + 1  # first whole degree above 10 %
        k2 = (top + R * 9 // 10) // _UDEG  # last whole degree below 90 %
        i1 = k1 + OFF
        if i1 < self._k_first:
            i1 = self._k_first
            k1 = i1 - OFF
        i2 = k2 + OFF
        if k2 <= k1 or i2 >= e[_E_NEXTK] or i1 < 0:
            return False
        t1 = e[E_UP + i1]
        t2 = e[E_UP + i2]
        rc = R // 10000  # hundredths of a degree
        s1 = mj_inv((k1 * 100 - top // 10000) * Q14 // rc)
        s2 = mj_inv((k2 * 100 - top // 10000) * Q14 // rc)
        d = ticks_diff(t2, t1)
        if d <= 0 or s2 <= s1 or d > 30000:
            return False
        T = d * Q14 // (s2 - s1)  # ms
        if T <= 0 or T > 60000:
            return False
        res = 0
        for pc in (3, 5, 7):
            km = (top + R * pc // 10) // _UDEG
            im = km + OFF
            if km > k1 and km < k2 and im < e[_E_NEXTK]:
                sm = mj_inv((km * 100 - top // 10000) * Q14 // rc)
                d = ticks_diff(e[E_UP + im], ticks_add(t1, ((sm - s1) * (T >> 2)) >> 12))
                res += d if d > 0 else -d
        self._fit_res = res
        # the mean over 10-90 % of a minimum-jerk descent: 0.8 R / (0.50673 T)
        self._fast_mean = (R // 1000) * 1579 // T  # mdps
        self._fit_T = T
        self._fit_on = ticks_add(t1, -((s1 * (T >> 2)) >> 12))
        self._fit_end = ticks_add(t2, ((Q14 - s2) * (T >> 2)) >> 12)
        return True

    def _enter_hold(self, t, th):
        e = self.e
        self._t_dend = self._desc_end(t, self._thf)
        self._t_hs = self._hold_start(self._t_dend)
        e[E_STATE] = S_HOLD
        # (first crossings of new depths go on: a slow descent's tail may
        # turn slower than the hold rate, see _enter_rise)
        e[_E_HIN] = t
        self._hold_ref = e[E_PEAK]
        self._hold_in = t
        self.out("hold_start", t, depth_deg=udeg_c(th))
        self._hold_tick(t)

    def _hold_tick(self, t):
        el = ticks_diff(t, self._t_hs)
        while (self._hold_ticks + 1) * 1000 <= el:
            self._hold_ticks += 1
            self.out("hold_tick", t, hold_s=self._hold_ticks)
        if el > self.held_ms:
            self.held_ms = el
        if not self._hold_target_sent and el >= self.eng.k_hold_target:
            self._hold_target_sent = True
            self.out("hold_target", t, hold_s=ms_s(el))

    def mean_depth(self):
        # the mean depth of the reps done (udeg; the sign decision's
        # evidence): only once a rep is done
        return self.depth_sum // self.reps_done

    def quiet_ms(self):
        if self.e[E_STATE] == S_HOLD and self._quiet_since is not None:
            return ticks_diff(self.t_ms, self._quiet_since)
        return 0

    def hold_ms(self):
        if self.e[E_STATE] == S_HOLD:
            return max(0, ticks_diff(self.t_ms, self._t_hs))
        return 0

    # Bytecode, not native, as _step_desc: 10 times a second while the
    # heel is held, and as armv6m machine code 1.4 KB more of the heap the
    # board's code and data share (docs/DESIGN.md, RAM).
    def _step_hold(self, t, th):
        eng = self.eng
        if th > self._hold_ref:
            self._hold_ref = th
        # quiet: within the hold band (3 deg) of the hold's own level, sway
        # and all (what decides the sign: a raised top is never held long)
        if -eng.k_hold_rate < self._wf < eng.k_hold_rate:
            self._hold_last = self._thf  # where the hold rests now (the rise starts from here)
        # the hold's level: its mean (time constant ~4 s), which sway moves little
        if self._quiet_since is None:
            self._hold_avg = self._thf
        else:
            self._hold_avg += (self._thf - self._hold_avg) // 40
        d = self._thf - self._hold_avg
        if -eng.k_band <= d <= eng.k_band:
            if self._quiet_since is None:
                self._quiet_since = t
            q = ticks_diff(t, self._quiet_since)
            if q > self.quiet_max:
                self.quiet_max = q
            if q >= _QUIET_REP_MS and self._q_rep != self.rep:
                self._q_rep = self.rep
                self.quiet_reps += 1
        else:
            self._quiet_since = None
        # depth from the settled hold, once the accelerometer correction has
        # pulled out the gyro's scale error of the descent (a few tau)
        if ticks_diff(t, self._hold_in) >= 2 * eng.k_tau and -eng.k_hold_rate < self._wf < eng.k_hold_rate:
            # the depth: the hold's mean level over its last ~8 s (sway
            # averaged out, the creep of the hold's first 15-20 s included)
            if self._depth_settled is None:
                self._depth_settled = th
            else:
                self._depth_settled += (self._thf - self._depth_settled) // 80
        if self._bot_n < _BOT_N:
            self._bot_s += self._thf // 1000
            self._bot_n += 1
        reb = self.bounces_sync(t)
        if reb and self._rising(t, th):
            self._enter_rise(t)
            return
        if not reb:
            self._hold_tick(t)

    def _enter_rise(self, t):
        e = self.e
        if e[E_STATE] == S_HOLD and e[_E_TRACK] == 2 and ticks_diff(t, self._t_hs) < _REFIT_MS:
            # a short hold: the descent may have gone on in it (the tail of
            # a slow one turns slower than the hold rate, docs/DOMAIN.md
            # section 7(b): 2-6 s from level, longer from a raised top):
            # fitted again with the crossings since, it ends later, never
            # after now (the tempo's own fit stays)
            fm = self._fast_mean
            fT = self._fit_T
            on = self._t_onset
            de = self._desc_end(t, self._hold_last if self._hold_last else self._thf)
            if ticks_diff(de, self._t_dend) > 0 and ticks_diff(de, t) < 0:
                self._t_dend = de
                self._t_hs = self._hold_start(de)
            self._fast_mean = fm
            self._fit_T = fT
            self._t_onset = on
        # the rise began as a rebound: its fastest upward rate counts
        if -e[_E_BMINW] > self._peak_up:
            self._peak_up = -e[_E_BMINW]
        e[E_STATE] = _S_RISE
        e[_E_TRACK] = 0
        self._rise_settle = None  # (the calm at the bottom until now: see _step_desc)
        self._shal = self._shallow()
        e[_E_THMIN] = self.eng.th_now(self)
        e[_E_TTHMIN] = t
        # when the heel left the bottom: the fit of the rise so far, else
        # the last time it was within 0.5 deg of the bottom
        # (with no hold: the deep point of the rebound that became the
        # rise, not the rep's peak, which a moment deeper earlier set)
        H = self._hold_last if self._hold_last else e[_E_BMAX]
        self._rise_h = H
        fit = self._fit_dn(H, self.eng.th_now(self))
        r_on = fit[0] if fit is not None else e[_E_BNEART]
        if ticks_diff(r_on, t) > 0:
            r_on = t
        self._r_on0 = r_on
        self.out("rise_start", t, hold_s=ms_s(max(0, ticks_diff(r_on, self._t_hs))))
        if not self._snap and self._peak_up > self.eng.k_snap_peak:
            self._snap = True
            self.out("snap_up", t, speed_dps=c2(rdiv(self._peak_up, 10)))

    # Bytecode, not native, as _step_desc and _step_hold: 10 times a second
    # while rising; with _rising, 1.9 KB more of the heap as armv6m machine
    # code (docs/DESIGN.md, RAM).
    def _step_rise(self, t, th, wlmin):
        eng = self.eng
        e = self.e
        up = -wlmin
        if up > self._peak_up:
            self._peak_up = up
            if not self._snap and up > eng.k_snap_peak:
                self._snap = True
                self.out("snap_up", t, speed_dps=c2(rdiv(up, 10)))
        thf = self._thf
        wf = self._wf
        top = self._rep_top
        calm = -eng.k_hold_rate < wf < eng.k_hold_rate
        if thf < top + eng.k_top_band and calm:
            self._end_rep(t, t)
            return
        # settled near the top, which a strap slip may have moved: done too
        if calm and thf <= top + (e[E_PEAK] - top) * 3 // 10:
            if self._rise_settle is None:
                self._rise_settle = t
            elif ticks_diff(t, self._rise_settle) >= 500:
                self._end_rep(t, self._rise_settle)
                return
        else:
            self._rise_settle = None
        if th < top + eng.k_top_band // 2:
            self._end_rep(t, t)
            return
        # at rest for 2 s still over half the travel down: no rise (a real
        # one is minimum-jerk, 0.2-3 s in all, so at most 1.5 s on its
        # deeper half) but a dip in the hold (sway, a fidget, roll leaking
        # into pitch): the hold goes on
        if calm and thf > top + (e[E_PEAK] - top) // 2:
            if self._rise_hold is None:
                self._rise_hold = t
            elif ticks_diff(t, self._rise_hold) >= _RISE_HOLD_MS:
                self._back_to_hold(t)
                return
        else:
            self._rise_hold = None
        # going down again before reaching the top: a new rep (continuous
        # pumping, docs/DOMAIN.md section 7(b): no dwell, the rise ends at
        # the top and the next drop begins) - unless the rise never came 60
        # % of the way up from where it left the bottom and is still deeper
        # than the top band below level (a top is level +-2 deg or raised):
        # sway, a weight shift or roll leaking into the pitch lifted the
        # heel half way, a dip in the hold (the rep and its hold go on).
        # (Once the sign is known: until then the reps teach the frame, and
        # the pitch read through one still being learned may swing so)
        lo = e[_E_THMIN]
        if thf - lo > 4 * _UDEG and wf > eng.k_d_rate:
            h = self._rise_h
            if self.held is None and lo > (top if top > 0 else 0) + eng.k_top_band and h - lo < (h - top) * 6 // 10:
                self._back_to_hold(t)
                return
            onset = e[_E_TTHMIN]
            self._end_rep(t, onset)
            self._start_rep(t, onset)

    def _rebound_from(self, t, th):
        # the rebound tracker starts again at th (a rep's start, a hold
        # resumed): no rebound under way, the deepest and nearest now
        e = self.e
        e[_E_BMODE] = 0
        e[_E_BMAX] = th
        e[_E_BMAXT] = t
        e[_E_BSTART] = t
        e[_E_BSTH] = th
        e[_E_BNEART] = t

    def _back_to_hold(self, t):
        e = self.e
        th = self.eng.th_now(self)
        e[E_STATE] = S_HOLD
        e[_E_TRACK] = 0
        self._rebound_from(t, th)
        self._rise_hold = None
        self._rise_settle = None
        self._peak_up = 0
        self._quiet_since = None
        self._hold_last = self._thf
        self.out("hold_start", t, depth_deg=udeg_c(th))
        self._hold_tick(t)

    def _fit_dn(self, H, L):
        # the rise from H down to L (udeg): minimum-jerk fit of the last
        # downward crossings of the levels nearest 10 % and 90 % of it
        R = H - L
        if R < 3 * _UDEG:
            return None
        k_hi = (H - R // 10) // _UDEG  # last whole degree below H - 10 %
        k_lo = (H - R * 9 // 10) // _UDEG + 1  # first whole degree above H - 90 %
        if k_lo >= k_hi:
            return None
        i_hi = k_hi + OFF
        i_lo = k_lo + OFF
        if i_lo < 0 or i_hi >= NK:
            return None
        e = self.e
        t_hi = e[E_DN + i_hi]
        t_lo = e[E_DN + i_lo]
        s_hi = mj_inv((H - k_hi * _UDEG) * Q14 // R)
        s_lo = mj_inv((H - k_lo * _UDEG) * Q14 // R)
        d = ticks_diff(t_lo, t_hi)
        if d <= 0 or s_lo <= s_hi or ticks_diff(t_hi, self._t_hs) < 0:
            return None
        T = d * Q14 // (s_lo - s_hi)
        if T <= 0 or T > 60000:
            return None
        # the mean over 10-90 % of the fitted rise, as for the descent (the
        # crossings' own span is the faster middle of it, and sway makes it
        # shorter still)
        mean = (R // 1000) * 1579 // T  # mdps
        return ticks_add(t_hi, -(s_hi * T // Q14)), ticks_add(t_lo, (Q14 - s_lo) * T // Q14), mean

    def _res_dn(self, H, L):
        # How far the last crossings of 30, 50 and 70 % of the rise from H
        # down to L are from _fit_dn's fit of it (ms, summed), or -1 (no
        # fit): for the choice of where the rise ended. In hundredths of a
        # degree, every product under 2**30 and nothing returned but an
        # int: tried a few times at each rep's end, it allocates nothing
        # (a tuple or a long int each time fragmented the board's heap)
        R = H - L
        if R < 3 * _UDEG:
            return -1
        k_hi = (H - R // 10) // _UDEG
        k_lo = (H - R * 9 // 10) // _UDEG + 1
        if k_lo >= k_hi or k_lo + OFF < 0 or k_hi + OFF >= NK:
            return -1
        e = self.e
        t_hi = e[E_DN + k_hi + OFF]
        rc = R // 10000
        hc = H // 10000
        s_hi = mj_inv((hc - k_hi * 100) * Q14 // rc)
        s_lo = mj_inv((hc - k_lo * 100) * Q14 // rc)
        d = ticks_diff(e[E_DN + k_lo + OFF], t_hi)
        if d <= 0 or d > 30000 or s_lo <= s_hi or ticks_diff(t_hi, self._t_hs) < 0:
            return -1
        T = d * Q14 // (s_lo - s_hi)
        if T <= 0 or T > 60000:
            return -1
        res = 0
        for pc in (3, 5, 7):
            km = (H - R * pc // 10) // _UDEG
            if k_lo < km < k_hi:
                sm = mj_inv((hc - km * 100) * Q14 // rc)
                d = ticks_diff(e[E_DN + km + OFF], ticks_add(t_hi, (sm - s_hi) * T // Q14))
                res += d if d > 0 else -d
        return res

    def _end_rep(self, t, t_end, interrupted=False):
        if self._shal and not interrupted:
            # back at the top from a partial drop: no rep (cancelled here,
            # not at the bottom, so that the rise starts none)
            self.cancel("too shallow")
            self._t_last_top = t
            return
        eng = self.eng
        e = self.e
        peak = e[E_PEAK]
        top = self._rep_top
        H = self._hold_last if self._hold_last else (self._rise_h if self._rise_h else peak)
        low = e[_E_THMIN]
        if low < top:
            low = top
        fit = None
        if not interrupted:
            # Where the rise ended is not always the highest the heel came
            # up (_E_THMIN) before the rep ends: a sway swing as the heel
            # arrives (an unsupported person's, 1-2 deg at 0.1-1 Hz,
            # docs/DOMAIN.md section 7(b)) keeps the rep open and crosses
            # the levels near the top again on its way back, and the
            # accelerometer's correction moves the pitch the last degrees
            # to the level it reads after the gyro turned it through the
            # rise: the last crossing of the 90 % level is then seconds
            # late (a 46 deg/s rise read at 15). Of the ends from there up
            # to _RISE_END_UDEG deeper, the one whose fit best predicts the
            # 30, 50 and 70 % crossings, as for the descent's end (_desc_end)
            # (only when the fit to the highest point is off by more than
            # _RISE_RES_MS: the crossings of a clean rise are off by a few
            # sample periods at most, and a shallow one's end moved by half
            # a degree is 5 % of its travel)
            L = low
            best = low
            bres = self._res_dn(H, low)
            if 0 <= bres <= _RISE_RES_MS:
                L = low + _RISE_END_UDEG + 1
            while H - L >= 3 * _UDEG and L <= low + _RISE_END_UDEG:
                r = self._res_dn(H, L)
                if r >= 0 and (bres < 0 or r < bres):
                    best = L
                    bres = r
                L += 500000
            fit = self._fit_dn(H, best)
        if fit is not None:
            r_on, r_end, r_mean = fit
        else:
            r_on = self._r_on0 if e[E_STATE] == _S_RISE else t_end
            r_end = t_end
            r_mean = 0
        if ticks_diff(r_on, self._t_hs) < 0:
            r_on = self._t_hs
        if ticks_diff(r_end, r_on) < 0:
            r_end = r_on
        if ticks_diff(r_end, t) > 0 and ticks_diff(t, t_end) > 0:
            # the rise was seen to end before now (the heel turned down
            # into the next rep there, or settled): fits that end it later
            # (the rise's, or the descent's, which starts the hold and so
            # the rise) are wrong, and would put the next rep's onset after
            # its rep_start
            r_end = t_end
            if ticks_diff(r_on, r_end) > 0:
                r_on = r_end
        start = self._t_onset
        d_ms = ticks_diff(self._t_dend, start)
        if ticks_diff(r_on, self._t_dend) < 0:
            d_ms = ticks_diff(r_on, start)  # the descent ended by the rise's onset
        h_ms = max(0, ticks_diff(r_on, self._t_hs))
        r_ms = ticks_diff(r_end, r_on)
        depth = (self._depth_settled if self._depth_settled is not None else peak) - self._drift
        rise_u = H - low
        # nothing moved faster than the gyro can measure (its full scale): a
        # missing fit (a rise cut short) does not make a speed up
        vmax = eng.k_speed_max
        r_ms_min = rise_u // vmax + 1
        if r_ms < r_ms_min:
            r_ms = r_ms_min
        d_ms_min = (peak - top) // vmax + 1
        if d_ms < d_ms_min:
            d_ms = d_ms_min
        fmean = self._fast_mean
        d_speed = min(fmean if fmean else (peak - top) // d_ms, vmax)
        r_speed = min(r_mean if r_mean else rise_u // r_ms, vmax)
        # too fast from the fit (mean over 10-90 %, minimum-jerk peak 1.875x
        # the mean over the whole descent): sway does not bend crossing times much
        fpeak = ((peak - top) // 1000) * 1875 // self._fit_T if self._fit_T else 0  # mdps
        if self._fit_T:
            # the whole descent's fit has the last word on its mean; and on
            # a peak rate it does not bear out: a descent in the envelope
            # is minimum-jerk (docs/DOMAIN.md section 7(b)), its peak 1.19x
            # its mean over 10-90 %, so a peak past fast_descent_peak_dps
            # on a descent whose mean stayed under three quarters of
            # fast_descent_dps, and that came more than _FAST_TAIL_MS
            # away from the heel's first pass of 70 % of the depth it
            # settled at, was no part of it (a strap slip, a sway step,
            # samples missing: cued as it came, not counted). (Close to
            # that pass it was the drop, 0.3-1.2 s in all: the fit's 10 %
            # crossing may be sway at the top.)
            fr = self._fast_rate
            rate = fr is not None and fmean * 4 > eng.k_fast_mean * 3
            if fr is not None and not rate:
                s = self._depth_settled if self._depth_settled is not None else peak
                k = (top + (s - top) * 7 // 10) // _UDEG + OFF + 1
                rate = not self._k_first <= k < e[_E_NEXTK]
                if not rate:
                    d = ticks_diff(e[E_UP + k], fr)
                    rate = -_FAST_TAIL_MS <= d <= _FAST_TAIL_MS
            fast = rate or fmean > eng.k_fast_mean or fpeak > eng.k_fast_peak
        else:
            fast = self._fast
        if fast and not self._fast:
            # (the cue's speed, as the rep's: no faster than the gyro measures;
            # a fit over a few ms of crossings can say more)
            self.out("descent_too_fast", t, speed_dps=c2(rdiv(min(max(fmean, fpeak), vmax), 10)))
        snap = self._snap or r_mean > eng.k_snap_mean or self._peak_up > eng.k_snap_peak
        if snap and not self._snap:
            self.out("snap_up", t, speed_dps=c2(rdiv(min(max(r_mean, self._peak_up), vmax), 10)))
        self.desc_judge()
        ev = {
            "start_ms": start, "end_ms": r_end, "depth_deg": udeg_c(depth), "hold_s": ms_s(h_ms),
            "descent_s": ms_s(d_ms), "rise_s": ms_s(r_ms), "descent_speed_dps": c2(rdiv(d_speed, 10)),
            "rise_speed_dps": c2(rdiv(r_speed, 10)), "bounces": self._bounces,
            "max_roll_deg": c2(rdiv(self._max_roll, 10)), "fast_descent": fast,
            "roll_out": self._roll_out, "snap_up": snap, "twist": self._twisted,
            "no_hold": h_ms < eng.k_no_hold, "interrupted": interrupted,
        }
        # what the engine needs for its totals (taken out before it is emitted)
        ev["_tot"] = (h_ms, rdiv(depth, 10000), self._bounces,
                      None if (self._roll_out or self._twisted) else self._bl)
        self.out("rep_end", t, **ev)
        self.reps_done += 1
        if eng._walked == 2 and depth > eng.k_min_depth + _RESTRAP_UDEG:
            # a rep counted since the sensor was turned over, deeper than a
            # re-strap's own pitch (up to 4 deg) takes a shallow drop: it
            # was measured from the level as it stands, which a still spell
            # 4-8 deg from it no longer re-takes (a partial's hold, a hang;
            # heelcore.fusion _rest_done)
            eng._walked = 1
        self.depth_sum += depth
        e[E_LPK] = e[E_PEAK]
        e[E_LTOP] = self.top_ref
        e[_E_LVP] = 1 if self.top_ref > -eng.k_top_band else 0
        self._t_last_end = r_end
        self.last_start = start
        self._to_top(t)
        self._tmin = _TOP_OPEN
        self._lvl_t = -1
        self._t_last_top = t

    def interrupt(self, t_last, gap_ms):
        """A gap in time longer than the engine tolerates: the rep in progress
        ends at the last sample before it, as interrupted (never as hold)."""
        e = self.e
        st = e[E_STATE]
        if st < S_DESC:
            return
        self.t_ms = t_last
        eng = self.eng
        if e[E_PEAK] >= self._min_pk and st >= S_HOLD:
            if st == S_HOLD:
                self._hold_tick(t_last)
                self._r_on0 = t_last
                e[E_STATE] = _S_RISE
            self._end_rep(t_last, t_last, True)
        else:
            self.cancel("a gap of %d s in the samples" % (gap_ms // 1000), True)


def _wrap180(d):
    # an angle difference (udeg) into [-180, 180) degrees
    while d >= 180 * _UDEG:
        d -= 360 * _UDEG
    while d < -180 * _UDEG:
        d += 360 * _UDEG
    return d
