"""Named scenarios: the person, the session and every nuisance, drawn from a
seed over the whole ranges of docs/DOMAIN.md §7(b), edges included.

A scenario's name only says what it emphasises (which fault is scripted
often, which session feature is forced); every other parameter is drawn over
its whole normal and edge range in every scenario, and reps near each
threshold of docs/DOMAIN.md §7(a) (on both sides of it) occur everywhere. The truth
labels follow the definitions (``truth.py``), so a scripted "too fast" rep
that happens to come out at 19 deg/s is labelled not fast, and a "normal"
1-second rise of a 40-degree rep is labelled a snap-up.

What is drawn, and from where (the table is repeated in docs/EVALUATION.md):

==========================  =================================================
parameter                   range
==========================  =================================================
variant                     straight knee (60 %) / bent knee
depth (person)              N(24, 6) straight, N(22, 7) bent, clipped [8, 40];
                            stiff 10-18 (20 %); + 0-12 weeks x 0-1 deg/week
                            (plateau, regression -0.5); per rep SD 1-2
L/R asymmetry (2 sides)     N(+1, 2.5) or the affected side -5..-15
top                         level U(-2, 2) or raised -N(14, 5) in [-25, -5]
descent (level -> bottom)   2-6 s min-jerk; too fast 20-80 deg/s mean in
                            0.3-1.2 s (peak <= 150), catch overshoot 2-6 deg
                            in 0.1-0.3 s
hold                        10-60 s (uniform, or around a 15/30/45/60 s
                            target), short 2.5-10 s, no-hold 0-1.5 s
creep                       1-3 deg (edge 0-1, 3-5), tau 6-10 s
fidgets in the hold         1-3 of 1-2 deg over 0.4-1.2 s
rebounds                    1-3 Hz, 2-6 cycles, mild 2-4 / severe 5-10 deg
                            p-p, damped 0.5-0.8 per cycle or not
rise (bottom -> top)        1-3 s; snap-up 60-150 deg/s mean in 0.2-0.6 s
                            (peak <= 240)
top dwell                   0.5-3 s, or none (continuous pumping)
roll coupling k             N(0.26, 0.1) in [0, 0.56]
roll-out                    +8..+25 deg at 10-60 deg/s, for 0.5-5 s, at the
                            bottom or during the rise; eversion -5..-12
yaw                         +-0-3 deg; twist 10-25 deg over 0.3-2 s
near a threshold            descent 10-90 % speed 16-24 deg/s, rise 32-48,
                            rise time 0.51-0.69 s, extra roll 13-17 deg,
                            roll rate peak 38-54 deg/s, yaw 17-23 deg,
                            hold 1.5-2.5 s, rebound 2.5-3.5 deg near 15
                            deg/s, depth 6.5-9.5 deg
==========================  =================================================

Session: still start 2-5 s (sway at full strength), walking to the step and
stepping up (25 %), a fidget before the start, a rise onto the toes before
the first drop (20 %, always with a raised top), first reps that are too
fast, unheld, shallow or a partial drop (30 %), partial drops, weight shifts
between reps, a second set after a 20-120 s rest (20 %; 2-3 sets in
"sets"), both sides (12 %; always in "session") with a re-strap of 5-30 s
turning the sensor by 40-180 deg and the second side starting with a rise
onto the toes half the time, walking away at the end. A rest is a sequence of
poses (``rest_plan``): at level with weight shifts, up on the toes (5-25 deg,
3 s up to the whole rest), the heel hanging relaxed 2-6 deg below level, the
foot moved on the step, the strap redone (the foot lifted, the sensor turned
over 90-180 deg for 5-30 s), off the step on the floor.
"""
import numpy as np

from .script import MJ_MEAN, Script
from .truth import (BOUNCE_PP, BOUNCE_RATE, FAST_MEAN, MIN_DEPTH, NO_HOLD_S, ROLL_OUT_DEG, ROLL_RATE_DPS,
                    SNAP_MEAN, SNAP_TIME_S, TWIST_DEG)

SCENARIOS = (
    "ideal", "realistic_good", "too_fast", "bounce_mild", "bounce_severe", "no_hold",
    "snap_up", "roll_out", "inward_roll", "twist", "slip_midset", "uncalibrated_bias",
    "shoe_mount", "fatigue_tremor", "mixed_faults", "shuffle", "walk_to_step", "session",
    "raised_top", "pumping", "unsupported", "toe_rise", "near_threshold", "sets", "first_rep",
)
# the scenarios of the accuracy splits (all but the noise-free one)
EVAL_SCENARIOS = SCENARIOS[1:]

FAULTS = ("too_fast", "bounce_mild", "bounce_severe", "no_hold", "snap_up", "roll_out", "twist")
NEAR = ("descent", "rise", "rise_time", "roll", "roll_rate", "twist", "hold", "bounce", "depth")
FIRST_KINDS = ("fast", "unheld", "shallow", "partial")

# scripted-fault probability per rep and kind: emphasised scenarios, base
EMPHASIS = {f: {f: 0.6} for f in FAULTS}
EMPHASIS["inward_roll"] = {"inward_roll": 0.6}
EMPHASIS["mixed_faults"] = {f: 0.1 for f in FAULTS + ("inward_roll",)}
# elsewhere (twist and roll-out more often: only part of their documented
# ranges, 10-25 and 8-25 deg, is past the fault threshold)
BASE_FAULT_P = {"too_fast": 0.02, "bounce_mild": 0.03, "bounce_severe": 0.02, "no_hold": 0.02, "snap_up": 0.02,
                "roll_out": 0.05, "twist": 0.12, "inward_roll": 0.02}
NEAR_P = 0.2

# sweep / test overrides (render(..., overrides=...)): benign (calm sensor and
# sway, no extras), sway (pitch amplitude, roll 1.5x), gyro_bias (deg/s, every
# axis), hold (every rep), hold_normal (every rep not scripted no-hold),
# descent_speed (deg/s level -> bottom, every rep), bounce_pp (rebounds of
# that size on every rep), misalign_scale (x 10/15/20 deg), noise_scale,
# n_reps, faults_p (each fault kind's probability per rep), still_s
OVERRIDE_KEYS = ("benign", "sway", "gyro_bias", "hold", "hold_normal", "descent_speed", "bounce_pp",
                 "misalign_scale", "noise_scale", "n_reps", "faults_p", "still_s")


def _u(rng, lo, hi):
    return float(rng.uniform(lo, hi))


def person(rng, scenario="realistic_good", ov=None, demo=False):
    """The person: depth, tempo, coupling, top, habits (docs/DOMAIN.md §1.2-1.5, §2, §7(b))."""
    ov = ov or {}
    benign = bool(ov.get("benign")) or demo
    variant = "straight-knee" if (scenario == "ideal" or rng.random() < 0.6) else "bent-knee"
    stiff = rng.random() < 0.2
    if stiff:
        depth = _u(rng, 10, 18)
    elif variant == "straight-knee":
        depth = float(rng.normal(24, 6))
    else:
        depth = float(rng.normal(22, 7))
    # weeks into a programme: +0-1 deg a week, or a plateau / a regression
    week = _u(rng, 0, 12)
    g = rng.random()
    gain = _u(rng, 0, 1) if g < 0.6 else (0.0 if g < 0.85 else -_u(rng, 0, 0.5))
    depth = float(np.clip(depth + week * gain, 8, 40))
    c = rng.random()
    creep = _u(rng, 1, 3) if c < 0.8 else (_u(rng, 0, 1) if c < 0.9 else _u(rng, 3, 5))
    raised = scenario == "raised_top" or (scenario != "ideal" and not benign and rng.random() < 0.3)
    top_raised = -float(np.clip(rng.normal(14, 5), 5, 25))
    top_level = _u(rng, -2, 2) if scenario != "ideal" else 0.0
    a = rng.random()
    asym = float(rng.normal(1.0, 2.5)) if a < 0.7 else -_u(rng, 5, 15)
    pumping = scenario == "pumping" or (not benign and rng.random() < 0.15)
    return {
        "variant": variant, "stiff": bool(stiff), "week": round(week, 2), "weekly_gain": round(gain, 3),
        "depth": depth,
        "rep_sd": _u(rng, 1, 2),
        "k": float(np.clip(rng.normal(0.26, 0.1), 0.0, 0.56)),
        "r": _u(rng, 0.15, 0.20),
        "h": _u(rng, 0.02, 0.05),
        "creep": creep,
        "creep_tau": _u(rng, 6, 10),
        "raised": bool(raised),
        "top": top_raised if raised else top_level,
        "t_descent": _u(rng, 2, 6),
        "t_rise": _u(rng, 1, 3),
        "pumping": bool(pumping),
        "target": float(rng.choice([15.0, 30.0, 45.0, 60.0])),
        "asym": asym,
        "slip_p": _u(rng, 0.01, 0.05),
        "skin_creep": _u(rng, 0.05, 0.2),
    }


def _bump(amp, up, plateau, down, at, where="start"):
    return {"amp": float(amp), "up": float(up), "plateau": float(plateau), "down": float(down),
            "at": float(at), "where": where}


def _rep_len(p):
    return p["t_descent"] + p["settle"] + p["hold"] + p["t_rise"]


def _fit_bump(rng, amp, p, up, plateau, down, at=None):
    """Place a bump inside the rep (descent start .. rise end), shrinking the
    plateau first, then all of it, if it does not fit."""
    at = float(rng.uniform(0.0, 0.5)) if at is None else at
    avail = _rep_len(p) - at - 0.05
    if up + plateau + down > avail:
        plateau = max(0.0, avail - up - down)
    total = up + plateau + down
    if total > avail:
        f = max(avail, 0.05) / total
        up, plateau, down = up * f, plateau * f, down * f
    return _bump(amp, up, plateau, down, at)


def _bounces(rng, amp0, hz, cycles, damp, travel=None):
    """Rebounds (p-p amplitude, Hz); a rebound never lifts the heel more than
    70 % of the way back to the top."""
    if travel is not None:
        amp0 = min(amp0, 0.7 * travel)
    b, a = [], amp0
    for _ in range(cycles):
        b.append((float(a), float(hz)))
        a *= damp
        if a < 0.5:
            break
    return b


def _hold(rng, pers, ov, short, demo):
    if "hold" in ov:
        return float(ov["hold"])
    if "hold_normal" in ov:  # the sweep's baseline: scripted no-holds stay no-holds
        return float(ov["hold_normal"])
    if demo:
        return _u(rng, 18, 22)
    if short:
        return _u(rng, 2.5, 6.0)
    x = rng.random()
    if x < 0.12:
        return _u(rng, 2.5, 10.0)  # short holds: between no-hold and the 10 s minimum
    if x < 0.56:
        return float(np.clip(pers["target"] * rng.uniform(0.6, 1.1), 10, 60))
    return _u(rng, 10, 60)


def rep_plan(rng, pers, faults=(), near=None, ov=None, top0=0.0, first=None, short=False, demo=False,
             depth=None):
    """One rep's script, starting at pitch ``top0``. ``faults`` from FAULTS
    (plus 'inward_roll'), ``near`` from NEAR, ``first`` from FIRST_KINDS."""
    ov = ov or {}
    faults = set(faults)
    p = {"faults": sorted(str(f) for f in faults), "near": None if near is None else str(near),
         "first": first}
    D = float(np.clip(rng.normal(pers["depth"] if depth is None else depth, pers["rep_sd"]), 8, 40))
    if near == "depth":
        D = _u(rng, 6.5, 9.5)
    if first == "shallow":
        D = _u(rng, 8.0, 12.0)
    if first == "partial":
        D = _u(rng, 3.0, 8.0)
    p["depth"] = D
    top = pers["top"] + (float(rng.normal(0, 1.0)) if pers["raised"] else _u(rng, -0.5, 0.5))
    top = float(np.clip(top, -25, -5)) if pers["raised"] else float(np.clip(top, -2, 2))
    p["top"] = top
    travel = max(D - top0, 1.0)
    # -- descent
    if "descent_speed" in ov:
        T = travel / float(ov["descent_speed"])  # the same mean speed level -> bottom
    elif "too_fast" in faults or first == "fast":
        v = _u(rng, 20, 80)  # mean speed level -> bottom
        tl = float(np.clip(D / v, 0.3, 1.2))
        tl = max(tl, 1.875 * D / 150.0)
        T = tl * travel / D
        if rng.random() < 0.5:
            p["overshoot"] = _u(rng, 2, 6)
            p["overshoot_s"] = _u(rng, 0.1, 0.3)
    elif near == "descent":
        T = MJ_MEAN * travel / (FAST_MEAN * rng.uniform(0.8, 1.2))
    else:
        tl = float(np.clip(pers["t_descent"] * rng.uniform(0.85, 1.15), 2, 6))
        T = tl * travel / D
    p["t_descent"] = float(max(T, 0.05))
    # -- bottom: rebounds
    b = []
    if "bounce_pp" in ov:
        if ov["bounce_pp"] > 0:
            b = _bounces(rng, float(ov["bounce_pp"]), _u(rng, 1, 3), int(rng.integers(2, 5)), 1.0, travel)
    elif "bounce_mild" in faults or "bounce_severe" in faults:
        a0 = _u(rng, 2, 4) if "bounce_mild" in faults else _u(rng, 5, 10)
        damp = 1.0 if rng.random() < 0.5 else _u(rng, 0.5, 0.8)
        b = _bounces(rng, a0, _u(rng, 1, 3), int(rng.integers(2, 7)), damp, travel)
    elif near == "bounce":
        a0 = _u(rng, 2.5, 3.5)
        hz = float(np.clip(BOUNCE_RATE * rng.uniform(0.8, 1.2) / (np.pi * a0), 1.0, 3.0))
        b = _bounces(rng, a0, hz, int(rng.integers(1, 4)), 1.0, travel)
    p["bounces"] = b
    p["settle"] = (p.get("overshoot_s", 0.0) if p.get("overshoot") else 0.0) + sum(1.0 / f for _, f in b)
    # -- hold
    if "hold" in ov:
        hold = float(ov["hold"])
    elif "no_hold" in faults or first == "unheld":
        hold = _u(rng, 0.0, 1.5)
    elif near == "hold":
        hold = _u(rng, NO_HOLD_S - 0.5, NO_HOLD_S + 0.5)
    elif first == "partial":
        hold = _u(rng, 0.0, 3.0)
    else:
        hold = _hold(rng, pers, ov, short, demo)
    p["hold"] = float(hold)
    # near the valid-rep depth (and in partial drops) the peak is the drop
    # itself: little creep, no fidgets, so that it lands on both sides of 8 deg
    shallow = first == "partial" or near == "depth"
    p["creep"] = float(pers["creep"] * rng.uniform(0.8, 1.2)) * (0.2 if shallow else 1.0)
    p["creep_tau"] = pers["creep_tau"]
    fid = []
    if hold > 3.5 and rng.random() < 0.4 and not ov.get("benign") and not shallow:
        for _ in range(int(rng.integers(1, 4))):
            dur = _u(rng, 0.4, 1.2)
            fid.append((_u(rng, 1.0, max(1.01, hold - dur - 0.5)), float(rng.choice([-1, 1]) * rng.uniform(1, 2)), dur))
    p["fidgets"] = fid
    # -- rise
    rtravel = max(D + p["creep"] - top, 1.0)
    if "snap_up" in faults:
        v = _u(rng, 60, 150)
        T = float(np.clip(rtravel / v, 0.2, 0.6))
        T = max(T, 1.875 * rtravel / 240.0)
        p["snap_wobble"] = _u(rng, 0.1, 0.5)
    elif near == "rise":
        T = MJ_MEAN * rtravel / (SNAP_MEAN * rng.uniform(0.8, 1.2))
    elif near == "rise_time":
        T = SNAP_TIME_S * rng.uniform(0.85, 1.15)
    else:
        T = float(np.clip(pers["t_rise"] * rng.uniform(0.8, 1.2), 1, 3))
    p["t_rise"] = float(T)
    if pers["pumping"]:
        p["dwell"] = 0.0 if rng.random() < 0.8 else _u(rng, 0.5, 3.0)
    else:
        p["dwell"] = _u(rng, 0.5, 3.0) if rng.random() < 0.95 or ov.get("benign") else 0.0
    p["wobble_hz"] = _u(rng, 10, 20)
    # -- roll (extra, side-corrected: + = inversion / roll-out)
    if "roll_out" in faults:
        amp = _u(rng, 8, 25)
        up = amp / rng.uniform(10, 60)
        plateau, down = _u(rng, 0.5, 5.0), _u(rng, 0.3, 1.5)
        if rng.random() < 0.4:
            # starts at the end of the hold and carries on into the rise
            x = _u(rng, 0.1, 0.4)
            at = max(0.0, p["hold"] - up - x)
            down = min(down, 0.5 * p["t_rise"])
            plateau = max(0.05, p["hold"] - at - up + p["t_rise"] - down - 0.05)
            p["roll"] = _bump(amp, up, plateau, down, at, "hold")
        else:
            at = p["t_descent"] + p["settle"] + _u(rng, 0.0, 0.5)
            p["roll"] = _fit_bump(rng, amp, p, up, plateau, down, at=at)
    elif "inward_roll" in faults:
        amp = _u(rng, 5, 12)
        p["roll"] = _fit_bump(rng, -amp, p, amp / rng.uniform(5, 20), _u(rng, 1, 4), _u(rng, 0.5, 1.5),
                              at=p["t_descent"] + _u(rng, 0.0, 0.5))
    elif near == "roll":
        amp = ROLL_OUT_DEG * rng.uniform(0.87, 1.13)
        p["roll"] = _fit_bump(rng, amp, p, amp / rng.uniform(5, 20), _u(rng, 0.5, 2), _u(rng, 1, 2))
    elif near == "roll_rate":
        amp = _u(rng, 6, 12)
        peak = ROLL_RATE_DPS * rng.uniform(0.85, 1.2)
        p["roll"] = _fit_bump(rng, amp, p, 1.875 * amp / peak, _u(rng, 0.5, 2), _u(rng, 0.5, 1.5))
    else:
        amp = _u(rng, -3, 4)
        p["roll"] = _fit_bump(rng, amp, p, _u(rng, 1, 3), _u(rng, 0, 2), _u(rng, 1, 2))
    # -- yaw
    if "twist" in faults:
        amp = float(rng.choice([-1, 1])) * _u(rng, 10, 25)
        p["yaw"] = _fit_bump(rng, amp, p, _u(rng, 0.3, 2.0), _u(rng, 0.3, 3.0), _u(rng, 0.5, 2.0))
    elif near == "twist":
        p["yaw"] = _fit_bump(rng, float(rng.choice([-1, 1])) * TWIST_DEG * rng.uniform(0.85, 1.15), p,
                             _u(rng, 0.5, 1.5), _u(rng, 0.3, 1.5), _u(rng, 0.5, 1.5))
    else:
        p["yaw"] = _fit_bump(rng, _u(rng, -3, 3), p, _u(rng, 1, 3), _u(rng, 0, 2), _u(rng, 1, 2))
    return p


def trace_settings(rng, scenario, ov=None):
    """Per-trace sensor and body nuisances."""
    ov = ov or {}
    if scenario == "ideal":
        return {"errors": "ideal", "imu": "ideal", "quant": False, "misalign": [0.0, 0.0, 0.0],
                "sway": None, "tremor": None, "fatigue": None, "skin_creep": 0.0, "jitter": 0, "drop": 0.0,
                "roll_gain": 1.0, "mount": "skin", "gyro_range": 500, "accel_range": 4, "slips_on": False}
    benign = bool(ov.get("benign"))
    x = rng.random()
    imu = "mpu6050" if scenario == "uncalibrated_bias" or x < 0.6 else ("icm42688" if x < 0.8 else "lsm6dsox")
    gr = int(rng.choice([250, 500, 1000, 2000], p=[0.2, 0.4, 0.2, 0.2]))
    ar = int(rng.choice([2, 4, 8, 16], p=[0.2, 0.4, 0.2, 0.2]))
    supported = scenario != "unsupported" and rng.random() < 0.6
    if supported:
        sway = {"pitch": _u(rng, 0.3, 1.0), "roll": _u(rng, 0.5, 2.0), "steps_per_s": 0.0}
    else:
        sway = {"pitch": _u(rng, 1.0, 2.0), "roll": _u(rng, 2.0, 3.0), "steps_per_s": 1.0 / _u(rng, 10, 60)}
    sway["yaw"] = _u(rng, 0.2, 1.0)
    sway["transl_m"] = _u(rng, 0.002, 0.005)
    sway["supported"] = bool(supported)
    tremor = {"amp": _u(rng, 0.01, 0.1), "hz": _u(rng, 4, 9), "action": _u(rng, 2, 5)}
    fatigue = None
    if scenario == "fatigue_tremor" or rng.random() < 0.15:
        fatigue = {"amp": _u(rng, 0.3, 1.5), "hz": _u(rng, 5, 8)}
    misalign = [_u(rng, -10, 10), _u(rng, -15, 15), _u(rng, -20, 20)]  # about foot x (roll), y (pitch), z (yaw)
    shoe = scenario == "shoe_mount" or rng.random() < 0.5
    roll_gain = _u(rng, 0.5, 2.0)
    st = {
        "errors": "uncalibrated" if scenario == "uncalibrated_bias" else "realistic",
        "imu": imu, "quant": True, "gyro_range": gr, "accel_range": ar,
        "misalign": [round(m, 2) for m in misalign],
        "sway": sway, "tremor": tremor, "fatigue": fatigue,
        "jitter": int(rng.integers(1, 3)),
        "drop": _u(rng, 0.0, 0.02),
        "mount": "shoe" if shoe else "skin",
        "roll_gain": roll_gain if shoe else 1.0,
        "slips_on": True,
    }
    if benign:
        st.update({"imu": "mpu6050", "gyro_range": 500, "accel_range": 4, "drop": 0.0, "jitter": 0,
                   "misalign": [0.0, 0.0, 0.0], "slips_on": scenario == "slip_midset"})
        if scenario != "fatigue_tremor":
            st["fatigue"] = None
        if scenario != "shoe_mount":
            st.update({"mount": "skin", "roll_gain": 1.0})
        st["sway"].update({"pitch": 0.3, "roll": 0.5, "steps_per_s": 0.0, "yaw": 0.2, "supported": True})
        st["tremor"].update({"amp": 0.02})
    if "sway" in ov:
        a = float(ov["sway"])
        st["sway"].update({"pitch": a, "roll": 1.5 * a, "steps_per_s": (1.0 / 20) if a > 1.0 else 0.0,
                           "supported": a <= 1.0})
    if "misalign_scale" in ov:
        f = float(ov["misalign_scale"])
        sg = rng.choice([-1.0, 1.0], 3)
        st["misalign"] = [round(float(sg[0] * 10 * f), 2), round(float(sg[1] * 15 * f), 2), round(float(sg[2] * 20 * f), 2)]
    return st


def _faults_for(rng, scenario, ov):
    """The scripted faults of one rep (emphasised kinds often, the rest rarely)."""
    if scenario in ("ideal", "realistic_good"):
        return []
    emph = dict(EMPHASIS.get(scenario, {}))
    if "faults_p" in ov:
        emph = {f: float(ov["faults_p"]) for f in FAULTS}
    out = []
    for f in FAULTS + ("inward_roll",):
        pr = emph.get(f, 0.0 if ov.get("benign") or "faults_p" in ov else BASE_FAULT_P[f])
        if rng.random() < pr:
            out.append(f)
    if "bounce_mild" in out and "bounce_severe" in out:
        out.remove("bounce_mild")
    if "roll_out" in out and "inward_roll" in out:
        out.remove("inward_roll")
    return out


REST_POSES = ("level", "toes", "hang", "shift", "restrap", "off")
# the pose of each stretch of a rest between sets: relative weights
REST_WEIGHTS = {"level": 0.2, "toes": 0.3, "hang": 0.1, "shift": 0.1, "restrap": 0.15, "off": 0.15}
HANG_DEG = (2.0, 6.0)        # relaxed heel below level in a rest: shallower than a rep (MIN_DEPTH)
RESTRAP_S = (5.0, 30.0)      # the strap redone (foot lifted, sensor turned over)
RESTRAP_DEG = (90.0, 180.0)  # ... by this much; moving the sensor to the other foot: SWITCH_DEG
SWITCH_DEG = (40.0, 180.0)


def rest_plan(rng, seconds):
    """One rest between sets (docs/DOMAIN.md §7(b): 20-120 s) as a sequence
    of poses, each drawn over its whole range, filling ``seconds``:

    * level: standing at level on the step, shifting weight now and then;
    * toes: up on the toes (heel 5-25 deg above level, the raised-top
      range) for 3 s up to the whole rest (half of them 20 s or more), the
      heel sinking 0-4 deg as the calf tires and lifted again every 5-20 s;
    * hang: the heel hanging relaxed 2-6 deg below level for 3 s up to the
      rest. A relaxed hang deeper than the valid-rep depth (8 deg) is not
      drawn: held for seconds it is a held stretch, the exercise itself, and
      the truth (a drop of >= 8 deg is a rep) would have to call it a rep;
    * shift: the foot lifted and set down flat further onto the step
      (5-25 cm), stood on, then back to the edge;
    * restrap: the foot lifted off the step and the strap redone, the sensor
      turned over by 90-180 deg, for 5-30 s (at most once);
    * off: stepping off to the floor, standing or strolling there (some
      redo the strap there), stepping back on (at most once).
    """
    bouts = []
    left = float(seconds)
    used = set()
    while left >= 3.0:
        w = dict(REST_WEIGHTS)
        for once in ("restrap", "off"):
            if once in used:
                w[once] = 0.0
        if left < 8.0:
            w["restrap"] = w["off"] = w["shift"] = 0.0
        if left < 15.0:
            w["off"] = 0.0
        keys = list(w)
        pr = np.array([w[k] for k in keys])
        pose = keys[int(rng.choice(len(keys), p=pr / pr.sum()))]
        used.add(pose)
        if pose == "restrap":
            d = min(left, _u(rng, *RESTRAP_S))
            b = {"pose": pose, "s": d, "angle": _u(rng, *RESTRAP_DEG), "turn_s": _u(rng, 0.5, 2.0)}
        elif pose == "off":
            d = _u(rng, 15.0, left)
            b = {"pose": pose, "s": d, "out": int(rng.integers(1, 3)), "in": int(rng.integers(1, 3)),
                 "stroll": int(rng.integers(2, 6)) if d > 40 and rng.random() < 0.4 else 0}
            if d > 45 and rng.random() < 0.25:
                b["restrap"] = {"s": _u(rng, *RESTRAP_S), "angle": _u(rng, *RESTRAP_DEG), "turn_s": _u(rng, 0.5, 2.0)}
        elif pose == "shift":
            d = _u(rng, 5.0, min(left, 25.0))
            b = {"pose": pose, "s": d, "dist": _u(rng, 0.05, 0.25), "lift": _u(rng, 10.0, 30.0)}
        elif pose == "toes":
            # half of them long: most of what is left of the rest (>= 20 s when it can)
            d = _u(rng, 3.0, left) if rng.random() < 0.5 else _u(rng, min(20.0, left), left)
            top = -_u(rng, 5.0, 25.0)
            b = {"pose": pose, "s": d, "top": top, "sink": min(_u(rng, 0.0, 4.0), 0.6 * -top),
                 "t_up": _u(rng, 0.4, 1.5), "t_down": _u(rng, 0.5, 1.5)}
        elif pose == "hang":
            d = _u(rng, 3.0, left)
            b = {"pose": pose, "s": d, "deg": _u(rng, *HANG_DEG), "t_in": _u(rng, 1.0, 3.0), "t_out": _u(rng, 0.5, 1.5)}
            b["t_in"] = min(b["t_in"], 0.4 * d)
            b["t_out"] = min(b["t_out"], 0.3 * d)
        else:
            d = _u(rng, 3.0, left)
            b = {"pose": pose, "s": d}
        bouts.append(b)
        left -= d
    if bouts and left > 0:
        if bouts[-1]["pose"] in ("level", "toes", "hang", "off"):
            bouts[-1]["s"] += left
        else:  # a re-strap or a shift keeps its drawn length: level for the rest
            bouts.append({"pose": "level", "s": left})
    return {"seconds": float(seconds), "bouts": bouts}


def _n_reps(rng, scenario, rate, short, demo, ov):
    if "n_reps" in ov:
        return int(ov["n_reps"])
    if demo:
        return 6
    if short:
        return int(rng.integers(3, 7))
    if rate >= 500:
        return int(rng.integers(2, 6))
    if rate >= 200:
        return int(rng.integers(2, 8))
    if rng.random() < 0.15:
        return int(rng.integers(10, 16))  # a whole set (Alfredson: 15)
    return int(rng.integers(2, 9))        # partial sets


def build(scenario, rng, side, demo=False, short=False, ov=None, rate=100):
    """Return (Script, settings, person, notes)."""
    if scenario not in SCENARIOS:
        raise ValueError("unknown scenario %r" % scenario)
    ov = dict(ov or {})
    if demo:
        # a demonstration session (the demo, the report benchmark): calm
        # nuisances, like the committed demo_session; never an accuracy measure
        ov["benign"] = True
    benign = bool(ov.get("benign"))
    ideal = scenario == "ideal"
    plain = ideal or benign
    st = trace_settings(rng, scenario, ov)
    pers = person(rng, scenario, ov, demo)
    sc = Script(side, rng, heel_radius=pers["r"])
    sc.step_h = _u(rng, 0.12, 0.22)
    notes = []
    n = _n_reps(rng, scenario, rate, short, demo, ov)
    cheap = short or demo or rate >= 500 or "n_reps" in ov
    if scenario == "sets":
        n_sets = int(rng.integers(2, 4))
        n = max(2, min(n, 4 if rate >= 200 else 6))
    elif plain or cheap:
        n_sets = 1
    else:
        n_sets = 2 if rng.random() < 0.2 else 1
    two_sides = scenario == "session" or (not plain and not cheap and rng.random() < 0.12)
    if two_sides and not demo:
        n = max(2, min(n, 5))

    # -- before the still start
    walk_in = scenario == "walk_to_step" or (not plain and rng.random() < 0.25)
    if walk_in:
        sc.still(_u(rng, 0.5, 2.0), 0.0)
        sc.walk(int(rng.integers(2, 6)), "in", step_height=sc.step_h)
        notes.append("walks up to the step and steps on; the still start follows")
    if not plain and rng.random() < 0.2:
        sc.shuffle(_u(rng, 1, 5), _u(rng, 0.6, 2.0), roll=_u(rng, -3, 3), yaw=_u(rng, -5, 5))
    still_starts = [sc.still_start(float(ov.get("still_s", _u(rng, 2.0, 5.0))), side)]

    def pre_reps(second_side=False):
        """After a still start: the rise onto the toes, a fidget, the top. The
        second side starts with a rise onto the toes more often (half the
        time): the person tries the new foot on the step."""
        if pers["raised"]:
            sc.toe_rise(pers["top"], _u(rng, 0.5, 1.5), _u(rng, 0.3, 2.0))
        elif scenario == "toe_rise" or (not plain and rng.random() < (0.5 if second_side else 0.2)):
            sc.toe_rise(-_u(rng, 5, 25), _u(rng, 0.5, 1.5), _u(rng, 0.3, 2.0), _u(rng, 0.5, 1.5))
            sc.still(_u(rng, 0.0, 2.0))
        if not plain and rng.random() < 0.15:
            sc.shuffle(_u(rng, 1, 5), _u(rng, 0.6, 2.0), roll=_u(rng, -3, 3))
        if not pers["raised"]:
            sc.move(pers["top"], _u(rng, 0.3, 0.8))
            sc.still(_u(rng, 0.2, 1.5))

    rov = dict(ov, benign=True) if plain else ov  # no fidgets in a plain trace's holds
    sides = [side, "left" if side == "right" else "right"] if two_sides else [side]
    base_depth = pers["depth"]
    affected = rng.random() < 0.5
    plans = []
    for si, sd in enumerate(sides):
        depth = base_depth
        if si:
            # to the other foot: step off, move the sensor, step back on
            sc.move(0.0, _u(rng, 0.5, 1.5))
            if not demo:
                sc.walk(int(rng.integers(1, 3)), "out", step_height=sc.step_h)
            if demo:  # as the demo has always been drawn (the angle at render time: 40-100 deg)
                sc.restrap(sd, _u(rng, 6, 10), angle=None)
            else:
                sc.restrap(sd, _u(rng, *RESTRAP_S), angle=_u(rng, *SWITCH_DEG), turn_s=_u(rng, 0.5, 2.0))
            if not demo:
                sc.floor_stand(_u(rng, 5, 40))
                sc.walk(int(rng.integers(1, 3)), "in", step_height=sc.step_h)
            still_starts.append(sc.still_start(_u(rng, 2.0, 5.0), sd))
            d = pers["asym"]
            depth = float(np.clip(base_depth + (d if d > -5 or affected else -d), 8, 40))
        for s_i in range(n_sets):
            if s_i:
                sc.move(0.0, _u(rng, 0.5, 1.5))
                sc.rest(rest_plan(rng, _u(rng, 20, 120)))
                sc.still(_u(rng, 0.0, 5.0), 0.0)
            pre_reps(second_side=bool(si) and not s_i)
            for i in range(n):
                first = None
                if i == 0 and s_i == 0 and si == 0:
                    if scenario == "first_rep" or (not plain and rng.random() < 0.3):
                        first = str(rng.choice(FIRST_KINDS))
                if first == "partial":
                    pp = rep_plan(rng, pers, (), None, rov, sc.last, "partial", short, demo, depth)
                    sc.rep(pp, min_depth=MIN_DEPTH)
                    first = str(rng.choice(FIRST_KINDS[:3]))
                elif not plain and i and rng.random() < 0.05:
                    pp = rep_plan(rng, pers, (), None, rov, sc.last, "partial", short, demo, depth)
                    sc.rep(pp, min_depth=MIN_DEPTH)
                fl = _faults_for(rng, scenario, ov)
                if demo:
                    fl = (["bounce_mild"] if (si == 0 and i == 3) else []) + (["too_fast"] if (si == 1 and i == 2) else [])
                near = None
                if scenario == "near_threshold" or (not plain and rng.random() < NEAR_P):
                    near = str(rng.choice(NEAR))
                p = rep_plan(rng, pers, fl, near, rov, sc.last, first, short, demo, depth)
                plans.append(p)
                # a drop that comes out shallower than a valid rep is a partial
                sc.rep(p, count=True, min_depth=MIN_DEPTH)
                if i < n - 1 and (scenario == "shuffle" or not plain):
                    pf = 0.6 if scenario == "shuffle" else 0.1
                    if rng.random() < pf:
                        if pers["raised"] and rng.random() < 0.5:
                            sc.move(0.0, _u(rng, 0.4, 1.0))
                        sc.shuffle(_u(rng, 1, 5), _u(rng, 0.6, 2.0), roll=_u(rng, -3, 3), yaw=_u(rng, -5, 5))
                        sc.still(_u(rng, 0.3, 1.5))
                        if abs(sc.last - pers["top"]) > 0.5:
                            sc.move(pers["top"], _u(rng, 0.5, 1.2))
                            sc.still(_u(rng, 0.2, 1.0))
    if pers["raised"]:
        sc.move(0.0, _u(rng, 0.5, 1.5))
    sc.still(_u(rng, 1.0, 3.0), 0.0)
    if scenario == "walk_to_step" or (not plain and rng.random() < 0.25):
        sc.walk(int(rng.integers(2, 5)), "out", step_height=sc.step_h)
    st["still_starts"] = still_starts
    st["still_start_ms"] = int(still_starts[0][0])
    # strap slips: each rep with the person's probability (1-5 %), one forced mid-set
    slips = []
    if st.get("slips_on"):
        forced = scenario == "slip_midset" and sc.reps
        mid = len(sc.reps) // 2
        for j, rec in enumerate(sc.reps):
            if (rng.random() < pers["slip_p"] and not plain) or (forced and j == mid):
                span = rec["end"] - rec["start"]
                at = rec["start"] + int(span * rng.uniform(0.1, 0.9))
                slips.append({"index": int(at), "deg": float(rng.choice([-1, 1]) * rng.uniform(1.0, 5.0)),
                              "axis": str(rng.choice(["pitch", "roll"])), "dur": _u(rng, 0.1, 0.5)})
    st["slips"] = slips
    st["skin_creep"] = pers["skin_creep"] if not plain else 0.0
    if st.get("fatigue") and sc.reps:
        st["fatigue"]["from"] = int(sc.reps[len(sc.reps) // 2]["start"])
        notes.append("fatigue tremor (%.2f deg at %.1f Hz) from rep %d on" % (
            st["fatigue"]["amp"], st["fatigue"]["hz"], len(sc.reps) // 2 + 1))
    if st.get("mount") == "shoe":
        notes.append("shoe-counter mount: the sensor sees %.2f x the heel's roll; truth roll is the heel's" % st["roll_gain"])
    if pers["raised"]:
        notes.append("raised top at %.1f deg" % pers["top"])
    if pers["pumping"]:
        notes.append("continuous pumping (mostly no dwell at the top)")
    return sc, st, pers, notes


__all__ = ["SCENARIOS", "EVAL_SCENARIOS", "FAULTS", "NEAR", "REST_POSES", "build", "rep_plan", "rest_plan", "person", "trace_settings",
           "BOUNCE_PP"]
