"""Named scenarios: per-rep plans and per-trace settings, all drawn from a seed.

Fault scripts sit clearly on one side of the DOMAIN 7(a) thresholds:

=============  ======================================  ==================================
fault          faulty rep                              clean rep
=============  ======================================  ==================================
fast descent   mean (10-90 %) >= 30 deg/s, <= 1.2 s    mean <= 11.5 deg/s, >= 2 s
snap up        mean >= 60 deg/s (or <= 0.5 s)          mean <= 25 deg/s, >= 1 s
bounces        every rebound >= 2.5 deg p-p            none
roll-out       extra inversion 18-25 deg, >= 0.6 s     extra <= 4 deg
twist          |yaw| 28-35 deg                         <= 3 deg
no hold        hold 0-1.5 s                            hold >= 3 s
=============  ======================================  ==================================

``realistic_good`` adds one or two "near" reps, inside the warning zone but
never at a threshold: descent 14.5-17 deg/s, rise 28-34 deg/s, extra roll
9-11 deg, twist 10-14 deg, hold 3-4 s, one rebound of 1-1.5 deg.
"""
import numpy as np

from .script import MJ_MEAN, MJ_PEAK, Script

SCENARIOS = (
    "ideal", "realistic_good", "too_fast", "bounce_mild", "bounce_severe", "no_hold",
    "snap_up", "roll_out", "inward_roll", "twist", "slip_midset", "uncalibrated_bias",
    "shoe_mount", "fatigue_tremor", "mixed_faults", "shuffle", "walk_to_step", "session",
)

FAULTS = ("too_fast", "bounce_mild", "bounce_severe", "no_hold", "snap_up", "roll_out", "twist")
NEAR = ("descent", "rise", "roll", "twist", "hold", "bounce")


def person(rng, hold=(5.0, 12.0), variant="straight-knee"):
    """Foot-pitch depth: straight knee N(24, 5), bent knee N(22, 6) (DOMAIN 1.4, 7(b))."""
    mean, sd = (24, 5) if variant == "straight-knee" else (22, 6)
    return {
        "variant": variant,
        "depth": float(np.clip(rng.normal(mean, sd), 14, 34)),
        "k": float(np.clip(rng.normal(0.26, 0.1), 0.08, 0.45)),
        "r": float(rng.uniform(0.15, 0.20)),
        "h": float(rng.uniform(0.02, 0.05)),
        "hold": hold,
        "creep": float(rng.uniform(1, 3)),
        "creep_tau": float(rng.uniform(6, 10)),
    }


def _bump(amp, up, plateau, down, at, where="start"):
    return {"amp": float(amp), "up": float(up), "plateau": float(plateau), "down": float(down),
            "at": float(at), "where": where}


def _fit_bump(rng, amp, p, up, plateau, down):
    """Place a bump inside the rep (descent start .. rise end), shrinking it if needed."""
    at = float(rng.uniform(0.0, 0.5))
    avail = p["t_descent"] + p.get("settle", 0.0) + p["hold"] + p["t_rise"] - at - 0.05
    total = up + plateau + down
    if total > avail:
        f = avail / total
        up, plateau, down = up * f, plateau * f, down * f
    return _bump(amp, up, plateau, down, at)


def rep_plan(rng, pers, faults=(), near=None):
    """One rep's script. ``faults`` from FAULTS (plus 'inward_roll'), ``near`` from NEAR."""
    faults = set(faults)
    p = {"faults": sorted(str(f) for f in faults), "near": None if near is None else str(near)}
    D = float(np.clip(rng.normal(pers["depth"], 1.5), 12, 38))
    p["depth"] = D
    # descent
    if "too_fast" in faults:
        v = rng.uniform(30, 70)
        T = min(MJ_MEAN * D / v, 1.2)
        T = max(T, MJ_PEAK * D / 150.0)
        if rng.random() < 0.5:
            p["overshoot"] = float(rng.uniform(0.5, 1.2))
            p["overshoot_s"] = float(rng.uniform(0.1, 0.3))
    elif near == "descent":
        T = MJ_MEAN * D / rng.uniform(14.5, 17)
    else:
        T = min(max(MJ_MEAN * D / rng.uniform(6, 11.5), 2.0), 7.0)
    p["t_descent"] = float(T)
    # bottom: bounces
    b = []
    if "bounce_mild" in faults:
        f = rng.uniform(1.2, 3.0)
        b = [(float(rng.uniform(2.5, 4.0)), float(f)) for _ in range(int(rng.integers(2, 4)))]
    elif "bounce_severe" in faults:
        f = rng.uniform(1.5, 3.0)
        a, dec = rng.uniform(6, 10), rng.uniform(0.8, 0.95)
        for _ in range(int(rng.integers(3, 7))):
            if a < 2.6:
                break
            b.append((float(a), float(f)))
            a *= dec
    elif near == "bounce":
        b = [(float(rng.uniform(1.0, 1.5)), float(rng.uniform(1.5, 3.0)))]
    p["bounces"] = b
    p["settle"] = p.get("overshoot_s", 0.0) * (1 if p.get("overshoot") else 0) + sum(1.0 / f for _, f in b)
    # hold
    if "no_hold" in faults:
        hold = rng.uniform(0.0, 1.5)
    elif near == "hold":
        hold = rng.uniform(3.0, 4.0)
    else:
        hold = rng.uniform(*pers["hold"])
        if b:
            hold = max(hold, 3.0)
    p["hold"] = float(hold)
    p["creep"] = float(pers["creep"] * rng.uniform(0.7, 1.0))
    p["creep_tau"] = pers["creep_tau"]
    fid = []
    if hold > 4.5 and not faults & {"roll_out", "twist"}:
        for _ in range(int(rng.integers(0, 3))):
            fid.append((float(rng.uniform(1.0, hold - 1.5)), float(rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)),
                        float(rng.uniform(0.5, 1.0))))
    p["fidgets"] = fid
    # rise
    if "snap_up" in faults:
        v = rng.uniform(60, 150)
        T = min(MJ_MEAN * D / v, 0.5)
        T = max(T, MJ_PEAK * D / 300.0)
        p["snap_wobble"] = float(rng.uniform(0.1, 0.5))
    elif near == "rise":
        T = max(MJ_MEAN * D / rng.uniform(28, 34), 0.9)
    else:
        T = min(max(MJ_MEAN * D / rng.uniform(10, 25), 1.0), 4.0)
    p["t_rise"] = float(T)
    p["dwell"] = float(rng.uniform(0.8, 2.5))
    p["wobble_hz"] = float(rng.uniform(10, 20))
    # roll (extra, side-corrected: + = inversion / roll-out)
    if "roll_out" in faults:
        amp = rng.uniform(18, 25)
        up = amp / rng.uniform(10, 60)
        plateau, down = rng.uniform(0.6, 4.0), rng.uniform(0.4, 1.5)
        at = rng.uniform(0.2, 1.0)
        if rng.random() < 0.4:
            # starts at the end of the hold and carries on into the rise
            x = rng.uniform(0.2, 0.5)
            p["hold"] = max(p["hold"], up + x + 0.5)
            at = p["hold"] - up - x
            down = min(down, 0.5 * (p["t_rise"] + x))
            plateau = p["t_rise"] + x - down - 0.05
        else:
            p["hold"] = max(p["hold"], at + up + plateau + down + 0.3)
        p["roll"] = _bump(amp, up, plateau, down, at, "hold")
    elif "inward_roll" in faults:
        amp = rng.uniform(8, 12)
        up, plateau, down, at = amp / rng.uniform(5, 20), rng.uniform(1, 4), rng.uniform(0.5, 1.5), rng.uniform(0.2, 1.0)
        p["hold"] = max(p["hold"], at + up + plateau + down + 0.3)
        p["roll"] = _bump(-amp, up, plateau, down, at, "hold")
    elif near == "roll":
        p["roll"] = _fit_bump(rng, rng.uniform(9, 11), p, rng.uniform(1, 2), rng.uniform(0.5, 2), rng.uniform(1, 2))
    else:
        amp = rng.uniform(0, pers.get("roll_max", 4.0)) if rng.random() < 0.8 else -rng.uniform(0, 3)
        p["roll"] = _fit_bump(rng, amp, p, rng.uniform(1, 3), rng.uniform(0, 2), rng.uniform(1, 2))
    # yaw
    if "twist" in faults:
        amp = rng.choice([-1, 1]) * rng.uniform(28, 35)
        up, plateau, down = rng.uniform(0.3, 2.0), rng.uniform(0.5, 3.0), rng.uniform(0.5, 2.0)
        at = rng.uniform(0.2, 1.0)
        p["hold"] = max(p["hold"], at + up + plateau + down + 0.3)
        p["yaw"] = _bump(amp, up, plateau, down, at, "hold")
    elif near == "twist":
        p["yaw"] = _fit_bump(rng, rng.choice([-1, 1]) * rng.uniform(10, 14), p, 1.0, 1.0, 1.0)
    else:
        p["yaw"] = _fit_bump(rng, rng.uniform(-3, 3), p, rng.uniform(1, 3), rng.uniform(0, 2), rng.uniform(1, 2))
    return p


def trace_settings(rng, scenario):
    """Per-trace sensor / body settings."""
    if scenario == "ideal":
        return {"errors": "ideal", "imu": "ideal", "quant": False, "misalign": [0.0, 0.0, 0.0],
                "sway": None, "tremor": None, "skin_creep": 0.0, "jitter": 0, "drop": 0.0,
                "roll_gain": 1.0}
    imu = "mpu6050" if scenario == "uncalibrated_bias" or rng.random() < 0.6 else str(rng.choice(["icm42688", "lsm6dsox"]))
    return {
        "errors": "uncalibrated" if scenario == "uncalibrated_bias" else "realistic",
        "imu": imu,
        "quant": True,
        "misalign": [round(float(x), 2) for x in rng.uniform(-15, 15, 3)],
        "sway": {"pitch": float(rng.uniform(0.3, 1.0)), "roll": float(rng.uniform(0.5, 2.0)),
                 "yaw": float(rng.uniform(0.2, 0.5)), "transl_m": float(rng.uniform(0.002, 0.005))},
        "tremor": {"amp": float(rng.uniform(0.01, 0.03)), "hz": float(rng.uniform(4.5, 9)),
                   "action": float(rng.uniform(2, 5))},
        "skin_creep": float(rng.uniform(0.05, 0.2)),
        "jitter": int(rng.integers(1, 3)),
        "drop": float(rng.uniform(0.0, 0.02)),
        "roll_gain": float(rng.uniform(0.5, 2.0)) if scenario == "shoe_mount" else 1.0,
    }


def _assign(rng, n, fault, first_clean=1, min_faults=2, p=0.7):
    idx = list(range(first_clean, n))
    chosen = [i for i in idx if rng.random() < p]
    while len(chosen) < min(min_faults, len(idx)):
        extra = [i for i in idx if i not in chosen]
        chosen.append(int(rng.choice(extra)))
    if len(chosen) == len(idx) and len(idx) > 2 and first_clean == 0:
        chosen.pop()
    return {i: [fault] for i in chosen}


def build(scenario, rng, side, demo=False, short=False):
    """Return (Script, settings, person, notes)."""
    if scenario not in SCENARIOS:
        raise ValueError("unknown scenario %r" % scenario)
    st = trace_settings(rng, scenario)
    hold = (18.0, 22.0) if demo else (5.0, 12.0)
    variant = "bent-knee" if (scenario != "ideal" and not demo and rng.random() < 0.3) else "straight-knee"
    pers = person(rng, hold, variant)
    if scenario == "shoe_mount":
        pers["roll_max"] = 3.0
    sc = Script(side, rng, heel_radius=pers["r"])
    notes = []
    n = int(rng.integers(4, 7)) if demo else int(rng.integers(3, 6))
    faults, near = {}, {}
    if scenario in ("too_fast", "bounce_mild", "bounce_severe", "no_hold", "snap_up", "twist"):
        faults = _assign(rng, n, scenario)
    elif scenario in ("roll_out", "inward_roll"):
        n = int(rng.integers(5, 7))
        pers["hold"] = (4.0, 8.0)
        faults = _assign(rng, n, scenario, first_clean=3, min_faults=2)
    elif scenario == "realistic_good":
        for i in rng.choice(np.arange(1, n), size=int(rng.integers(1, 3)), replace=False):
            near[int(i)] = str(rng.choice(NEAR))
    elif scenario == "shoe_mount":
        if rng.random() < 0.5:
            faults = {int(rng.integers(1, n)): ["too_fast"]}
    elif scenario == "fatigue_tremor":
        n = int(rng.integers(5, 7))
        pers["hold"] = (4.0, 7.0)
    elif scenario == "mixed_faults":
        n = int(rng.integers(6, 9))
        pers["hold"] = (3.0, 4.5)
        kinds = list(rng.choice(list(FAULTS), size=int(rng.integers(3, 5)), replace=False))
        slots = list(range(1, n))
        for kind in kinds:
            cand = [i for i in slots if i not in faults and (kind != "roll_out" or i >= 3)]
            if not cand:
                continue
            faults[int(rng.choice(cand))] = [kind]
        if rng.random() < 0.5:
            cand = [i for i in slots if i not in faults]
            if len(cand) >= 2:  # keep two clean reps
                faults[int(rng.choice(cand))] = ["too_fast", "snap_up"]
    elif scenario == "ideal":
        n = int(rng.integers(3, 6))
    elif scenario == "walk_to_step":
        n = int(rng.integers(3, 6))
    elif scenario == "session":
        n = 6 if demo else int(rng.integers(3, 5))

    if short:  # keeps the high-rate traces of the corpus small
        pers["hold"] = (3.0, 4.5)

    if scenario == "walk_to_step":
        sc.still(rng.uniform(0.5, 1.0))
        sc.walk(int(rng.integers(3, 6)), "in", step_height=rng.uniform(0.15, 0.2))
        notes.append("walks up to the step; the still start follows the walk")
    still_start_ms = sc.n
    sc.still(rng.uniform(3.5, 5.0))
    if scenario == "shuffle":
        sc.shuffle(rng.uniform(1, 5), rng.uniform(0.6, 2.0), roll=rng.uniform(-2, 2))
        sc.still(rng.uniform(1.0, 2.0))

    sides = [side, "left" if side == "right" else "right"] if scenario == "session" else [side]
    plans = []
    for si, sd in enumerate(sides):
        if si:
            sc.restrap(sd, rng.uniform(6, 8))
            sc.still(rng.uniform(3.5, 5.0))
        if scenario == "session":
            if demo:
                faults = {3: ["bounce_mild"]} if si == 0 else {2: ["too_fast"]}
            else:
                faults = {int(rng.integers(1, n)): [str(rng.choice(["too_fast", "bounce_mild", "snap_up"]))]}
        for i in range(n):
            fl = faults.get(i, [])
            p = rep_plan(rng, pers, fl, near.get(i))
            plans.append(p)
            sc.rep(p)
            if scenario == "shuffle" and i < n - 1 and rng.random() < 0.7:
                sc.shuffle(rng.uniform(1, 5), rng.uniform(0.6, 2.0), roll=rng.uniform(-2, 2))
                sc.still(rng.uniform(0.8, 1.5))
    sc.still(rng.uniform(2.0, 3.0))
    if scenario == "walk_to_step":
        sc.walk(int(rng.integers(2, 5)), "out", step_height=rng.uniform(0.15, 0.2))
    st["still_start_ms"] = int(still_start_ms)
    if scenario == "fatigue_tremor":
        first = sc.reps[n // 2]["start"]
        st["fatigue"] = {"from": int(first), "amp": float(rng.uniform(0.3, 0.8)), "hz": float(rng.uniform(5, 8))}
        notes.append("fatigue tremor (%.2f deg at %.1f Hz) from rep %d on" % (st["fatigue"]["amp"], st["fatigue"]["hz"], n // 2 + 1))
    if scenario == "slip_midset":
        rec = sc.reps[len(sc.reps) // 2]
        span = rec["rise_start"] - rec["hold_start"]
        at = rec["hold_start"] + int(span * rng.uniform(0.3, 0.7))
        deg = float(rng.choice([-1, 1]) * rng.uniform(1.5, 5.0))
        st["slips"] = [{"index": int(at), "deg": deg, "axis": str(rng.choice(["pitch", "roll"])),
                        "dur": float(rng.uniform(0.1, 0.5))}]
    if scenario == "shoe_mount":
        notes.append("shoe-counter mount: the sensor sees %.2f x the heel's roll; truth roll is the heel's" % st["roll_gain"])
    return sc, st, pers, notes
