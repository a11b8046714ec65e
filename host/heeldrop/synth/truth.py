"""Per-rep truth labels, computed from the script (the foot's own motion:
sway, tremor, strap slips and the sensor are not part of it) by the
definitions of docs/DOMAIN.md §7(a). A rep near a threshold is labelled exactly.

=============  ==========================================================
label          definition (script pitch theta, extra roll, yaw)
=============  ==========================================================
rep            a drop whose peak depth is >= 8 deg (shallower: a "partial"
               span, not a rep)
fast_descent   mean speed over 10-90 % of the descent travel > 20 deg/s, or
               peak > 45 deg/s, or the descent takes < 1.5 s with depth >= 20
snap_up        mean speed over 10-90 % of the rise travel > 40 deg/s, or
               peak > 90 deg/s, or the rise takes < 0.6 s
no_hold        quiet hold (settle after descent/rebounds -> rise start) < 2 s
bounced        at least one rebound of >= 3 deg peak to peak whose pitch
               rate exceeds 15 deg/s (two reversals within 1/f <= 1 s)
roll_out       inversion beyond the person's pitch-roll coupling >= 15 deg
               for >= 0.3 s, or the heel's whole roll vs the level tare
               > 20 deg for >= 0.3 s, or the extra inversion (> 0) rising
               faster than 45 deg/s for >= 0.1 s
twist          yaw range within the rep > 20 deg
=============  ==========================================================
"""
import numpy as np

from .physics import FS

FAST_MEAN, FAST_PEAK, FAST_TIME_S, FAST_TIME_DEPTH = 20.0, 45.0, 1.5, 20.0
SNAP_MEAN, SNAP_PEAK, SNAP_TIME_S = 40.0, 90.0, 0.6
ROLL_OUT_DEG, ROLL_OUT_S = 15.0, 0.3
ROLL_ABS_DEG = 20.0
ROLL_RATE_DPS, ROLL_RATE_S = 45.0, 0.1
TWIST_DEG = 20.0
NO_HOLD_S = 2.0
BOUNCE_PP = 3.0
BOUNCE_RATE = 15.0
BOUNCE_SEVERE_PP, BOUNCE_SEVERE_N = 6.0, 3
MIN_DEPTH = 8.0

THRESHOLDS = {"fast_mean": FAST_MEAN, "fast_peak": FAST_PEAK, "fast_time_s": FAST_TIME_S,
              "fast_time_depth": FAST_TIME_DEPTH, "snap_mean": SNAP_MEAN, "snap_peak": SNAP_PEAK,
              "snap_time_s": SNAP_TIME_S, "roll_out_deg": ROLL_OUT_DEG, "roll_out_s": ROLL_OUT_S,
              "roll_abs_deg": ROLL_ABS_DEG, "roll_rate_dps": ROLL_RATE_DPS, "roll_rate_s": ROLL_RATE_S,
              "twist_deg": TWIST_DEG, "no_hold_s": NO_HOLD_S, "bounce_pp_deg": BOUNCE_PP,
              "bounce_rate_dps": BOUNCE_RATE, "min_depth_deg": MIN_DEPTH}

DEFINITIONS = {
    "start_ms": "the heel starts to drop from the top (level or raised)",
    "end_ms": "the heel is back at the top (the rise's end; the dwell follows)",
    "depth_deg": "peak foot pitch below the level tare during the rep (catch overshoot included)",
    "descent_speed_dps": "mean pitch speed over 10-90 % of the descent travel (top to bottom)",
    "rise_speed_dps": "mean pitch speed over 10-90 % of the rise travel (bottom to top)",
    "bounce_ms": "for each rebound that counts (>= 3 deg p-p and > 15 deg/s), the time the heel bottoms out and turns back up (the first one is the arrival at the bottom)",
    "hold_s": "quiet hold: from the settle after the descent (after any catch overshoot and rebounds) to the rise start",
    "max_roll_deg": "max side-corrected roll (+ = inversion) of the heel vs the level tare, coupling included, sway/tremor excluded",
    "spans": "stretches that are not reps: still_start (where the device should calibrate), walk, step_on, step_off, fidget (weight shifts), toe_rise, partial (a drop shallower than 8 deg), rest, restrap",
    "thresholds": THRESHOLDS,
}


def speed_10_90(seg):
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
    return float(0.8 * abs(d) / dt), peak


def longest_run(mask):
    """Length of the longest run of True."""
    m = np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]])
    d = np.diff(m)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return int((ends - starts).max()) if len(starts) else 0


def rebound_rate(theta, i, f):
    """Peak pitch rate (deg/s) of the rebound starting at index i (one cycle at f Hz)."""
    n = max(2, int(round(FS / f)))
    seg = theta[i:i + n + 1]
    return float(np.max(np.abs(np.diff(seg)))) * FS if len(seg) > 1 else 0.0


def rep_truth(k, rec, theta, roll_extra, psi):
    p = rec["plan"]
    i0, de, hs, rs, e = rec["start"], rec["descent_end"], rec["hold_start"], rec["rise_start"], rec["end"]
    top0 = rec.get("top0", p.get("top", 0.0))
    dseg = np.concatenate([[top0], theta[i0:de + 1]])
    dmean, dpeak = speed_10_90(dseg)
    rseg = theta[rs - 1:e + 1]
    rmean, rpeak = speed_10_90(rseg)
    win = slice(i0, e + 1)
    depth = float(theta[win].max())
    roll = -k * theta[win] + roll_extra[win]
    extra = roll_extra[win]
    yaw = psi[win]
    hold_s = (rs - hs) / FS
    descent_s = (de - i0 + 1) / FS
    rise_s = (e - rs + 1) / FS
    run = longest_run(extra >= ROLL_OUT_DEG) / FS
    run_abs = longest_run(roll > ROLL_ABS_DEG) / FS
    rate = np.diff(extra, prepend=extra[0]) * FS
    run_rate = longest_run((rate > ROLL_RATE_DPS) & (extra > 0)) / FS
    pps, rates, b_ms, b_pp = [], [], [], []
    for i, a, f in zip(rec["bounce_idx"], rec["bounce_amp"], rec.get("bounce_hz", [2.0] * len(rec["bounce_idx"]))):
        a, r = round(float(a), 2), round(rebound_rate(theta, i, f), 1)
        pps.append(a)
        rates.append(r)
        if a >= BOUNCE_PP and r > BOUNCE_RATE:
            b_ms.append(int(i))
            b_pp.append(a)
    yaw_range = float(yaw.max() - yaw.min())
    # the labels follow from the figures as stored (rounded), so that a value
    # right at a threshold reads the same in the truth file and in its label
    dmean, dpeak, rmean, rpeak = (round(x, 2) for x in (dmean, dpeak, rmean, rpeak))
    depth, yaw_range = round(depth, 2), round(yaw_range, 2)
    hold_s, descent_s, rise_s = round(hold_s, 3), round(descent_s, 3), round(rise_s, 3)
    run, run_abs, run_rate = round(run, 3), round(run_abs, 3), round(run_rate, 3)
    fast = bool(dmean > FAST_MEAN or dpeak > FAST_PEAK or (descent_s < FAST_TIME_S and depth >= FAST_TIME_DEPTH))
    snap = bool(rmean > SNAP_MEAN or rpeak > SNAP_PEAK or rise_s < SNAP_TIME_S)
    return {
        "rep": 0, "side": rec["side"],
        "start_ms": int(i0), "end_ms": int(e),
        "depth_deg": round(depth, 2),
        "hold_s": round(hold_s, 3),
        "descent_s": round(descent_s, 3),
        "rise_s": round(rise_s, 3),
        "descent_speed_dps": round(dmean, 2), "rise_speed_dps": round(rmean, 2),
        "bounces": len(b_ms), "bounce_ms": b_ms,
        "max_roll_deg": round(float(roll.max()), 2),
        "fast_descent": fast,
        "roll_out": bool(run >= ROLL_OUT_S or run_abs >= ROLL_OUT_S or run_rate >= ROLL_RATE_S),
        "snap_up": snap,
        "twist": bool(yaw_range > TWIST_DEG),
        "no_hold": bool(hold_s < NO_HOLD_S),
        # extras (not in the detector's rep_end)
        "top_deg": round(float(top0), 2), "end_top_deg": round(float(p.get("top", 0.0)), 2),
        "descent_peak_dps": round(dpeak, 2), "rise_peak_dps": round(rpeak, 2),
        "descent_end_ms": int(de), "hold_start_ms": int(hs), "rise_start_ms": int(rs),
        "dwell_s": round(float(p.get("dwell", 0.0)), 3),
        "bounce_pp_deg": b_pp, "bounce_severe": bool(len(b_ms) >= BOUNCE_SEVERE_N or any(x > BOUNCE_SEVERE_PP for x in b_pp)),
        "rebound_pp_deg": pps, "rebound_rate_dps": rates,
        "overshoot_deg": round(float(p.get("overshoot", 0.0)), 2),
        "max_extra_roll_deg": round(float(extra.max()), 2),
        "min_extra_roll_deg": round(float(extra.min()), 2),
        "extra_roll_run_s": round(run, 3), "abs_roll_run_s": round(run_abs, 3),
        "extra_roll_rate_run_s": round(run_rate, 3),
        "max_extra_roll_rate_dps": round(float(rate.max()), 1),
        "yaw_range_deg": round(yaw_range, 2),
        "scripted_faults": list(p["faults"]), "near": p.get("near"), "first": p.get("first"),
    }
