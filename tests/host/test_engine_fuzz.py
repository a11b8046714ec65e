"""Property test: physically consistent motion scripts never crash the engine
nor make it emit anything outside its contract (docs/EVENTS.md).

tests/host/test_engine_props.py feeds arbitrary integer samples: noise, which
never gets the engine calibrated, its axis learned and a rep under way with
the foot then turned over. Here hypothesis writes scripts of what a person
can do with the sensor strapped to the heel: a still start or none, heel
drops of any depth (far past the envelope: -180..180 deg), rolls and yaws of
any size, rests in any pose for 0-120 s, the foot turned over to re-strap
the sensor, walking strides, a 5-8 Hz shake, side switches (the button:
Engine.set_side), gaps in the samples; at 12.5 Hz-1 kHz, any mounting, any
gyro and accelerometer range (the chip saturates where it does), gyro bias,
postural sway, the heel's acceleration about the forefoot. tests/shared/minisim.py
turns a script into the sensor's integer counts (one rigid-body motion:
rates and accelerations are the orientation's own derivatives).

Every example runs on CPython. `make test` runs a fixed, derandomized set
(reproducible in CI); `make fuzz` runs a long random search
(HEELDROP_FUZZ_EXAMPLES, HEELDROP_FUZZ_SAMPLES: examples and samples each).
A failure prints its script: `run_script(SCRIPT)` replays it exactly.
"""
import bisect
import math
import os
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heelcore.config import Config
from heelcore.engine import Engine
from heelcore.ticks import TICKS_PERIOD, ticks_diff

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared"))
from minisim import _mj, generate  # noqa: E402
from test_engine_props import check_invariants  # noqa: E402

LONG = int(os.environ.get("HEELDROP_FUZZ_EXAMPLES", "0"))
# samples an example may have (the script's length times its rate): the
# rate drops to the fastest that fits, then the script is cut
MAX_SAMPLES = int(os.environ.get("HEELDROP_FUZZ_SAMPLES", "0")) or (40000 if LONG else 6000)

RATES = (12.5, 25.0, 50.0, 52.0, 100.0, 104.0, 200.0, 208.0, 400.0, 416.0, 833.0, 1000.0)
# the chips' ranges: gyro LSB per deg/s (250, 500, 1000, 2000 deg/s full
# scale), accelerometer LSB per g (2, 4, 8, 16 g)
GYRO_LSB = (131.0, 65.5, 32.8, 16.4)
ACCEL_LSB = (16384, 8192, 4096, 2048)
PEAK_DPS = 1500.0  # no foot turns faster: a move's duration is at least what this allows


# ------------------------------------------------------------ the script
# A script is a plain dict (printable, replayable):
#   rate, mount (0-11), tilt (deg), side ("left"/"right": the engine's
#   configured side), glsb, alsb, bias (deg/s x3), sway (pitch, roll deg),
#   radius (m), t0_ms, segs: a list of
#   ("rest", dur)                    the foot stays in its pose
#   ("move", dur, dp, dr, dy)        min-jerk turn by (pitch, roll, yaw) deg
#   ("drop", depth, descent, hold, rise)   a heel drop from the pose and back
#   ("walk", cycles, freq, amp, stride)    strides: pitch swings +-amp, the
#                                    foot travels stride m a cycle
#   ("shake", dur, freq, amp)        a shake of amp deg at freq Hz
#   ("gap", dur, dp, dr, dy)         no samples while the foot turns
#   ("side",)                        the side switched (button)
# Pitch + is the heel down (minisim.foot_R), roll + the left foot's inversion.

def _pose_add(p, d):
    return (p[0] + d[0], p[1] + d[1], p[2] + d[2])


def _move_dur(dur, d):
    # no faster than a foot turns: min-jerk peak rate is 1.875 x the mean
    big = max(abs(d[0]), abs(d[1]), abs(d[2]))
    return max(dur, 1.875 * big / PEAK_DPS, 0.01)


def compile_script(sc):
    """The script as timed pieces: (t0, t1, kind, pose0, pose1, arg), the
    gaps' windows, the side switches' times, its length (s)."""
    pieces = []
    gaps = []
    sides = []
    t = 0.0
    pose = (0.0, 0.0, 0.0)

    def put(dur, kind, to, arg=None):
        nonlocal t, pose
        pieces.append((t, t + dur, kind, pose, to, arg))
        t += dur
        pose = to

    for seg in sc["segs"]:
        k = seg[0]
        if k == "rest":
            put(seg[1], "rest", pose)
        elif k in ("move", "gap"):
            d = (seg[2], seg[3], seg[4])
            dur = _move_dur(seg[1], d)
            if k == "gap":
                gaps.append((t, t + dur))
            put(dur, "move", _pose_add(pose, d))
        elif k == "drop":
            depth, descent, hold, rise = seg[1:]
            p0 = pose
            put(_move_dur(descent, (depth, 0, 0)), "move", _pose_add(pose, (depth, 0.0, 0.0)))
            put(hold, "rest", pose)
            put(_move_dur(rise, (depth, 0, 0)), "move", p0)
        elif k == "walk":
            cycles, freq, amp, stride = seg[1:]
            put(cycles / freq, "walk", pose, (freq, amp, stride))
        elif k == "shake":
            put(seg[1], "shake", pose, (seg[2], seg[3]))
        elif k == "side":
            sides.append(t)
        else:
            raise ValueError(seg)
    return pieces, gaps, sides, t + 1.0


def _motion(pieces):
    starts = [p[0] for p in pieces]
    xs = []  # where the foot stands (m forward) at each piece's start
    x = 0.0
    for p in pieces:
        xs.append(x)
        if p[2] == "walk":
            x += p[5][2] * (p[1] - p[0]) * p[5][0]

    def at(t):
        # (pitch, roll, yaw) deg and the foot's position (m) at t
        i = bisect.bisect_right(starts, t) - 1
        if i < 0:
            return (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
        t0, t1, kind, a, b, arg = pieces[i]
        if t >= t1:
            x = xs[i] + (arg[2] * (t1 - t0) * arg[0] if kind == "walk" else 0.0)
            return b, (x, 0.0, 0.0)
        s = (t - t0) / (t1 - t0)
        here = (xs[i], 0.0, 0.0)
        if kind == "move":
            m = _mj(s)
            return (a[0] + (b[0] - a[0]) * m, a[1] + (b[1] - a[1]) * m, a[2] + (b[2] - a[2]) * m), here
        if kind == "walk":
            freq, amp, stride = arg[:3]
            w = 2 * math.pi * freq * (t - t0)
            # a stride: the heel rises at push-off and strikes toes up, the
            # foot travels and lifts; rates and accelerations start and end at 0
            p = amp * (math.sin(w) - 0.5 * math.sin(2 * w))
            r = 0.2 * amp * (1 - math.cos(w)) / 2
            lx = xs[i] + stride * (freq * (t - t0) - math.sin(w) / (2 * math.pi))
            return (a[0] + p, a[1] + r, a[2]), (lx, 0.0, 0.04 * (1 - math.cos(w)) / 2)
        if kind == "shake":
            freq, amp = arg
            env = _mj(min(1.0, 5 * s, 5 * (1 - s)))
            w = 2 * math.pi * freq * (t - t0)
            return (a[0] + amp * env * math.sin(w), a[1] + 0.5 * amp * env * math.cos(w), a[2]), here
        return a, here

    def extra(t):
        return at(t)[0]

    def lin(t):
        return at(t)[1]

    return extra, lin


def fit(sc):
    """The script cut to MAX_SAMPLES: the rate lowered to the fastest that
    fits, then segments dropped from the end."""
    sc = dict(sc)
    segs = list(sc["segs"])
    while True:
        length = compile_script(dict(sc, segs=segs))[3]
        rate = sc["rate"]
        while rate > RATES[0] and length * rate > MAX_SAMPLES:
            rate = max(r for r in RATES if r < rate)
        if length * rate <= MAX_SAMPLES or len(segs) <= 1:
            sc["rate"] = rate
            sc["segs"] = segs
            return sc
        segs = segs[:-1]


def run_script(sc):
    """Feed the script's samples; return the engine and its events (and
    check, sample by sample, that no event is dated after the sample it
    came from)."""
    pieces, gaps, sides, length = compile_script(sc)
    extra, lin = _motion(pieces)
    eng = Engine(Config(side=sc["side"]), accel_lsb_per_g=sc["alsb"], gyro_lsb_per_dps=sc["glsb"])
    rate = sc["rate"]
    t0 = sc["t0_ms"]
    evs = []
    sides = list(sides)
    side = sc["side"]
    walking = any(p[2] == "walk" for p in pieces)

    def take(n, now):
        while n:
            e = eng.pop_event()
            assert ticks_diff(now, e["t_ms"]) >= 0, ("an event dated after its sample", now, e)
            evs.append(e)
            n -= 1

    i = -1
    for s in generate([], length, rate_hz=rate, mount=sc["mount"], tilt_deg=sc["tilt"], alsb=sc["alsb"],
                      glsb=sc["glsb"], bias=sc["bias"], sway=sc["sway"], radius=sc["radius"], extra=extra,
                      lin=lin if walking else None, t0_ms=t0):
        i += 1
        t = i / rate
        while sides and sides[0] <= t:
            side = "right" if side == "left" else "left"
            ts = (t0 + int(round(sides.pop(0) * 1000))) % TICKS_PERIOD
            take(eng.set_side(side, ts), ts)
        if any(g0 <= t < g1 for g0, g1 in gaps):
            continue
        take(eng.step(*s), s[0])
    take(eng.finish(), eng.t_ms)
    return eng, evs


def check(sc):
    eng, evs = run_script(sc)
    check_invariants(evs, max_speed=32768 / sc["glsb"])
    summary = eng.summary()
    ends = [e for e in evs if e["type"] == "rep_end"]
    sides = summary["sides"]
    assert summary["reps"] == len(ends) == sides["left"]["reps"] + sides["right"]["reps"], (summary, len(ends))
    return eng, evs


# ------------------------------------------------------------ strategies
f = st.floats
angle = f(-180.0, 180.0)
depth = st.one_of(f(3.0, 45.0), angle)  # the envelope's depths, and any

segment = st.one_of(
    st.tuples(st.just("rest"), st.one_of(f(0.0, 3.0), f(0.0, 120.0))),
    st.tuples(st.just("move"), f(0.0, 8.0), angle, st.one_of(st.just(0.0), angle), st.one_of(st.just(0.0), angle)),
    st.tuples(st.just("drop"), depth, f(0.2, 8.0), st.one_of(f(0.0, 12.0), f(0.0, 70.0)), f(0.15, 5.0)),
    st.tuples(st.just("drop"), depth, f(0.2, 8.0), st.one_of(f(0.0, 12.0), f(0.0, 70.0)), f(0.15, 5.0)),
    # turned over to re-strap the sensor: over, a rest, back
    st.builds(lambda p, r, d, rest: ("move", d, p, r, 0.0), f(-180.0, 180.0), f(90.0, 180.0) | f(-180.0, -90.0),
              f(0.3, 3.0), f(0.0, 1.0)),
    st.tuples(st.just("walk"), st.integers(1, 8), f(0.6, 1.4), f(10.0, 60.0), f(0.0, 1.6)),
    st.tuples(st.just("shake"), f(0.2, 8.0), f(5.0, 8.0), f(0.1, 4.0)),
    st.tuples(st.just("gap"), st.one_of(f(0.02, 3.0), f(0.0, 30.0)), st.one_of(st.just(0.0), angle),
              st.just(0.0), st.just(0.0)),
    st.just(("side",)),
)

# a still start at level (most scripts) before whatever follows
still_start = st.one_of(st.just([]), st.tuples(st.just("rest"), f(0.0, 10.0)).map(lambda s: [s]),
                        st.tuples(st.just("rest"), f(1.6, 10.0)).map(lambda s: [s]))


@st.composite
def scripts(draw):
    segs = draw(still_start) + draw(st.lists(segment, min_size=1, max_size=12))
    bias_max = draw(st.sampled_from((0.0, 1.0, 20.0)))
    sc = {
        "rate": draw(st.sampled_from(RATES)),
        "mount": draw(st.integers(0, 11)),
        "tilt": draw(st.one_of(st.just(0.0), f(0.0, 30.0))),
        "side": draw(st.sampled_from(("left", "right"))),
        "glsb": draw(st.sampled_from(GYRO_LSB)),
        "alsb": draw(st.sampled_from(ACCEL_LSB)),
        "bias": tuple(draw(f(-bias_max, bias_max)) for _ in range(3)),
        "sway": (draw(f(0.0, 2.0)), draw(f(0.0, 3.0))),
        "radius": draw(st.sampled_from((0.0, 0.15, 0.2))),
        "t0_ms": draw(st.one_of(st.just(0), st.integers(0, TICKS_PERIOD - 1),
                                st.integers(TICKS_PERIOD - 60000, TICKS_PERIOD - 1))),
        "segs": segs,
    }
    return fit(sc)


@settings(max_examples=LONG or 25, deadline=None, derandomize=not LONG, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scripts())
def test_physical_motion_scripts_keep_the_event_contract(sc):
    check(sc)


# the envelope's own session shapes, then something past it: the states the
# fuzz above reaches only by luck (calibrated, axis learned, sign decided,
# mid-rep) reached every time
@settings(max_examples=LONG or 15, deadline=None, derandomize=not LONG, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(segment, min_size=1, max_size=6), st.integers(0, 3), st.data())
def test_a_set_under_way_then_anything(tail, where, data):
    set_ = [("rest", 3.0), ("drop", 24.0, 3.0, 10.0, 2.0), ("rest", 2.0), ("drop", 22.0, 3.0, 9.0, 2.0),
            ("rest", 2.0), ("drop", 25.0, 3.0, 9.0, 2.0)]
    # the tail interrupts the set after a descent, a hold or a rise
    head = set_[:3 + where] + ([("move", 3.0, 24.0, 0.0, 0.0)] if where % 2 else [])
    sc = {"rate": data.draw(st.sampled_from((12.5, 50.0, 100.0, 208.0))), "mount": data.draw(st.integers(0, 11)),
          "tilt": 10.0, "side": "left", "glsb": data.draw(st.sampled_from(GYRO_LSB)), "alsb": 8192,
          "bias": (2.0, -3.0, 1.0), "sway": (0.5, 1.0), "radius": 0.17, "t0_ms": 0,
          "segs": head + tail + set_[1:4]}
    check(fit(sc))
