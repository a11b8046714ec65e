"""Render a scenario: script -> body motion -> ideal IMU -> sensor errors ->
output samples, plus the per-rep truth computed from the script.

Sway (0.1-1 Hz, its whole amplitude range, corrective roll steps when
unsupported) and tremor act at full strength from the first sample to the
last, the still start included; only while the sensor is off the foot (a
re-strap) do they fade out."""
import numpy as np

from . import physics as ph
from .physics import FS
from .scenarios import SCENARIOS, build
from .script import minjerk
from .sensor import (RATES, SWEEP_RATES, apply_errors, check_rate, dlpf_for_rate, lsb_for, sample_errors,
                     sample_output)
from .truth import (BOUNCE_PP, BOUNCE_RATE, DEFINITIONS, FAST_MEAN, FAST_PEAK, MIN_DEPTH, NO_HOLD_S,
                    ROLL_ABS_DEG, ROLL_OUT_DEG, ROLL_OUT_S, ROLL_RATE_DPS, ROLL_RATE_S, SNAP_MEAN, SNAP_PEAK,
                    SNAP_TIME_S, TWIST_DEG, longest_run, rep_truth, speed_10_90)

__all__ = ["Rendered", "render", "rep_truth", "BOUNCE_PP", "BOUNCE_RATE", "FAST_MEAN", "FAST_PEAK", "MIN_DEPTH",
           "NO_HOLD_S", "ROLL_ABS_DEG", "ROLL_OUT_DEG", "ROLL_OUT_S", "ROLL_RATE_DPS", "ROLL_RATE_S", "SNAP_MEAN",
           "SNAP_PEAK", "SNAP_TIME_S", "TWIST_DEG", "longest_run", "speed_10_90"]

CHUNK = 200000  # internal samples per block of the rigid-body step (bounds memory on long traces)


class Rendered:
    """One simulated trace: samples (t_ms, accel (M,3) g, gyro (M,3) deg/s),
    CSV metadata and truth dict; ``parts`` (with keep_parts) holds the body
    motion's components at the internal rate, for tests."""

    def __init__(self, t_ms, accel, gyro, meta, truth, parts=None):
        self.t_ms, self.accel, self.gyro, self.meta, self.truth = t_ms, accel, gyro, meta, truth
        self.parts = parts

    def columns(self):
        a, g = self.accel, self.gyro
        return {"t_ms": self.t_ms.tolist(), "ax": a[:, 0].tolist(), "ay": a[:, 1].tolist(),
                "az": a[:, 2].tolist(), "gx": g[:, 0].tolist(), "gy": g[:, 1].tolist(),
                "gz": g[:, 2].tolist()}

    def trace(self):
        """A heeldrop.traceio.Trace with the values the CSV would hold (accel
        to 5 decimals, gyro to 3), without writing a file."""
        from heeldrop.traceio import Trace
        a, g = np.round(self.accel, 5), np.round(self.gyro, 3)
        return Trace(self.t_ms.tolist(), a[:, 0].tolist(), a[:, 1].tolist(), a[:, 2].tolist(),
                     g[:, 0].tolist(), g[:, 1].tolist(), g[:, 2].tolist(), meta=dict(self.meta))


def sway_signal(rng, n, amp, f_lo=0.1, f_hi=1.0, k=4):
    """Postural sway: k sinusoids at frequencies drawn uniformly over
    f_lo..f_hi Hz, random weights, scaled so that the whole has the power of
    one sinusoid of amplitude ``amp`` (rms = amp / sqrt 2; peaks reach past
    amp). No cap on the rate: 2 deg at 1 Hz turns the foot at 12.6 deg/s."""
    if amp <= 0:
        return np.zeros(n)
    t = np.arange(n) / FS
    f = rng.uniform(f_lo, f_hi, k)
    w = rng.uniform(0.3, 1.0, k)
    w = w / np.sqrt(np.sum(w * w)) * amp
    ph0 = rng.uniform(0, 2 * np.pi, k)
    out = np.zeros(n)
    for wi, fi, p0 in zip(w, f, ph0):
        out += wi * np.sin(2 * np.pi * fi * t + p0)
    return out


def corrective_steps(rng, n, per_s):
    """Occasional corrective roll steps of 3-5 deg (unsupported stance): a
    quick shift (0.15-0.5 s), held 0.5-3 s, back over 0.5-2 s; Poisson times."""
    out = np.zeros(n)
    steps = []
    if per_s <= 0:
        return out, steps
    t = float(rng.exponential(1.0 / per_s))
    while t * FS < n:
        amp = float(rng.choice([-1, 1]) * rng.uniform(3, 5))
        up, hold, down = rng.uniform(0.15, 0.5), rng.uniform(0.5, 3.0), rng.uniform(0.5, 2.0)
        i = int(t * FS)
        shape = amp * np.concatenate([minjerk(int(up * FS)), np.ones(int(hold * FS)), 1 - minjerk(int(down * FS))])
        e = min(n, i + len(shape))
        out[i:e] += shape[:e - i]
        steps.append({"t_ms": i, "deg": round(amp, 2)})
        t += len(shape) / FS + float(rng.exponential(1.0 / per_s))
    return out, steps


def _smooth_step(n, i0, dur_n):
    s = np.zeros(n)
    if i0 >= n:
        return s
    m = max(1, dur_n)
    tt = np.clip((np.arange(n) - i0) / m, 0, 1)
    return tt * tt * tt * (10 - 15 * tt + 6 * tt * tt)


def _moving_avg(x, n):
    """Centred moving average (same length; the ends padded with the end values,
    so a constant stays constant up to the first and last sample)."""
    if n <= 1 or len(x) == 0:
        return x
    c = np.concatenate([[0.0], np.cumsum(np.concatenate([np.full(n, x[0]), x, np.full(n, x[-1])]))])
    lo = np.arange(len(x)) + n - (n - 1) // 2 - (0 if n % 2 else 1) + 1
    return (c[lo + n - 1] - c[lo - 1]) / n


def _ideal_imu_chunked(th, ro, ps, sgn, rv, R_fs, pivot, heel, acc):
    """physics.ideal_imu over blocks of CHUNK samples (one sample of overlap
    on each side for the central differences), so that long traces at 1 kHz
    do not hold several (N, 3, 3) arrays at once."""
    n = len(th)
    gyro = np.empty((n, 3))
    accel = np.empty((n, 3))
    for a in range(0, n, CHUNK):
        b = min(n, a + CHUNK)
        lo, hi = max(0, a - 1), min(n, b + 1)
        R_wf = ph.foot_rotation(th[lo:hi], ro[lo:hi], ps[lo:hi], sgn[lo:hi])
        R_skin = ph.expmap(rv[lo:hi])
        g, f = ph.ideal_imu(R_wf, R_skin, R_fs, pivot[lo:hi], heel, acc[lo:hi])
        gyro[a:b] = g[a - lo:a - lo + (b - a)]
        accel[a:b] = f[a - lo:a - lo + (b - a)]
    return gyro, accel


def _rng_streams(seed, scenario, side, demo, short, benign):
    """Independent generators for the script, the body (sway, tremor), the
    skin (slips, re-straps), the sensor's parameters, its noise and the
    sampling: a nuisance pinned by an override leaves the others unchanged."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, SCENARIOS.index(scenario), 0 if side == "left" else 1,
                                 int(demo) + 2 * int(short) + 4 * int(benign)])
    return [np.random.default_rng(c) for c in ss.spawn(6)]


def render(scenario, seed, side="left", rate=100, mounting=0, demo=False, short=False, overrides=None,
           keep_parts=False):
    """Simulate one trace. Deterministic in all its arguments. ``demo``: a
    calm demonstration session (benign nuisances, 20 s holds, 6 reps per side
    in a session, no first-rep or between-rep extras); ``short``: 2.5-6 s holds and 3-5 reps (the parity corpus, not
    an accuracy measure); ``overrides`` pin nuisances for the robustness sweep
    (scenarios.OVERRIDE_KEYS); ``keep_parts`` keeps the body-motion
    components (sway, tremor) in ``Rendered.parts``."""
    from .scenarios import OVERRIDE_KEYS
    if scenario not in SCENARIOS:
        raise ValueError("unknown scenario %r (known: %s)" % (scenario, ", ".join(SCENARIOS)))
    if side not in ("left", "right"):
        raise ValueError("side must be left or right")
    if rate not in RATES and rate not in SWEEP_RATES:
        raise ValueError("rate must be one of %s" % (RATES,))
    check_rate(rate)
    if not 0 <= mounting < 24:
        raise ValueError("mounting must be 0..23")
    ov = dict(overrides or {})
    bad = [k for k in ov if k not in OVERRIDE_KEYS]
    if bad:
        raise ValueError("unknown override(s) %s (known: %s)" % (", ".join(bad), ", ".join(OVERRIDE_KEYS)))
    r_script, r_body, r_skin, r_sensor, r_noise, r_sample = _rng_streams(
        seed, scenario, side, demo, short, bool(ov.get("benign")))
    sc, st, pers, notes = build(scenario, r_script, side, demo, short, ov, rate)
    out = sc.finish()
    n = out["n"]
    theta, psi, roll_extra = out["theta"], out["psi"], out["roll_extra"]
    sgn = np.where(out["side"] == "right", 1.0, -1.0)
    k = pers["k"]
    roll = -k * theta + roll_extra

    # body motion seen by the sensor = script + sway + tremor, at full
    # strength everywhere but while the sensor is off the foot
    th_m, ro_m, ps_m = theta.copy(), roll.copy(), psi.copy()
    pivot = out["pivot"].copy()
    env = np.ones(n)
    for rs in sc.restraps:
        env[max(0, rs["start"] - 1000):rs["end"] + 1000] = 0.0
    if sc.restraps:
        env = _moving_avg(env, 1000)
    parts = {} if keep_parts else None
    steps = []
    sw = st["sway"]
    if sw:
        sp = sway_signal(r_body, n, sw["pitch"])
        sr = sway_signal(r_body, n, sw["roll"])
        cs, steps = corrective_steps(r_body, n, sw["steps_per_s"])
        sy = sway_signal(r_body, n, sw["yaw"])
        th_m += env * sp
        ro_m += env * (sr + cs)
        ps_m += env * sy
        pivot[:, 0] += env * sway_signal(r_body, n, sw["transl_m"], 0.2, 1.0)
        pivot[:, 1] += env * sway_signal(r_body, n, sw["transl_m"], 0.2, 1.0)
        if keep_parts:
            parts.update({"sway_pitch": env * sp, "sway_roll": env * (sr + cs), "sway_yaw": env * sy})
    t = np.arange(n) / FS
    if st["tremor"]:
        tr = st["tremor"]
        moving = _moving_avg((np.abs(np.gradient(theta) * FS) > 2.0).astype(float), 200)
        a = tr["amp"] * (1 + (tr["action"] - 1) * moving) * env
        ph0 = r_body.uniform(0, 2 * np.pi, 2)
        wander = 0.6 * np.sin(2 * np.pi * 0.21 * t)
        tp = a * np.sin(2 * np.pi * tr["hz"] * t + ph0[0] + wander)
        th_m += tp
        ro_m += 0.5 * a * np.sin(2 * np.pi * tr["hz"] * 1.07 * t + ph0[1] + wander)
        if keep_parts:
            parts["tremor_pitch"] = tp
    if st.get("fatigue") and "from" in st["fatigue"]:
        fa = st["fatigue"]
        ramp = _smooth_step(n, fa["from"], 5000) * fa["amp"] * env
        th_m += ramp * np.sin(2 * np.pi * fa["hz"] * t + 0.8 * np.sin(2 * np.pi * 0.13 * t))
        ro_m += 0.4 * ramp * np.sin(2 * np.pi * fa["hz"] * 1.1 * t)
    ro_m *= st["roll_gain"]
    if keep_parts:
        parts.update({"theta": theta, "env": env})

    # the sensor on the foot: strap creep, slips, soft-tissue wobble, re-strapping
    rv = np.zeros((n, 3))
    slips = []
    if st.get("skin_creep") and sc.reps:
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
    for rs in sc.restraps:
        # the sensor turned over by the scripted angle about a random, mostly
        # level axis (over turn_s, and back), handled meanwhile (0.2-2 Hz wobble of
        # 2-15 deg), strapped back a few degrees from where it was
        a, b = rs["start"], rs["end"]
        L = b - a
        legacy = rs["angle"] is None  # the demo's re-strap, drawn as it always was
        if legacy:
            axis = r_skin.normal(size=3)
            ang = np.radians(r_skin.uniform(40, 100))
            q = L // 4
        else:
            axis = np.array([r_skin.normal(), r_skin.normal(), 0.3 * r_skin.normal()])  # turned over: mostly
            ang = np.radians(rs["angle"])                                                # about a level axis
            q = max(1, min(L // 4, int(rs["turn_s"] * FS)))
        axis /= np.linalg.norm(axis)
        bump = np.zeros(n)
        bump[a:b] = np.concatenate([minjerk(q), np.ones(L - 2 * q), 1 - minjerk(q)])
        rv += (ang * bump)[:, None] * axis[None, :]
        if st["sway"] is not None and not legacy:
            amp = r_skin.uniform(2.0, 15.0)
            for ax in range(3):
                rv[a:b, ax] += np.radians(bump[a:b] * sway_signal(r_skin, L, amp / np.sqrt(3), 0.2, 2.0))
        delta = r_skin.uniform(-4, 4, 3) if st["sway"] is not None else np.zeros(3)
        rv += np.radians(delta)[None, :] * _smooth_step(n, a + L // 4, 2 * (L // 4))[:, None]
        restrap_delta.append([round(float(x), 2) for x in delta])
    R_fs = ph.mounting_matrix(mounting, st["misalign"])
    heel = np.array([-pers["r"], 0.0, pers["h"]])
    gyro, accel = _ideal_imu_chunked(th_m, ro_m, ps_m, sgn, rv, R_fs, pivot, heel, out["acc"])

    err = sample_errors(r_sensor, st["errors"], st["imu"], ov)
    g, a = apply_errors(gyro, accel, err, r_noise, accel_range=st["accel_range"])
    glsb, alsb = lsb_for(st["imu"], st["gyro_range"], st["accel_range"])
    jitter = st["jitter"]
    t_ms, idx, g, a = sample_output(g, a, rate, r_sample, quant=st["quant"], jitter_ms=jitter,
                                    drop_frac=st["drop"], protect_ms=0, lsb=(glsb, alsb))
    if st["quant"]:
        sat_g = int(np.sum(np.any(np.abs(np.round(g * glsb)) >= 32767, axis=1)))
        sat_a = int(np.sum(np.any(np.abs(np.round(a * alsb)) >= 32767, axis=1)))
    else:
        sat_g = sat_a = 0

    reps = []
    for j, rec in enumerate(sc.reps):
        r = rep_truth(k, rec, theta, roll_extra, psi)
        r["rep"] = j + 1
        reps.append(r)
    partials = [{"start_ms": int(rec["start"]), "end_ms": int(rec["end"]),
                 "depth_deg": round(float(theta[rec["start"]:rec["end"] + 1].max()), 2)} for rec in sc.partials]
    scripted = ["rep %d: %s" % (r["rep"], "+".join(r["scripted_faults"])) for r in reps if r["scripted_faults"]]
    near = ["rep %d: %s" % (r["rep"], r["near"]) for r in reps if r["near"]]
    notes = ["%s, %s foot, %d reps" % (scenario, side, len(reps))] + notes
    if scripted:
        notes.append("scripted faults: " + ", ".join(scripted))
    if near:
        notes.append("near a threshold: " + ", ".join(near))
    for sl in slips:
        notes.append("strap slip of %.1f deg (%s) at %d ms" % (sl["deg"], sl["axis"], sl["t_ms"]))
    side_switch = [int(s) for s, _ in sc.sides[1:]]
    meta = {"sample_rate_hz": rate, "side": side, "imu": st["imu"], "variant": pers["variant"],
            "scenario": scenario, "seed": int(seed), "mounting": ph.MOUNTING_NAMES[mounting],
            "source": "heeldrop-synth"}
    if st["quant"]:
        meta.update({"gyro_range_dps": st["gyro_range"], "accel_range_g": st["accel_range"],
                     "gyro_lsb_per_dps": round(glsb, 6), "accel_lsb_per_g": round(alsb, 6)})
    if side_switch:
        meta["side_switch_ms"] = ",".join(str(x) for x in side_switch)
        meta["sides"] = "+".join(sd for _, sd in sc.sides)
    still = st["still_starts"]
    sway_t = None
    if sw:
        sway_t = {"pitch_deg": round(sw["pitch"], 3), "roll_deg": round(sw["roll"], 3), "yaw_deg": round(sw["yaw"], 3),
                  "supported": sw["supported"], "corrective_steps_per_min": round(60 * sw["steps_per_s"], 2),
                  "corrective_steps": steps}
    draws = {
        "person": {k2: (round(v, 4) if isinstance(v, float) else v) for k2, v in pers.items()},
        "sway": sway_t,
        "tremor": {k2: round(v, 4) for k2, v in st["tremor"].items()} if st["tremor"] else None,
        "fatigue": {k2: (round(v, 4) if isinstance(v, float) else v) for k2, v in st["fatigue"].items()} if st.get("fatigue") else None,
        "mount": st["mount"], "roll_gain": round(st["roll_gain"], 3), "misalign_deg": list(st["misalign"]),
        "gyro_noise_dps_rthz": round(float(err.get("gyro_noise", 0.0)), 5),
        "accel_noise_g_rthz": round(float(err.get("accel_noise", 0.0)), 7),
        "gyro_warmup_dps": [round(float(x), 3) for x in err.get("gyro_warmup", np.zeros(3))],
        "gyro_warmup_tau_s": round(float(err.get("gyro_warmup_tau", 0.0)), 1),
        "drop_frac": round(st["drop"], 4), "overrides": {k2: v for k2, v in ov.items()},
    }
    truth = {
        "scenario": scenario, "seed": int(seed), "side": side,
        "mounting": ph.MOUNTING_NAMES[mounting], "mounting_index": int(mounting),
        "misalign_deg": list(st["misalign"]), "rate_hz": rate,
        "still_start": True, "still_start_ms": int(still[0][0]), "still_end_ms": int(still[0][1]),
        "still_starts": [{"start_ms": int(a0), "end_ms": int(b0), "side": sp0.get("side", side)}
                         for (a0, b0), sp0 in zip(still, [x for x in sc.spans if x["kind"] == "still_start"])],
        "variant": pers["variant"], "top_deg": round(pers["top"], 2), "raised_top": pers["raised"],
        "hold_target_s": pers["target"],
        "reps": reps, "partials": partials, "spans": sc.spans, "slips": slips, "notes": "; ".join(notes),
        "sides": [sd for _, sd in sc.sides], "side_switch_ms": side_switch,
        "restrap_delta_deg": restrap_delta,
        "shuffles": sc.shuffles, "walks": sc.walks,
        "duration_ms": int(n - 1),
        "imu": st["imu"], "dlpf_hz": dlpf_for_rate(rate),
        "gyro_range_dps": st["gyro_range"], "accel_range_g": st["accel_range"],
        "gyro_bias_dps": [round(float(x), 3) for x in err.get("gyro_bias0", np.zeros(3))],
        "heel_radius_m": round(pers["r"], 4), "roll_coupling_k": round(k, 4),
        "roll_gain": round(st["roll_gain"], 3),
        "gyro_lsb_per_dps": round(glsb, 6) if st["quant"] else None,
        "accel_lsb_per_g": round(alsb, 6) if st["quant"] else None,
        "saturated_samples": {"gyro": sat_g, "accel": sat_a},
        "jitter_ms": jitter, "dropped": int(len(np.arange(0, n, check_rate(rate))) - len(t_ms)),
        "draws": draws,
        "definitions": DEFINITIONS,
    }
    return Rendered(t_ms, a, g, meta, truth, parts)
