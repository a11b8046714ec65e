"""The trace simulator: determinism, physics sign conventions, truth labels
that follow the docs/DOMAIN.md §7(a) definitions, parameters drawn over the whole
docs/DOMAIN.md §7(b) envelope (checked over the held-out split's plan), the sensor
model (full-scale ranges, saturation, jitter, drops), the plans of the
parity corpus and the accuracy splits, the sweep machinery."""
import hashlib
import json
import math
import os

import numpy as np
import pytest

from heeldrop.synth import MOUNTING_NAMES, RATES, SCENARIOS, render
from heeldrop.synth import corpus as corp
from heeldrop.synth import physics as ph
from heeldrop.synth.render import (BOUNCE_PP, BOUNCE_RATE, FAST_MEAN, FAST_PEAK, MIN_DEPTH, NO_HOLD_S, ROLL_OUT_DEG,
                                   ROLL_OUT_S, ROLL_RATE_S, SNAP_MEAN, SNAP_PEAK, SNAP_TIME_S, TWIST_DEG)
from heeldrop.synth.scenarios import EVAL_SCENARIOS
from heeldrop.synth.script import SPAN_KINDS
from heeldrop.synth.sensor import ACCEL_LSB, GYRO_LSB, lsb_for, quantise
from heeldrop.traceio import format_trace, read_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# tests/traces: frozen fixtures made by simulator version corp.COMMITTED_VERSION
COMMITTED_SHA256 = {
    "demo_session.csv": "1967b4ea1e62f7bd370d7f5cbd1f9b5cf503bb5f27cae62818f911340d947c86",
    "demo_session.truth.json": "c395fb376c1ff89bbb551afcfd51b5615f2127b768582aff028323fac307339f",
    "mixed_faults_right.csv": "08e35ca7d86386ea527f798ac5ae58af774cb9a0d013d8df534ef60a6d23b762",
    "mixed_faults_right.truth.json": "cc486e10be0ae1a0991b02f781b24b43a221b01038f18ae0e27db2f6cc0f6a7a",
    "walk_to_step_left.csv": "46d35a95db628ee0879e01d2731674c186679b7200789b91d1191fa5aec0db44",
    "walk_to_step_left.truth.json": "ad8b019d9ab62d7b94389086d8dd6046cf2cbe4134e92e34f2102787c95c1bc8",
}


@pytest.fixture(scope="module")
def split():
    """The held-out split's plan as drawn (build/eval/heldout, built once and
    reused while the simulator is unchanged): (directory, index, {name: truth}).
    Only the simulator's draws are checked here, never the engine."""
    names = corp.ensure_split("heldout")
    d = corp.split_dir("heldout")
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    truths = {}
    for n in names:
        with open(os.path.join(d, n + ".truth.json")) as f:
            truths[n] = json.load(f)
    return d, index, truths


def _reps(split):
    return [r for t in split[2].values() for r in t["reps"]]


# ---------------------------------------------------------------- determinism

def test_same_seed_same_bytes(tmp_path):
    a = render("mixed_faults", 42, "right", 200, 13)
    b = render("mixed_faults", 42, "right", 200, 13)
    pa = corp.write_rendered(a, str(tmp_path / "a.csv"))
    pb = corp.write_rendered(b, str(tmp_path / "b.csv"))
    for x, y in zip(pa, pb):
        with open(x, "rb") as f1, open(y, "rb") as f2:
            assert f1.read() == f2.read()
    c = render("mixed_faults", 43, "right", 200, 13)
    assert format_trace(c.columns(), c.meta) != format_trace(a.columns(), a.meta)


def test_csv_header_and_truth_file(tmp_path):
    r = render("bounce_mild", 17, "left", 100, 3)
    csv_path, truth_path = corp.write_rendered(r, str(tmp_path / "bm.csv"))
    tr = read_trace(csv_path)
    assert tr.meta["side"] == "left" and tr.meta["scenario"] == "bounce_mild"
    assert int(tr.meta["sample_rate_hz"]) == 100 and tr.meta["imu"]
    with open(truth_path) as f:
        truth = json.load(f)
    # the trace records its full-scale ranges and scales (replay reads them)
    assert float(tr.meta["gyro_lsb_per_dps"]) == pytest.approx(truth["gyro_lsb_per_dps"])
    assert float(tr.meta["accel_lsb_per_g"]) == pytest.approx(truth["accel_lsb_per_g"])
    assert int(tr.meta["gyro_range_dps"]) == truth["gyro_range_dps"] in (250, 500, 1000, 2000)
    assert int(tr.meta["accel_range_g"]) == truth["accel_range_g"] in (2, 4, 8, 16)
    for k in ("scenario", "seed", "side", "mounting", "misalign_deg", "rate_hz", "still_start", "still_start_ms",
              "still_end_ms", "still_starts", "reps", "partials", "spans", "slips", "notes", "draws", "definitions",
              "saturated_samples", "hold_target_s", "raised_top", "top_deg"):
        assert k in truth, k
    rep_keys = ("rep", "start_ms", "end_ms", "depth_deg", "hold_s", "descent_s", "rise_s", "descent_speed_dps",
                "rise_speed_dps", "bounces", "bounce_ms", "max_roll_deg", "fast_descent", "roll_out", "snap_up",
                "twist", "no_hold", "top_deg", "rebound_pp_deg", "bounce_severe")
    for rep in truth["reps"]:
        for k in rep_keys:
            assert k in rep, k
    # accel 5 decimals, gyro 3 decimals
    with open(csv_path) as f:
        row = [ln for ln in f if ln[0].isdigit()][10].strip().split(",")
    assert all(len(v.split(".")[1]) == 5 for v in row[1:4])
    assert all(len(v.split(".")[1]) == 3 for v in row[4:7])


def test_unknown_override_is_an_error():
    with pytest.raises(ValueError, match="unknown override"):
        render("ideal", 1, overrides={"sway_amp": 1.0})


# ---------------------------------------------------------------- physics

def _integrate_up(t_ms, gyro_dps, accel, sign=1.0):
    """Carry the first accel direction forward with du/dt = u x w (exact
    rotation per step); return the angle error (deg) to the measured accel
    direction at every sample."""
    u = list(accel[0] / np.linalg.norm(accel[0]))
    g = (np.radians(gyro_dps) * sign).tolist()
    t = (np.asarray(t_ms) / 1000.0).tolist()
    an = (accel / np.linalg.norm(accel, axis=1)[:, None]).tolist()
    err = [0.0]
    for i in range(1, len(t)):
        dt = t[i] - t[i - 1]
        wx, wy, wz = g[i - 1]
        w = math.sqrt(wx * wx + wy * wy + wz * wz)
        th = w * dt
        if th > 0:
            kx, ky, kz = wx / w, wy / w, wz / w
            ux, uy, uz = u
            # rotate u by -th about k (du/dt = u x w = -w x u)
            c, s = math.cos(th), math.sin(th)
            cx, cy, cz = ky * uz - kz * uy, kz * ux - kx * uz, kx * uy - ky * ux
            d = (kx * ux + ky * uy + kz * uz) * (1 - c)
            u = [ux * c - cx * s + kx * d, uy * c - cy * s + ky * d, uz * c - cz * s + kz * d]
        a = an[i]
        dot = max(-1.0, min(1.0, u[0] * a[0] + u[1] * a[1] + u[2] * a[2]))
        err.append(math.degrees(math.acos(dot)))
    return np.array(err)


@pytest.mark.parametrize("side,mounting", [("left", 0), ("right", 0), ("left", 11), ("right", 19)])
def test_gyro_integrates_to_accel_direction(side, mounting):
    """In a slow, noise-free trace, integrating the gyro (du/dt = u x w) keeps
    the up-vector on the accelerometer's direction at quasi-static samples; the
    opposite sign convention drifts far away."""
    r = render("ideal", 5, side, 200, mounting)
    g, a = r.gyro, r.accel
    quiet = (np.abs(g).max(axis=1) < 0.5) & (np.abs(np.linalg.norm(a, axis=1) - 1) < 0.003)
    assert quiet.sum() > 1000
    err = _integrate_up(r.t_ms, g, a)
    assert err[quiet].max() < 0.5, err[quiet].max()
    # all reps get deep, so a flipped sign is far off at the bottom
    assert _integrate_up(r.t_ms, g, a, sign=-1.0).max() > 10.0


def test_at_rest_accel_points_up_in_each_mounting():
    for i, name in enumerate(MOUNTING_NAMES):
        R = ph.mounting_matrix(i)
        up = R.T @ np.array([0.0, 0.0, 1.0])  # foot up in sensor axes
        axis = name.split("-up")[0]
        k = "xyz".index(axis[-1])
        assert up[k] == pytest.approx(-1.0 if axis.startswith("-") else 1.0)
        assert abs(np.linalg.det(R) - 1) < 1e-12
    assert len(set(MOUNTING_NAMES)) == 24


def test_roll_sign_mirrored_between_feet():
    """Inversion tips the dorsum toward the little toe: the foot's up-vector
    (seen in foot axes) moves to -y for the right foot and +y for the left."""
    for side in ("right", "left"):
        R = ph.foot_rotation(np.array([0.0]), np.array([10.0]), np.array([0.0]), side)[0]
        up_in_foot = R.T @ np.array([0, 0, 1.0])
        assert (R @ np.array([0, 0, 1.0]))[1] == pytest.approx(-math.sin(math.radians(10)) * (1 if side == "right" else -1))
        assert up_in_foot[1] == pytest.approx(math.sin(math.radians(10)) * (1 if side == "right" else -1))
    # heel below level: the heel sits below the pivot
    R = ph.foot_rotation(np.array([20.0]), np.array([0.0]), np.array([0.0]), "left")[0]
    assert (R @ np.array([-0.17, 0, 0]))[2] < 0


def test_ideal_truth_matches_signal():
    """Integrate the pitch rate of an ideal trace in foot axes: depth, descent
    speed and the quiet hold agree with the truth."""
    for side, mounting in (("left", 4), ("right", 21)):
        r = render("ideal", 9, side, 100, mounting)
        R_fs = ph.mounting_matrix(mounting)
        w_foot = r.gyro @ R_fs.T  # sensor -> foot axes
        t = r.t_ms / 1000.0
        theta = np.concatenate([[0.0], np.cumsum(-w_foot[1:, 1] * np.diff(t))])  # theta rate = -w_y
        assert r.truth["reps"]
        for rep in r.truth["reps"]:
            m = (r.t_ms >= rep["start_ms"]) & (r.t_ms <= rep["end_ms"])
            assert abs(theta[m].max() - rep["depth_deg"]) < 1.0
            d = (r.t_ms >= rep["start_ms"]) & (r.t_ms <= rep["descent_end_ms"])
            seg = theta[d]
            x = (seg - seg[0]) / (seg[-1] - seg[0])
            t10, t90 = t[d][np.argmax(x >= 0.1)], t[d][np.argmax(x >= 0.9)]
            v = 0.8 * (seg[-1] - seg[0]) / (t90 - t10)
            assert v == pytest.approx(rep["descent_speed_dps"], rel=0.1)
            h = (r.t_ms >= rep["hold_start_ms"] + 300) & (r.t_ms < rep["rise_start_ms"] - 100)
            # quiet apart from creep (no fidgets in the ideal scenario)
            assert np.abs(w_foot[h, 1]).max() < 1.0


# ---------------------------------------------------------------- truth labels

def test_truth_labels_follow_the_definitions(split):
    for name, truth in split[2].items():
        reps = truth["reps"]
        assert reps, name
        last_end = -1
        nonrep = [s for s in truth["spans"] if s["kind"] != "still_start"]
        for s in truth["spans"]:
            assert s["kind"] in SPAN_KINDS and 0 <= s["start_ms"] <= s["end_ms"] <= truth["duration_ms"], (name, s)
        for rep in reps:
            ctx = (name, rep["rep"])
            assert last_end < rep["start_ms"] < rep["descent_end_ms"] < rep["hold_start_ms"] <= rep["rise_start_ms"] < rep["end_ms"], ctx
            last_end = rep["end_ms"]
            assert rep["start_ms"] > truth["still_end_ms"], ctx
            # a rep never overlaps a span that is not a rep
            assert not [s for s in nonrep if s["start_ms"] <= rep["end_ms"] and rep["start_ms"] <= s["end_ms"]], ctx
            assert rep["depth_deg"] >= MIN_DEPTH, ctx
            assert rep["fast_descent"] == (rep["descent_speed_dps"] > FAST_MEAN or rep["descent_peak_dps"] > FAST_PEAK
                                           or (rep["descent_s"] < 1.5 and rep["depth_deg"] >= 20)), ctx
            assert rep["snap_up"] == (rep["rise_speed_dps"] > SNAP_MEAN or rep["rise_peak_dps"] > SNAP_PEAK
                                      or rep["rise_s"] < SNAP_TIME_S), ctx
            assert rep["no_hold"] == (rep["hold_s"] < NO_HOLD_S), ctx
            assert rep["twist"] == (rep["yaw_range_deg"] > TWIST_DEG), ctx
            assert rep["roll_out"] == (rep["extra_roll_run_s"] >= ROLL_OUT_S or rep["abs_roll_run_s"] >= ROLL_OUT_S
                                       or rep["extra_roll_rate_run_s"] >= ROLL_RATE_S), ctx
            if rep["max_extra_roll_deg"] >= ROLL_OUT_DEG + 0.5 and not rep["roll_out"]:
                raise AssertionError(("a roll-out beyond 15 deg shorter than 0.3 s?", ctx, rep["extra_roll_run_s"]))
            counted = [(pp, r) for pp, r in zip(rep["rebound_pp_deg"], rep["rebound_rate_dps"])
                       if pp >= BOUNCE_PP and r > BOUNCE_RATE]
            assert rep["bounces"] == len(counted) == len(rep["bounce_ms"]) == len(rep["bounce_pp_deg"]), ctx
            for t in rep["bounce_ms"]:
                assert rep["descent_end_ms"] <= t < rep["hold_start_ms"], ctx
            assert rep["bounce_ms"] == sorted(rep["bounce_ms"])
        for p in truth["partials"]:
            assert p["depth_deg"] < MIN_DEPTH, (name, p)


def test_labels_recomputed_from_the_script(split):
    """Re-render a few split traces keeping the script's pitch: the truth's
    depth is its peak over the rep, the hold is quiet (creep and 1-2 deg
    fidgets only), the descent's 10-90 % speed is what the pitch says."""
    d, index, truths = split
    ents = [e for e in index["traces"] if e["rate"] <= 100][:5]
    for e in ents:
        r = render(e["scenario"], e["seed"], e["side"], e["rate"], e["mounting"], keep_parts=True)
        assert r.truth["reps"] == truths[e["name"]]["reps"]
        th = r.parts["theta"]
        for rep in r.truth["reps"]:
            assert th[rep["start_ms"]:rep["end_ms"] + 1].max() == pytest.approx(rep["depth_deg"], abs=0.01)
            h = th[rep["hold_start_ms"]:rep["rise_start_ms"]]
            if len(h) > 2:
                assert np.abs(np.diff(h)).max() * 1000 < 16.0  # a 2 deg fidget over 0.4 s peaks at 15.7 deg/s
            seg = np.concatenate([[rep["top_deg"]], th[rep["start_ms"]:rep["descent_end_ms"] + 1]])
            x = (seg - seg[0]) / (seg[-1] - seg[0])
            dt = (np.argmax(x >= 0.9) - np.argmax(x >= 0.1)) / 1000.0
            assert 0.8 * (seg[-1] - seg[0]) / dt == pytest.approx(rep["descent_speed_dps"], rel=0.01)


# ---------------------------------------------------------------- the envelope, over the held-out plan

def test_every_rate_mounting_scenario_side_and_flag_is_present(split):
    d, index, truths = split
    tr = index["traces"]
    assert {e["rate"] for e in tr} == set(RATES)
    assert {e["mounting"] for e in tr} == set(range(24))
    assert {e["scenario"] for e in tr} == set(EVAL_SCENARIOS)
    assert {e["side"] for e in tr} == {"left", "right"}
    reps = _reps(split)
    for flag in ("fast_descent", "snap_up", "no_hold", "twist", "roll_out"):
        assert sum(r[flag] for r in reps) >= 25, flag
        assert sum(not r[flag] for r in reps) >= 200, flag
    assert sum(r["bounces"] > 0 for r in reps) >= 25
    assert sum(r["bounce_severe"] for r in reps) >= 5
    assert {t["variant"] for t in truths.values()} == {"straight-knee", "bent-knee"}
    assert {t["imu"] for t in truths.values()} == {"mpu6050", "icm42688", "lsm6dsox"}


def test_holds_span_5_to_60_s_and_the_faults(split):
    holds = np.array([r["hold_s"] for r in _reps(split)])
    assert holds.max() >= 55 and holds.min() <= 1.5
    assert (holds >= 30).mean() >= 0.25
    assert ((holds >= 2.5) & (holds < 10)).sum() >= 20  # short holds
    # the normal range is filled, not just its ends
    for lo in range(10, 60, 10):
        assert ((holds >= lo) & (holds < lo + 10)).sum() >= 10, lo


def test_still_starts_2_to_5_s(split):
    lens = [(s["end_ms"] - s["start_ms"] + 1) / 1000.0 for t in split[2].values() for s in t["still_starts"]]
    assert min(lens) >= 1.99 and max(lens) <= 5.01
    assert min(lens) <= 2.3 and max(lens) >= 4.7


def test_sway_drawn_over_its_whole_range(split):
    sway = [t["draws"]["sway"] for t in split[2].values()]
    pitch = [s["pitch_deg"] for s in sway]
    roll = [s["roll_deg"] for s in sway]
    assert min(pitch) <= 0.4 and max(pitch) >= 1.9
    assert min(roll) <= 0.7 and max(roll) >= 2.9
    unsupported = sum(not s["supported"] for s in sway)
    assert 0.2 * len(sway) <= unsupported <= 0.7 * len(sway)
    assert sum(bool(s["corrective_steps"]) for s in sway) >= 5
    assert all(3 <= abs(c["deg"]) <= 5 for s in sway for c in s["corrective_steps"])


def test_sway_at_full_strength_in_the_still_start(split):
    """No scaling of sway or tremor at the still start: the envelope is 1 there,
    and the sway turns the foot at the rates its amplitude and 0.1-1 Hz give
    (often more than the 3 deg/s a flat-gyro still test allows)."""
    d, index, truths = split
    fast = n = 0
    for e in [e for e in index["traces"] if e["rate"] <= 100][:8]:
        r = render(e["scenario"], e["seed"], e["side"], e["rate"], e["mounting"], keep_parts=True)
        s0, s1 = r.truth["still_start_ms"], r.truth["still_end_ms"]
        assert r.parts["env"][s0:s1 + 1].min() == 1.0
        assert np.all(r.parts["theta"][s0:s1 + 1] == 0.0)  # the script stands still at level throughout
        # sway fades only while the sensor is off the foot or the foot off the step (a re-strap)
        assert r.parts["env"].min() == 1.0 or any(s["kind"] == "restrap" for s in r.truth["spans"])
        # same strength inside the still start as over the whole trace
        sp = r.parts["sway_pitch"]
        amp = r.truth["draws"]["sway"]["pitch_deg"]
        assert np.sqrt(np.mean(sp ** 2)) == pytest.approx(amp / math.sqrt(2), rel=0.35)
        rate = np.abs(np.diff(r.parts["sway_roll"][s0:s1 + 1])).max() * 1000
        fast += rate > 3.0
        n += 1
        assert np.abs(r.parts["tremor_pitch"][s0:s1 + 1]).max() > 0.5 * r.truth["draws"]["tremor"]["amp"]
    assert fast >= n // 2, (fast, n)


def test_raised_tops_and_toe_rises(split):
    truths = list(split[2].values())
    raised = [t for t in truths if t["raised_top"]]
    assert 0.15 * len(truths) <= len(raised) <= 0.6 * len(truths)
    tops = [r["top_deg"] for t in raised for r in t["reps"]]
    assert max(tops) <= -3 and min(tops) <= -20
    assert all(-2.01 <= r["top_deg"] <= 2.01 for t in truths if not t["raised_top"] for r in t["reps"] if r["rep"] > 1)
    rises = [s for t in truths for s in t["spans"] if s["kind"] == "toe_rise"]
    assert len(rises) >= len(raised) and min(s["top_deg"] for s in rises) <= -20


def test_gyro_bias_warmup_and_full_scale_ranges(split):
    truths = list(split[2].values())
    bias = [abs(b) for t in truths if t["imu"] == "mpu6050" for b in t["gyro_bias_dps"]]
    assert max(bias) >= 19 and min(bias) <= 1
    warm = [abs(w) for t in truths for w in t["draws"]["gyro_warmup_dps"]]
    assert min(warm) <= 0.15 and max(warm) >= 0.9
    taus = [t["draws"]["gyro_warmup_tau_s"] for t in truths]
    assert min(taus) <= 120 and max(taus) >= 280
    assert {t["gyro_range_dps"] for t in truths} == {250, 500, 1000, 2000}
    assert {t["accel_range_g"] for t in truths} == {2, 4, 8, 16}


def test_saturation_occurs(split):
    truths = list(split[2].values())
    assert sum(t["saturated_samples"]["gyro"] > 0 for t in truths) >= 3
    assert sum(t["saturated_samples"]["accel"] > 0 for t in truths) >= 3
    assert any(t["saturated_samples"]["gyro"] > 0 for t in truths if t["gyro_range_dps"] == 250)


def test_near_threshold_reps_on_both_sides(split):
    reps = _reps(split)

    def both(vals, thr, width):
        below = sum(thr - width <= v < thr for v in vals)
        above = sum(thr <= v <= thr + width for v in vals)
        return below, above

    plain_descent = [r["descent_speed_dps"] for r in reps if r["descent_peak_dps"] <= FAST_PEAK and r["descent_s"] >= 1.5]
    plain_rise = [r["rise_speed_dps"] for r in reps if r["rise_peak_dps"] <= SNAP_PEAK and r["rise_s"] >= SNAP_TIME_S]
    partial = [p["depth_deg"] for t in split[2].values() for p in t["partials"]]
    cases = {
        "descent 20 deg/s": both(plain_descent, FAST_MEAN, 3.0),
        "rise 40 deg/s": both(plain_rise, SNAP_MEAN, 6.0),
        "rise time 0.6 s": both([r["rise_s"] for r in reps], SNAP_TIME_S, 0.09),
        "hold 2 s": both([r["hold_s"] for r in reps], NO_HOLD_S, 0.5),
        "extra roll 15 deg": both([r["max_extra_roll_deg"] for r in reps], ROLL_OUT_DEG, 2.5),
        "yaw 20 deg": both([r["yaw_range_deg"] for r in reps], TWIST_DEG, 3.0),
        "rebound 3 deg": both([pp for r in reps for pp in r["rebound_pp_deg"]], BOUNCE_PP, 0.5),
        "depth 8 deg": (sum(6.5 <= x < MIN_DEPTH for x in partial), sum(MIN_DEPTH <= r["depth_deg"] <= 9.5 for r in reps)),
    }
    thin = {k: v for k, v in cases.items() if min(v) < 3}
    assert not thin, cases


def test_session_features_and_nonrep_spans(split):
    truths = list(split[2].values())
    kinds = {}
    for t in truths:
        for s in t["spans"]:
            kinds[s["kind"]] = kinds.get(s["kind"], 0) + 1
    for k in SPAN_KINDS:
        assert kinds.get(k, 0) >= 3, (k, kinds)
    reps = _reps(split)
    assert {r["first"] for r in reps if r["first"]} == {"fast", "unheld", "shallow"}
    assert sum(1 for t in truths if t["partials"]) >= 5
    dwell = [r["dwell_s"] for r in reps]
    assert sum(d == 0 for d in dwell) >= 20 and max(dwell) >= 2.9 and min(d for d in dwell if d > 0) <= 0.6
    assert sum(len(t["sides"]) == 2 for t in truths) >= 2
    assert sum(any(s["kind"] == "rest" for s in t["spans"]) for t in truths) >= 3
    rests = [(s["end_ms"] - s["start_ms"]) / 1000 for t in truths for s in t["spans"] if s["kind"] == "rest"]
    assert min(rests) >= 19 and max(rests) <= 125
    assert sum(bool(t["walks"]) for t in truths) >= 15
    assert sum(bool(t["slips"]) for t in truths) >= 5


def test_depth_tempo_roll_yaw_and_mounting_draws(split):
    truths = list(split[2].values())
    reps = _reps(split)
    depth = [r["depth_deg"] for r in reps]
    assert min(depth) <= 9 and max(depth) >= 38
    pers = [t["draws"]["person"] for t in truths]
    assert any(p["stiff"] for p in pers) and any(p["creep"] >= 3 for p in pers) and any(p["creep"] <= 1 for p in pers)
    assert min(r["descent_s"] for r in reps) <= 0.5 and max(r["descent_s"] for r in reps) >= 6
    assert min(r["rise_s"] for r in reps) <= 0.3 and max(r["rise_s"] for r in reps) >= 2.9
    assert max(r["overshoot_deg"] for r in reps) >= 5.5
    rolls = [r["max_extra_roll_deg"] for r in reps if "roll_out" in r["scripted_faults"]]
    assert min(rolls) <= 9.5 and max(rolls) >= 22
    assert min(r["min_extra_roll_deg"] for r in reps) <= -11
    twists = [r["yaw_range_deg"] for r in reps if "twist" in r["scripted_faults"]]
    assert min(twists) <= 11 and max(twists) >= 24
    k = [t["roll_coupling_k"] for t in truths]
    assert min(k) <= 0.12 and max(k) >= 0.4
    mis = np.abs(np.array([t["misalign_deg"] for t in truths]))
    assert mis[:, 0].max() >= 9 and mis[:, 1].max() >= 14 and mis[:, 2].max() >= 19
    gains = [t["roll_gain"] for t in truths if t["draws"]["mount"] == "shoe"]
    assert min(gains) <= 0.6 and max(gains) >= 1.9
    assert max(t["draws"]["gyro_noise_dps_rthz"] for t in truths) >= 0.014
    assert max(t["draws"]["tremor"]["amp"] for t in truths) >= 0.09
    assert sum(bool(t["draws"]["fatigue"]) for t in truths) >= 5
    r = [t["heel_radius_m"] for t in truths]
    assert min(r) <= 0.152 and max(r) >= 0.198
    assert {t["jitter_ms"] for t in truths} == {1, 2}
    assert max(t["draws"]["drop_frac"] for t in truths) >= 0.018


# ---------------------------------------------------------------- sensor

def test_full_scale_ranges_quantise_and_saturate(tmp_path):
    seen = set()
    for seed in range(10):
        r = render("walk_to_step", seed, "right", 100, 7, short=True)
        t = r.truth
        seen.add(t["gyro_range_dps"])
        glsb, alsb = lsb_for(t["imu"], t["gyro_range_dps"], t["accel_range_g"])
        assert (glsb, alsb) == pytest.approx((t["gyro_lsb_per_dps"], t["accel_lsb_per_g"]), rel=1e-6)
        path, _ = corp.write_rendered(r, str(tmp_path / "w.csv"))
        tr = read_trace(path)
        a = np.array([tr.ax, tr.ay, tr.az])
        g = np.array([tr.gx, tr.gy, tr.gz])
        # multiples of the LSB (up to the CSV's decimals), clipped at the 16-bit range
        assert np.abs(g * glsb - np.round(g * glsb)).max() < 0.07
        assert np.abs(a).max() <= 32768 / alsb + 1e-4 and np.abs(g).max() <= 32768 / glsb + 2e-3
        # the chip's 16-bit register is the limit (the LSM6DSOX's +-250 deg/s reads up to 286.7)
        assert np.abs(r.gyro).max() <= 32768 / glsb + 1e-6
        # walking with a heel strike exceeds 2 g somewhere
        assert np.linalg.norm(r.accel, axis=1).max() > 1.8
    assert len(seen) >= 3
    assert quantise(np.array([5.0, -5.0, 1.0]), ACCEL_LSB).tolist() == [32767 / ACCEL_LSB, -4.0, 1.0]
    assert quantise(np.array([900.0]), GYRO_LSB)[0] == pytest.approx(500.26, abs=0.01)
    assert lsb_for("mpu6050", 250, 2) == (131.0, 16384.0)
    assert lsb_for("lsm6dsox", 2000, 16)[0] == pytest.approx(1 / 0.070)


def test_timestamps_jitter_and_drops():
    r = render("realistic_good", 8, "left", 1000, 2, short=True)
    d = np.diff(r.t_ms)
    assert d.min() >= 0 and r.truth["dropped"] >= 0
    r = render("realistic_good", 8, "left", 50, 2, short=True)
    d = np.diff(r.t_ms)
    j = r.truth["jitter_ms"]
    assert j in (1, 2) and d.min() >= 20 - 2 * j
    assert set(np.unique(d)) - set(range(20 - 2 * j, 21 + 2 * j)) <= set(range(21, 500))  # plus gaps
    # drops may hit the still start too (no protection)
    hits = 0
    for seed in range(12):
        r = render("realistic_good", seed, "left", 100, 0, short=True)
        t = r.t_ms
        s1 = r.truth["still_end_ms"]
        hits += int(np.any(np.diff(t[t <= s1]) > 15))
    assert hits >= 1


def test_ideal_is_noise_free_and_still():
    r = render("ideal", 1, "left", 100, 0)
    m = r.t_ms < 2000
    assert np.all(r.gyro[m] == 0) and np.allclose(r.accel[m], [0, 0, 1])


def test_rates_beyond_the_edge_for_the_sweep():
    r = render("ideal", 2, "left", 12.5, 0)
    assert r.meta["sample_rate_hz"] == 12.5 and np.all(np.diff(r.t_ms) == 80)
    with pytest.raises(ValueError):
        render("ideal", 2, "left", 30, 0)


def test_overrides_pin_one_nuisance_and_keep_the_rest():
    a = render("mixed_faults", 5, "left", 100, 3, overrides={"benign": True, "n_reps": 3, "hold": 12.0})
    b = render("mixed_faults", 5, "left", 100, 3, overrides={"benign": True, "n_reps": 3, "hold": 12.0,
                                                             "gyro_bias": 20.0})
    assert [r["hold_s"] for r in a.truth["reps"]] == [12.0] * 3
    assert [abs(x) for x in b.truth["gyro_bias_dps"]] == [20.0, 20.0, 20.0]
    assert a.truth["reps"] == b.truth["reps"]  # the same person and session


# ---------------------------------------------------------------- plans

def test_parity_corpus_plan():
    plan = corp.corpus_plan()
    names = [e["name"] for e in plan]
    # names that other tests pick stay put
    for n in ("001_ideal_right_25hz", "004_realistic_good_left_50hz", "005_realistic_good_right_500hz",
              "049_uncalibrated_bias_right_25hz", "069_walk_to_step_right_50hz", "073_session_left_25hz"):
        assert n in names, n
    assert len(plan) == 74 + corp.PARITY_FULL and len(set(names)) == len(names)
    assert {e["mounting"] for e in plan} == set(range(24))
    assert {e["rate"] for e in plan} == set(RATES)
    assert {e["scenario"] for e in plan} >= set(corp.PARITY_SCENARIOS)
    assert sum(1 for e in plan if not e.get("overrides")) == corp.PARITY_FULL


def test_split_plans_are_disjoint_reproducible_and_cover():
    tune, held, check = corp.split_plan("tuning"), corp.split_plan("heldout"), corp.split_plan("check")
    assert corp.split_plan("heldout") == held
    for a, b in ((tune, held), (tune, check), (check, held)):
        assert not {e["seed"] for e in a} & {e["seed"] for e in b}
        assert not {e["name"] for e in a} & {e["name"] for e in b}
    for plan in (tune, held, check):
        assert len(plan) == corp.SPLIT_TRACES
        assert {e["mounting"] for e in plan} == set(range(24))
        assert {e["rate"] for e in plan} == set(RATES)
        assert {e["scenario"] for e in plan} == set(EVAL_SCENARIOS)
        assert {e["side"] for e in plan} == {"left", "right"}
        assert not any(e["short"] for e in plan)
    with pytest.raises(ValueError):
        corp.split_plan("test")


def test_ensure_corpus_builds_once():
    names = corp.ensure_corpus()
    d = corp.repo_path("build/corpus")
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    assert len(names) == 74 + corp.PARITY_FULL and index["count"] == len(names)
    assert {t["mounting"] for t in index["traces"]} == set(range(24))
    assert {t["rate"] for t in index["traces"]} == set(RATES)
    for t in index["traces"][:5]:
        with open(os.path.join(d, t["name"] + ".truth.json")) as f:
            truth = json.load(f)
        assert truth["seed"] == t["seed"] and truth["mounting_index"] == t["mounting"]
    mtime = os.path.getmtime(os.path.join(d, "index.json"))
    assert corp.ensure_corpus() == names  # cheap: nothing rebuilt
    assert os.path.getmtime(os.path.join(d, "index.json")) == mtime


def test_committed_traces_are_the_frozen_fixtures():
    """tests/traces keeps the files simulator version 1 wrote (the demo and
    many tests rely on them): a change to them must be on purpose."""
    assert set(COMMITTED_SHA256) == {n + ext for n in corp.COMMITTED for ext in (".csv", ".truth.json")}
    for fn, digest in COMMITTED_SHA256.items():
        p = os.path.join(ROOT, "tests", "traces", fn)
        with open(p, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == digest, "%s changed: regenerate only on purpose" % fn
    with open(os.path.join(ROOT, "tests", "traces", "demo_session.truth.json")) as f:
        demo = json.load(f)
    assert demo["scenario"] == "session" and len(demo["reps"]) == 12


def test_cli_single_trace_and_errors(tmp_path, capsys):
    from heeldrop.cli import main
    out = tmp_path / "one.csv"
    assert main(["synth", "--scenario", "roll_out", "--seed", "4", "--side", "right", "--rate", "50",
                 "--mounting", "22", "-o", str(out)]) == 0
    truth = json.loads((tmp_path / "one.truth.json").read_text())
    assert truth["side"] == "right" and truth["mounting_index"] == 22 and truth["rate_hz"] == 50
    assert any("roll_out" in rep["scripted_faults"] for rep in truth["reps"])
    assert main(["synth", "--scenario", "nope", "-o", str(out)]) == 2
    assert "unknown scenario" in capsys.readouterr().err
    assert main(["synth", "--rate", "30", "-o", str(out)]) == 2
    assert "--rate must be one of" in capsys.readouterr().err
    assert main(["synth", "--scenario", "ideal", "--rate", "12.5", "-o", str(out)]) == 0


def test_the_foot_never_jumps():
    """The script's pitch is continuous: outside walking no faster than the
    fastest scripted motion (a snap-up's peak of up to 240 deg/s), nowhere a
    step of a degree within a millisecond (a jump of the heel would be an
    impossible gyro and accelerometer spike)."""
    for k, sc in enumerate(EVAL_SCENARIOS):
        r = render(sc, 500 + k, "left" if k % 2 else "right", 25, k % 24, short=True, keep_parts=True)
        rate = np.abs(np.diff(r.parts["theta"])) * 1000
        assert rate.max() < 1000, (sc, rate.max())
        mask = np.ones(len(rate), bool)
        for s in r.truth["spans"]:
            if s["kind"] in ("walk", "step_on", "step_off"):
                mask[max(0, s["start_ms"] - 2):s["end_ms"] + 2] = False
        assert rate[mask].max() < 250, (sc, rate[mask].max(), int(np.argmax(np.where(mask, rate, 0))))


def test_every_scenario_renders():
    for sc in SCENARIOS:
        r = render(sc, 77, "right", 25, 5, short=True)
        assert r.truth["reps"], sc
        assert len(r.t_ms) > 10


# ---------------------------------------------------------------- sweep machinery

def test_sweep_smoke(tmp_path):
    from heeldrop import sweep
    res = sweep.run_sweep(["sway", "rate"], k=1, jobs=1, values={"sway": [0.0, 2.5], "rate": [12.5, 100]})
    assert [x for x, _ in res["sway"]] == [0.0, 2.5] and [x for x, _ in res["rate"]] == [12.5, 100]
    for pts in res.values():
        for x, s in pts:
            assert s["reps_true"] == 5 and s["traces"] == 1
    paths = sweep.write(res, str(tmp_path), 1)
    for p in paths[:-1]:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    data = json.loads(open(paths[-1]).read())
    assert set(data["nuisances"]) == {"sway", "rate"} and len(data["nuisances"]["sway"]["points"]) == 2
    pts = [(0, {"rep_f1": 1.0}), (1, {"rep_f1": 0.95}), (2, {"rep_f1": 0.5}), (3, {"rep_f1": None})]
    assert sweep.breaking_point(pts) == 2 and sweep.breaking_point(pts[:2]) is None
    with pytest.raises(ValueError):
        sweep.run_sweep(["nope"], k=1, jobs=1)


# ---------------------------------------------------------------- built once for concurrent callers

def test_concurrent_callers_build_a_set_once(tmp_path):
    # `make test` runs in two processes (pytest-xdist): test_parity and
    # test_firmware_app (or test_accuracy and this file) ask for the same set
    # at once on a fresh clone; the second waits for the first and reuses its
    # set instead of rendering it again
    import threading
    import time

    calls = []

    def builder(d):
        calls.append(d)
        time.sleep(0.5)
        with open(os.path.join(d, "index.json"), "w") as f:
            json.dump({"version": corp.version_stamp(), "base_seed": 7, "traces": []}, f)
        return []

    out = str(tmp_path / "set")
    got = []
    ts = [threading.Thread(target=lambda: got.append(corp._ensure(out, 7, builder))) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert got == [[], [], []] and len(calls) == 1, calls
    assert sorted(os.listdir(str(tmp_path))) == [".set.lock", "set"]  # no temporary folder left


# ---------------------------------------------------------------- between and around reps

def _angle_deg(u, v):
    u, v = np.asarray(u, float), np.asarray(v, float)
    c = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _plan_scripts(split_name):
    """The scripts (no rendering: cheap) of a split's plan, drawn as render
    draws them."""
    from heeldrop.synth.render import _rng_streams
    from heeldrop.synth.scenarios import build
    out = []
    for e in corp.split_plan(split_name):
        rs = _rng_streams(e["seed"], e["scenario"], e["side"], False, False, False)
        out.append(build(e["scenario"], rs[0], e["side"], False, False, {}, e["rate"])[0])
    return out


def test_rest_plans_draw_every_pose_over_its_range():
    """A rest between sets (docs/DOMAIN.md §7(b): 20-120 s) is filled with the poses
    people take: at level, up on the toes (long ones too), the heel hanging
    relaxed (shallower than a rep), the foot moved on the step, the strap
    redone (sensor turned over 90-180 deg for 5-30 s), off the step."""
    from heeldrop.synth.scenarios import REST_POSES, rest_plan
    rng = np.random.default_rng(5)
    bouts = []
    for _ in range(400):
        secs = float(rng.uniform(20, 120))
        p = rest_plan(rng, secs)
        assert sum(b["s"] for b in p["bouts"]) == pytest.approx(secs)
        assert sum(b["pose"] == "restrap" for b in p["bouts"]) <= 1
        bouts += p["bouts"]
    assert {b["pose"] for b in bouts} == set(REST_POSES)
    toes = [b for b in bouts if b["pose"] == "toes"]
    tops = [b["top"] for b in toes]
    assert max(tops) >= -5.5 and min(tops) <= -24.5 and all(-25 <= x <= -5 for x in tops)
    long = [b["s"] for b in toes if b["s"] >= 20]
    assert len(long) >= 0.3 * len(toes) and max(long) >= 90
    assert min(b["s"] for b in toes) <= 5
    hang = [b["deg"] for b in bouts if b["pose"] == "hang"]
    assert min(hang) <= 2.3 and max(hang) >= 5.7 and max(hang) < MIN_DEPTH - 1
    rs = [b for b in bouts if b["pose"] == "restrap"]
    rs += [b["restrap"] for b in bouts if b["pose"] == "off" and b.get("restrap")]
    ang = [b["angle"] for b in rs]
    dur = [b["s"] for b in rs]
    assert min(ang) <= 95 and max(ang) >= 175 and all(90 <= a <= 180 for a in ang)
    assert min(dur) <= 6 and max(dur) >= 28 and all(5 <= d <= 30 for d in dur)


def test_a_rest_on_the_toes_between_sets_is_rendered():
    """Between two sets the person stands on the toes for 20 s or more (the
    outside trace that flipped the engine's frame): the heel stays raised,
    the sensor sees the foot tilted by the top's angle, no rep is labelled
    there, and reps come before and after."""
    r = render("sets", 21, "left", 50, 7, keep_parts=True)
    th = r.parts["theta"]
    rests = [s for s in r.truth["spans"] if s["kind"] == "rest"]
    toes = [p for s in rests for p in s["poses"] if p["pose"] == "toes" and p["end_ms"] - p["start_ms"] >= 20000]
    assert toes, rests
    p = toes[0]
    # the middle of the bout (past the rise, before the way down): heel up
    mid = th[p["start_ms"] + 2000:p["end_ms"] - 2000]
    assert mid.max() <= p["top_deg"] + p["sink_deg"] + 0.01 and mid.max() < -2.0
    assert mid.min() == pytest.approx(p["top_deg"], abs=0.01)
    reps = r.truth["reps"]
    assert sum(x["end_ms"] < p["start_ms"] for x in reps) >= 2
    assert sum(x["start_ms"] > p["end_ms"] for x in reps) >= 2
    assert not [x for x in reps if x["end_ms"] >= p["start_ms"] and x["start_ms"] <= p["end_ms"]]
    # the sensor sees it: gravity tilted from the still start's by the top
    t = r.t_ms
    s0 = r.truth["still_starts"][0]
    up0 = r.accel[(t >= s0["start_ms"]) & (t <= s0["end_ms"])].mean(axis=0)
    k = int(np.argmin(mid)) + p["start_ms"] + 2000
    up1 = r.accel[(t >= k - 1500) & (t <= k + 1500)].mean(axis=0)
    assert _angle_deg(up0, up1) == pytest.approx(-p["top_deg"], abs=4.0)


def test_a_restrap_turns_the_sensor_over():
    """The strap redone in a rest: the foot lifted off the step and the
    sensor turned over (90-180 deg) for 5-30 s, then strapped back a few
    degrees from where it was."""
    r = render("sets", 39, "left", 50, 11)
    rs = [s for s in r.truth["spans"] if s["kind"] == "restrap" and s["lifted"]]
    assert rs and not any(s["side_switch"] for s in rs)
    s = rs[0]
    assert 90 <= s["angle_deg"] <= 180 and 5000 <= s["end_ms"] - s["start_ms"] <= 30000
    t = r.t_ms
    before = r.accel[(t >= s["start_ms"] - 2500) & (t <= s["start_ms"] - 500)].mean(axis=0)
    c = (s["start_ms"] + s["end_ms"]) // 2
    during = r.accel[(t >= c - 500) & (t <= c + 500)].mean(axis=0)
    assert _angle_deg(before, during) >= 60
    assert r.truth["side_switch_ms"] == []


def test_rests_restraps_and_second_sides_in_the_splits():
    """Over the tuning and check plans (the same generator as the held-out
    split): rests in every pose, long rests on the toes, same-side re-straps
    turning the sensor over, side switches over 40-180 deg, and second
    sides that start with a rise onto the toes."""
    from heeldrop.synth.scenarios import REST_POSES
    scripts = _plan_scripts("tuning") + _plan_scripts("check")
    poses, toes20, lifted, switch, side2, side2_toe = {}, 0, [], [], 0, 0
    for sc in scripts:
        for s in sc.spans:
            if s["kind"] == "rest":
                assert 19.9 <= (s["end_ms"] - s["start_ms"]) / 1000 <= 125
                for p in s["poses"]:
                    poses[p["pose"]] = poses.get(p["pose"], 0) + 1
                    toes20 += p["pose"] == "toes" and p["end_ms"] - p["start_ms"] >= 20000
            if s["kind"] == "restrap":
                (switch if s["side_switch"] else lifted).append(s["angle_deg"])
        if len(sc.sides) > 1:
            side2 += 1
            st2 = [s for s in sc.spans if s["kind"] == "still_start" and s["start_ms"] > sc.sides[1][0]][0]
            after = [s for s in sc.spans if s["start_ms"] >= st2["end_ms"]][:2]
            side2_toe += any(s["kind"] == "toe_rise" for s in after)
    assert all(poses.get(k, 0) >= 5 for k in REST_POSES), poses
    assert toes20 >= 10, toes20
    assert len(lifted) >= 10 and min(lifted) >= 90
    assert min(switch) <= 60 and max(switch) >= 160
    assert side2 >= 20 and side2_toe >= 0.4 * side2, (side2, side2_toe)
