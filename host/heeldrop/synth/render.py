"""Render a scenario: script -> body motion -> ideal IMU -> sensor errors ->
output samples, plus the per-rep truth computed from the script."""
import math

import numpy as np

from . import physics as ph
from .physics import FS
from .scenarios import SCENARIOS, build
from .sensor import IMU_LSB, RATES, apply_errors, dlpf_for_rate, sample_errors, sample_output

# DOMAIN 7(a) fault definitions (used to label the truth)
FAST_MEAN, FAST_PEAK = 20.0, 45.0
SNAP_MEAN, SNAP_PEAK = 40.0, 90.0
ROLL_OUT_DEG, ROLL_OUT_S = 15.0, 0.3
TWIST_DEG = 20.0
NO_HOLD_S = 2.0
BOUNCE_PP = 2.0


class Rendered:
    """One simulated trace: samples (t_ms, accel (M,3) g, gyro (M,3) deg/s),
    CSV metadata and truth dict."""

    def __init__(self, t_ms, accel, gyro, meta, truth):
        self.t_ms, self.accel, self.gyro, self.meta, self.truth = t_ms, accel, gyro, meta, truth

    def columns(self):
        a, g = self.accel, self.gyro
        return {"t_ms": self.t_ms.tolist(), "ax": a[:, 0].tolist(), "ay": a[:, 1].tolist(),
                "az": a[:, 2].tolist(), "gx": g[:, 0].tolist(), "gy": g[:, 1].tolist(),
                "gz": g[:, 2].tolist()}


def _sines(rng, n, amp, f_lo=0.1, f_hi=1.0, k=3, max_rate=0.6):
    """Sum of k sinusoids (f_lo..f_hi Hz) with total amplitude ``amp``, weights
    falling as 1/f and each component's peak rate capped at ``max_rate`` per s
    (postural sway is mostly below 0.5 Hz; a still stance stays under ~3 deg/s)."""
    if amp <= 0:
        return np.zeros(n)
    t = np.arange(n) / FS
    f = rng.uniform(f_lo, f_hi, k)
    w = rng.uniform(0.5, 1.0, k) / f
    w = w / w.sum() * amp
    if max_rate:
        w = np.minimum(w, max_rate / (2 * np.pi * f))
    out = np.zeros(n)
    for wi, fi in zip(w, f):
        out += wi * np.sin(2 * np.pi * fi * t + rng.uniform(0, 2 * np.pi))
    return out


def _smooth_step(n, i0, dur_n):
    s = np.zeros(n)
    if i0 >= n:
        return s
    m = max(1, dur_n)
    tt = np.clip((np.arange(n) - i0) / m, 0, 1)
    return tt * tt * tt * (10 - 15 * tt + 6 * tt * tt)


def _moving_avg(x, n):
    """Centred moving average (same length, zero padded like np.convolve 'same')."""
    if n <= 1:
        return x
    c = np.concatenate([[0.0], np.cumsum(np.concatenate([np.zeros(n), x, np.zeros(n)]))])
    lo = np.arange(len(x)) + n - (n - 1) // 2 - (0 if n % 2 else 1) + 1
    return (c[lo + n - 1] - c[lo - 1]) / n


def _speed_10_90(seg):
    """Mean speed over 10-90 % of the travel of a monotone-ish segment (deg/s), peak speed."""
    a, b = seg[0], seg[-1]
    d = b - a
    if abs(d) < 1e-9 or len(seg) < 3:
        return 0.0, 0.0
    x = (seg - a) / d
    i10 = int(np.argmax(x >= 0.1))
    i90 = int(np.argmax(x >= 0.9))
    dt = max(i90 - i10, 1) / FS
    peak = float(np.max(np.abs(np.diff(seg)))) * FS
    return 0.8 * abs(d) / dt, peak


def _longest_run(mask):
    """Length of the longest run of True."""
    m = np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]])
    d = np.diff(m)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max()) if len(starts) else 0


def rep_truth(k, rec, theta, roll_extra, psi):
    p = rec["plan"]
    i0, de, hs, rs, e = rec["start"], rec["descent_end"], rec["hold_start"], rec["rise_start"], rec["end"]
    top = p.get("top", 0.0)
    dseg = np.concatenate([[top], theta[i0:de + 1]])
    dmean, dpeak = _speed_10_90(dseg)
    rseg = theta[rs - 1:e + 1]
    rmean, rpeak = _speed_10_90(rseg)
    win = slice(i0, e + 1)
    roll = -k * theta[win] + roll_extra[win]
    extra = roll_extra[win]
    yaw = psi[win]
    hold_s = (rs - hs) / FS
    run = _longest_run(extra >= ROLL_OUT_DEG) / FS
    b_ms = [int(i) for i, a in zip(rec["bounce_idx"], rec["bounce_amp"]) if a >= BOUNCE_PP]
    b_pp = [round(float(a), 2) for a in rec["bounce_amp"] if a >= BOUNCE_PP]
    yaw_range = float(yaw.max() - yaw.min())
    return {
        "rep": 0, "side": rec["side"],
        "start_ms": int(i0), "end_ms": int(e),
        "depth_deg": round(float(theta[win].max()), 2),
        "hold_s": round(hold_s, 3),
        "descent_s": round((de - i0 + 1) / FS, 3),
        "rise_s": round((e - rs + 1) / FS, 3),
        "descent_speed_dps": round(dmean, 2), "rise_speed_dps": round(rmean, 2),
        "bounces": len(b_ms), "bounce_ms": b_ms,
        "max_roll_deg": round(float(roll.max()), 2),
        "fast_descent": bool(dmean > FAST_MEAN or dpeak > FAST_PEAK),
        "roll_out": bool(run >= ROLL_OUT_S),
        "snap_up": bool(rmean > SNAP_MEAN or rpeak > SNAP_PEAK),
        "twist": bool(yaw_range > TWIST_DEG),
        "no_hold": bool(hold_s < NO_HOLD_S),
        # extras (not in the detector's rep_end)
        "descent_peak_dps": round(dpeak, 2), "rise_peak_dps": round(rpeak, 2),
        "descent_end_ms": int(de), "hold_start_ms": int(hs), "rise_start_ms": int(rs),
        "bounce_pp_deg": b_pp,
        "max_extra_roll_deg": round(float(extra.max()), 2),
        "min_extra_roll_deg": round(float(extra.min()), 2),
        "extra_roll_run_s": round(run, 3),
        "yaw_range_deg": round(yaw_range, 2),
        "scripted_faults": list(p["faults"]), "near": p.get("near"),
    }


def render(scenario, seed, side="left", rate=100, mounting=0, demo=False, short=False):
    """Simulate one trace. Deterministic in all its arguments. ``demo``: 20 s
    holds (6 reps per side in a session); ``short``: 3-4.5 s holds."""
    if scenario not in SCENARIOS:
        raise ValueError("unknown scenario %r (known: %s)" % (scenario, ", ".join(SCENARIOS)))
    if side not in ("left", "right"):
        raise ValueError("side must be left or right")
    if rate not in RATES:
        raise ValueError("rate must be one of %s" % (RATES,))
    if not 0 <= mounting < 24:
        raise ValueError("mounting must be 0..23")
    key = [int(seed) & 0xFFFFFFFF, SCENARIOS.index(scenario), 0 if side == "left" else 1, rate, mounting,
           int(demo) + 2 * int(short)]
    rng = np.random.default_rng(key)
    sc, st, pers, notes = build(scenario, rng, side, demo, short)
    out = sc.finish()
    n = out["n"]
    theta, psi, roll_extra = out["theta"], out["psi"], out["roll_extra"]
    sgn = np.where(out["side"] == "right", 1.0, -1.0)
    k = pers["k"]
    roll = -k * theta + roll_extra

    # body motion seen by the sensor = script + sway + tremor
    th_m, ro_m, ps_m = theta.copy(), roll.copy(), psi.copy()
    pivot = out["pivot"].copy()
    env = np.ones(n)
    for (a, b) in sc.restraps:
        env[max(0, a - 1000):b + 1000] = 0.0
    env = _moving_avg(env, 1000)
    # standing still before the first rep: less sway and tremor
    if sc.reps:
        q = np.ones(n)
        q[st["still_start_ms"]:max(st["still_start_ms"], sc.reps[0]["start"] - 300)] = 0.4
        env = env * _moving_avg(q, 300)
    if st["sway"]:
        sw = st["sway"]
        th_m += env * _sines(rng, n, sw["pitch"])
        ro_m += env * _sines(rng, n, sw["roll"])
        ps_m += env * _sines(rng, n, sw["yaw"])
        pivot[:, 0] += env * _sines(rng, n, sw["transl_m"], 0.2, 1.0, max_rate=0)
        pivot[:, 1] += env * _sines(rng, n, sw["transl_m"], 0.2, 1.0, max_rate=0)
    t = np.arange(n) / FS
    if st["tremor"]:
        tr = st["tremor"]
        moving = _moving_avg((np.abs(np.gradient(theta) * FS) > 2.0).astype(float), 200)
        a = tr["amp"] * (1 + (tr["action"] - 1) * moving)
        ph0 = rng.uniform(0, 2 * np.pi, 2)
        wander = 0.6 * np.sin(2 * np.pi * 0.21 * t)
        a = a * env
        th_m += a * np.sin(2 * np.pi * tr["hz"] * t + ph0[0] + wander)
        ro_m += 0.5 * a * np.sin(2 * np.pi * tr["hz"] * 1.07 * t + ph0[1] + wander)
    if st.get("fatigue"):
        fa = st["fatigue"]
        ramp = _smooth_step(n, fa["from"], 5000) * fa["amp"]
        th_m += ramp * np.sin(2 * np.pi * fa["hz"] * t + 0.8 * np.sin(2 * np.pi * 0.13 * t))
        ro_m += 0.4 * ramp * np.sin(2 * np.pi * fa["hz"] * 1.1 * t)
    ro_m *= st["roll_gain"]
    R_wf = ph.foot_rotation(th_m, ro_m, ps_m, sgn)

    # the sensor on the foot: strap creep, slips, soft-tissue wobble, re-strapping
    rv = np.zeros((n, 3))
    slips = []
    if st["skin_creep"] and sc.reps:
        i0 = sc.reps[0]["start"]
        mean_rep = max(1, (sc.reps[-1]["dwell_end"] - i0) / len(sc.reps))
        rv[:, 1] += -np.radians(st["skin_creep"] / mean_rep) * np.clip(np.arange(n) - i0, 0, None)
    for s in st.get("slips", []):
        step = _smooth_step(n, s["index"], int(s["dur"] * FS))
        if s["axis"] == "pitch":
            rv[:, 1] += -np.radians(s["deg"]) * step
        else:
            rv[:, 0] += sgn * np.radians(s["deg"]) * step
        slips.append({"t_ms": int(s["index"]), "deg": round(s["deg"], 2), "axis": s["axis"],
                      "duration_s": round(s["dur"], 3)})
    if st["sway"] is not None:  # no soft tissue in the ideal scenario
        for (i, amp, f, tau) in sc.wobbles:
            L = min(n - i, int(6 * tau * FS))
            tt = np.arange(L) / FS
            rv[i:i + L, 1] += np.radians(amp) * np.exp(-tt / tau) * np.sin(2 * np.pi * f * tt)
    restrap_delta = []
    for (a, b) in sc.restraps:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        ang = np.radians(rng.uniform(40, 100))
        L = b - a
        bump = np.zeros(n)
        q = L // 4
        bump[a:b] = np.concatenate([ph_minjerk(q), np.ones(L - 2 * q), 1 - ph_minjerk(q)])
        rv += (ang * bump)[:, None] * axis[None, :]
        delta = rng.uniform(-4, 4, 3) if st["sway"] is not None else np.zeros(3)
        rv += np.radians(delta)[None, :] * _smooth_step(n, a + q, 2 * q)[:, None]
        restrap_delta.append([round(float(x), 2) for x in delta])
    R_skin = ph.expmap(rv)
    R_fs = ph.mounting_matrix(mounting, st["misalign"])
    heel = np.array([-pers["r"], 0.0, pers["h"]])
    gyro, accel = ph.ideal_imu(R_wf, R_skin, R_fs, pivot, heel, out["acc"])

    err = sample_errors(rng, st["errors"], st["imu"])
    g, a = apply_errors(gyro, accel, err, rng)
    lsb = IMU_LSB.get(st["imu"], IMU_LSB["mpu6050"])
    jitter = min(st["jitter"], 1) if rate >= 500 else st["jitter"]
    t_ms, idx, g, a = sample_output(g, a, rate, rng, quant=st["quant"], jitter_ms=jitter,
                                    drop_frac=st["drop"], protect_ms=st["still_start_ms"] + 3000, lsb=lsb)

    reps = []
    for j, rec in enumerate(sc.reps):
        r = rep_truth(k, rec, theta, roll_extra, psi)
        r["rep"] = j + 1
        reps.append(r)
    scripted = ["rep %d: %s" % (r["rep"], "+".join(r["scripted_faults"])) for r in reps if r["scripted_faults"]]
    near = ["rep %d: %s" % (r["rep"], r["near"]) for r in reps if r["near"]]
    notes = ["%s, %s foot, %d reps" % (scenario, side, len(reps))] + notes
    if scripted:
        notes.append("scripted faults: " + ", ".join(scripted))
    if near:
        notes.append("near (not at) a threshold: " + ", ".join(near))
    if slips:
        notes.append("strap slip of %.1f deg (%s) at %d ms" % (slips[0]["deg"], slips[0]["axis"], slips[0]["t_ms"]))
    side_switch = [int(s) for s, _ in sc.sides[1:]]
    meta = {"sample_rate_hz": rate, "side": side, "imu": st["imu"], "variant": pers["variant"],
            "scenario": scenario, "seed": int(seed), "mounting": ph.MOUNTING_NAMES[mounting],
            "source": "heeldrop-synth"}
    if side_switch:
        meta["side_switch_ms"] = ",".join(str(x) for x in side_switch)
        meta["sides"] = "+".join(sd for _, sd in sc.sides)
    truth = {
        "scenario": scenario, "seed": int(seed), "side": side,
        "mounting": ph.MOUNTING_NAMES[mounting], "mounting_index": int(mounting),
        "misalign_deg": list(st["misalign"]), "rate_hz": rate,
        "still_start": True, "still_start_ms": st["still_start_ms"], "variant": pers["variant"],
        "reps": reps, "slips": slips, "notes": "; ".join(notes),
        "sides": [sd for _, sd in sc.sides], "side_switch_ms": side_switch,
        "restrap_delta_deg": restrap_delta,
        "shuffles": sc.shuffles, "walks": sc.walks,
        "duration_ms": int(n - 1),
        "imu": st["imu"], "dlpf_hz": dlpf_for_rate(rate),
        "gyro_bias_dps": [round(float(x), 3) for x in err.get("gyro_bias0", np.zeros(3))],
        "heel_radius_m": round(pers["r"], 4), "roll_coupling_k": round(k, 4),
        "roll_gain": round(st["roll_gain"], 3),
        "gyro_lsb_per_dps": round(lsb[0], 6) if st["quant"] else None,
        "accel_lsb_per_g": round(lsb[1], 6) if st["quant"] else None,
        "jitter_ms": jitter, "dropped": int((n + FS // rate - 1) // (FS // rate) - len(t_ms)),
        "definitions": {
            "descent_speed_dps": "mean pitch speed over 10-90 % of the descent travel",
            "rise_speed_dps": "mean pitch speed over 10-90 % of the rise travel",
            "bounce_ms": "for each rebound of >= 2 deg p-p, the time the heel bottoms out and turns back up (the first one is the arrival at the bottom)",
            "hold_s": "quiet hold: from the settle after the descent (after any catch overshoot and bounces) to the rise start",
            "max_roll_deg": "max side-corrected roll (+ = inversion) of the heel vs the level tare, coupling included, sway/tremor excluded",
            "thresholds": {"fast_mean": FAST_MEAN, "fast_peak": FAST_PEAK, "snap_mean": SNAP_MEAN,
                           "snap_peak": SNAP_PEAK, "roll_out_deg": ROLL_OUT_DEG, "roll_out_s": ROLL_OUT_S,
                           "twist_deg": TWIST_DEG, "no_hold_s": NO_HOLD_S, "bounce_pp_deg": BOUNCE_PP},
        },
    }
    return Rendered(t_ms, a, g, meta, truth)


def ph_minjerk(n):
    from .script import minjerk
    return minjerk(n)
