"""The trace simulator: determinism, physics sign conventions, truth labels
consistent with their definitions and clearly on one side of the thresholds,
sensor model (quantisation, saturation), corpus coverage."""
import json
import math
import os

import numpy as np
import pytest

from heeldrop.synth import MOUNTING_NAMES, RATES, SCENARIOS, render
from heeldrop.synth import corpus as corp
from heeldrop.synth import physics as ph
from heeldrop.synth.render import (BOUNCE_PP, FAST_MEAN, FAST_PEAK, NO_HOLD_S, ROLL_OUT_DEG, ROLL_OUT_S,
                                   SNAP_MEAN, SNAP_PEAK, TWIST_DEG)
from heeldrop.synth.sensor import ACCEL_LSB, GYRO_LSB, quantise
from heeldrop.traceio import format_trace, read_trace

@pytest.fixture(scope="module")
def corpus():
    """The corpus in build/corpus (built once, reused while the simulator is
    unchanged): (directory, index dict, {name: truth})."""
    names = corp.ensure_corpus()
    d = corp.repo_path("build/corpus")
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    truths = {}
    for n in names:
        with open(os.path.join(d, n + ".truth.json")) as f:
            truths[n] = json.load(f)
    return d, index, truths


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
    for k in ("scenario", "seed", "side", "mounting", "misalign_deg", "rate_hz", "still_start", "reps", "slips", "notes"):
        assert k in truth, k
    rep_keys = ("rep", "start_ms", "end_ms", "depth_deg", "hold_s", "descent_s", "rise_s", "descent_speed_dps",
                "rise_speed_dps", "bounces", "bounce_ms", "max_roll_deg", "fast_descent", "roll_out", "snap_up",
                "twist", "no_hold")
    for rep in truth["reps"]:
        for k in rep_keys:
            assert k in rep, k
    # accel 5 decimals, gyro 3 decimals
    with open(csv_path) as f:
        row = [ln for ln in f if ln[0].isdigit()][10].strip().split(",")
    assert all(len(v.split(".")[1]) == 5 for v in row[1:4])
    assert all(len(v.split(".")[1]) == 3 for v in row[4:7])


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
        # world up seen from the foot leans toward +y (right foot) when the dorsum tips to -y
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
            # quiet apart from creep and small fidgets (<= 1 deg over >= 0.5 s)
            assert np.median(np.abs(w_foot[h, 1])) < 0.5 and np.abs(w_foot[h, 1]).max() < 7.0


# ---------------------------------------------------------------- truth labels

def test_truth_flags_follow_definitions_with_margins(corpus):
    for name, truth in corpus[2].items():
        sc, seed = truth["scenario"], truth["seed"]
        reps = truth["reps"]
        assert 3 <= len(reps) <= 16, (sc, seed)
        last_end = -1
        for rep in reps:
            ctx = (sc, seed, rep["rep"])
            assert last_end < rep["start_ms"] < rep["descent_end_ms"] < rep["hold_start_ms"] <= rep["rise_start_ms"] < rep["end_ms"], ctx
            last_end = rep["end_ms"]
            assert rep["start_ms"] >= truth["still_start_ms"] + 3000, ctx
            assert 12 <= rep["depth_deg"] <= 45, ctx
            # definitions
            assert rep["fast_descent"] == (rep["descent_speed_dps"] > FAST_MEAN or rep["descent_peak_dps"] > FAST_PEAK), ctx
            assert rep["snap_up"] == (rep["rise_speed_dps"] > SNAP_MEAN or rep["rise_peak_dps"] > SNAP_PEAK), ctx
            assert rep["no_hold"] == (rep["hold_s"] < NO_HOLD_S), ctx
            assert rep["twist"] == (rep["yaw_range_deg"] > TWIST_DEG), ctx
            assert rep["roll_out"] == (rep["extra_roll_run_s"] >= ROLL_OUT_S), ctx
            assert rep["bounces"] == len(rep["bounce_ms"]) == len(rep["bounce_pp_deg"]), ctx
            # clearly on one side of each threshold
            if rep["fast_descent"]:
                assert rep["descent_speed_dps"] >= 28 and rep["descent_s"] <= 1.25, ctx
            else:
                assert rep["descent_speed_dps"] <= 17.5 and rep["descent_peak_dps"] <= 40, ctx
            if rep["snap_up"]:
                assert rep["rise_speed_dps"] >= 50, ctx
            else:
                assert rep["rise_speed_dps"] <= 35 and rep["rise_peak_dps"] <= 80 and rep["rise_s"] >= 0.85, ctx
            if rep["no_hold"]:
                assert rep["hold_s"] <= 1.55, ctx
            else:
                assert rep["hold_s"] >= 2.9, ctx
            if rep["twist"]:
                assert rep["yaw_range_deg"] >= 27, ctx
            else:
                assert rep["yaw_range_deg"] <= 15, ctx
            if rep["roll_out"]:
                assert rep["max_extra_roll_deg"] >= 17.5 and rep["extra_roll_run_s"] >= 0.5, ctx
            else:
                assert rep["max_extra_roll_deg"] <= 12, ctx
            for pp, t in zip(rep["bounce_pp_deg"], rep["bounce_ms"]):
                assert pp >= 2.5 and rep["descent_end_ms"] <= t < rep["hold_start_ms"], ctx
            assert rep["bounce_ms"] == sorted(rep["bounce_ms"])
            # the scripted fault is the labelled one
            f = set(rep["scripted_faults"])
            assert rep["fast_descent"] == ("too_fast" in f), ctx
            assert rep["snap_up"] == ("snap_up" in f), ctx
            assert rep["no_hold"] == ("no_hold" in f), ctx
            assert rep["twist"] == ("twist" in f), ctx
            assert rep["roll_out"] == ("roll_out" in f), ctx
            assert (rep["bounces"] > 0) == bool(f & {"bounce_mild", "bounce_severe"}), ctx
            if "bounce_severe" in f:
                assert rep["bounces"] >= 3 or max(rep["bounce_pp_deg"]) > 6, ctx
            if "inward_roll" in f:
                assert rep["min_extra_roll_deg"] <= -7.9 and not rep["roll_out"], ctx
            if not f:
                assert rep["max_extra_roll_deg"] <= 6 or rep["near"] == "roll", ctx


def test_scenarios_contain_their_faults(corpus):
    flag = {"too_fast": "fast_descent", "snap_up": "snap_up", "no_hold": "no_hold", "twist": "twist",
            "roll_out": "roll_out"}
    for name, truth in corpus[2].items():
        sc, seed = truth["scenario"], truth["seed"]
        reps = truth["reps"]
        if sc in flag:
            assert sum(rep[flag[sc]] for rep in reps) >= 2, (sc, seed)
        if sc in ("bounce_mild", "bounce_severe"):
            assert sum(rep["bounces"] > 0 for rep in reps) >= 2
        if sc in ("ideal", "realistic_good", "shuffle", "uncalibrated_bias", "inward_roll", "slip_midset", "fatigue_tremor"):
            assert not any(rep[k] for rep in reps for k in ("fast_descent", "snap_up", "no_hold", "twist", "roll_out")), (sc, seed)
            assert not any(rep["bounces"] for rep in reps)
        if sc == "inward_roll":
            assert any(rep["min_extra_roll_deg"] <= -8 for rep in reps)
        if sc == "mixed_faults":
            faulty = [rep for rep in reps if rep["scripted_faults"]]
            assert len(faulty) >= 3 and len(reps) - len(faulty) >= 2
        if sc == "slip_midset":
            assert len(truth["slips"]) == 1 and 1.0 <= abs(truth["slips"][0]["deg"]) <= 5.0
        if sc == "shuffle":
            assert truth["shuffles"] and all(1 <= s["deg"] <= 5 for s in truth["shuffles"])
        if sc == "session":
            assert truth["sides"] == [truth["side"], "left" if truth["side"] == "right" else "right"]
            assert {rep["side"] for rep in reps} == {"left", "right"}
    near = [rep["near"] for t in corpus[2].values() if t["scenario"] == "realistic_good" for rep in t["reps"] if rep["near"]]
    assert len(near) >= 3
    # roll-out and its mirror image on both feet
    assert {t["side"] for t in corpus[2].values() if any(rep["roll_out"] for rep in t["reps"])} == {"left", "right"}


def test_still_start_and_sensor_errors(corpus):
    d, index, truths = corpus
    seen = set()
    for e in index["traces"]:
        if e["scenario"] in seen or e["rate"] > 200:
            continue
        seen.add(e["scenario"])
        truth = truths[e["name"]]
        tr = read_trace(os.path.join(d, e["name"] + ".csv"))
        t = np.array(tr.t_ms)
        g = np.array([tr.gx, tr.gy, tr.gz]).T
        a = np.array([tr.ax, tr.ay, tr.az]).T
        ss = truth["still_start_ms"]
        m = (t >= ss) & (t < ss + 3000)
        gm = g[m]
        assert np.abs(gm - gm.mean(axis=0)).max() < 3.0, e["name"]
        n = np.linalg.norm(a[m], axis=1)
        assert abs(n.mean() - 1) < 0.15 and n.std() < 0.03, e["name"]
        if e["scenario"] == "uncalibrated_bias":
            assert np.all(np.abs(gm.mean(axis=0)) > 8), gm.mean(axis=0)
        if e["scenario"] == "ideal":
            assert np.all(gm == 0)
        elif e["scenario"] != "walk_to_step":
            assert np.abs(gm.mean(axis=0)).max() > 0.01  # a real bias
        if e["scenario"] == "walk_to_step":
            assert ss > 3000 and truth["walks"]
        else:
            assert ss == 0
    assert len(seen) == len(SCENARIOS) - 1 or len(seen) == len(SCENARIOS)


def test_quantised_to_lsb_and_saturated(tmp_path):
    imus = set()
    for seed in range(8):
        r = render("walk_to_step", seed, "right", 100, 7)
        imus.add(r.truth["imu"])
        glsb, alsb = r.truth["gyro_lsb_per_dps"], r.truth["accel_lsb_per_g"]
        path, _ = corp.write_rendered(r, str(tmp_path / "w.csv"))
        tr = read_trace(path)
        a = np.array([tr.ax, tr.ay, tr.az])
        g = np.array([tr.gx, tr.gy, tr.gz])
        # multiples of the LSB (up to the CSV's decimals), within the 16-bit range
        assert np.abs(a * alsb - np.round(a * alsb)).max() < 0.05
        assert np.abs(g * glsb - np.round(g * glsb)).max() < 0.05
        assert np.abs(a).max() <= 32768 / alsb + 1e-5 and np.abs(g).max() <= 32768 / glsb + 1e-3
    assert len(imus) >= 2
    # walking: heel strikes and swings exceed 2 g
    assert np.linalg.norm(a, axis=0).max() > 2.0
    # saturation clips at the 16-bit range
    assert quantise(np.array([5.0, -5.0, 1.0]), ACCEL_LSB).tolist() == [32767 / ACCEL_LSB, -4.0, 1.0]
    assert quantise(np.array([900.0]), GYRO_LSB)[0] == pytest.approx(500.26, abs=0.01)


def test_walk_reaches_saturation_somewhere():
    hits = 0
    for seed in range(4):
        r = render("walk_to_step", seed, "left", 200, seed)
        hits += int(np.sum(np.abs(r.accel) >= 32767 / r.truth["accel_lsb_per_g"] - 1e-9))
        assert np.linalg.norm(r.accel, axis=1).max() > 2.0
    assert hits > 0


def test_timestamps_jitter_and_drops():
    r = render("realistic_good", 8, "left", 1000, 2)
    d = np.diff(r.t_ms)
    assert d.min() >= 0 and r.truth["dropped"] >= 0
    r = render("realistic_good", 8, "left", 50, 2)
    d = np.diff(r.t_ms)
    assert set(np.unique(d)) - set(range(16, 25)) <= set(range(25, 400))  # 20 ms +- jitter, plus gaps
    assert d.min() >= 16 and r.truth["jitter_ms"] in (1, 2)


def test_ideal_is_noise_free_and_still():
    r = render("ideal", 1, "left", 100, 0)
    m = r.t_ms < 3000
    assert np.all(r.gyro[m] == 0) and np.allclose(r.accel[m], [0, 0, 1])


# ---------------------------------------------------------------- corpus

def test_corpus_plan_covers_mountings_rates_sides():
    plan = corp.corpus_plan()
    assert len(plan) >= 70
    assert {e["mounting"] for e in plan} == set(range(24))
    assert {e["rate"] for e in plan} == set(RATES)
    assert {e["scenario"] for e in plan} == set(SCENARIOS)
    for sc in SCENARIOS:
        if sc != "session":
            assert {e["side"] for e in plan if e["scenario"] == sc} == {"left", "right"}, sc
    assert len({e["name"] for e in plan}) == len(plan)


def test_ensure_corpus_builds_once():
    names = corp.ensure_corpus()
    d = corp.repo_path("build/corpus")
    with open(os.path.join(d, "index.json")) as f:
        index = json.load(f)
    assert len(names) >= 70 and index["count"] == len(names)
    assert {t["mounting"] for t in index["traces"]} == set(range(24))
    assert {t["rate"] for t in index["traces"]} == set(RATES)
    for t in index["traces"][:5]:
        with open(os.path.join(d, t["name"] + ".truth.json")) as f:
            truth = json.load(f)
        assert truth["seed"] == t["seed"] and truth["mounting_index"] == t["mounting"]
    mtime = os.path.getmtime(os.path.join(d, "index.json"))
    assert corp.ensure_corpus() == names  # cheap: nothing rebuilt
    assert os.path.getmtime(os.path.join(d, "index.json")) == mtime


def test_committed_traces_are_current(tmp_path):
    """tests/traces holds the committed traces exactly as the simulator writes them."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    name = "mixed_faults_right"
    sc, seed, side, rate, mounting, demo = corp.COMMITTED[name]
    mine = corp.write_rendered(render(sc, seed, side, rate, mounting, demo=demo), str(tmp_path / (name + ".csv")))
    theirs = [os.path.join(root, "traces", name + ".csv"), os.path.join(root, "traces", name + ".truth.json")]
    if not os.path.exists(theirs[0]):
        pytest.fail("tests/traces/%s.csv missing: run `heeldrop synth --committed tests/traces`" % name)
    for x, y in zip(mine, theirs):
        with open(x, "rb") as f1, open(y, "rb") as f2:
            assert f1.read() == f2.read(), "%s is stale: run `heeldrop synth --committed tests/traces`" % y


def test_cli_single_trace(tmp_path, capsys):
    from heeldrop.cli import main
    out = tmp_path / "one.csv"
    assert main(["synth", "--scenario", "roll_out", "--seed", "4", "--side", "right", "--rate", "50",
                 "--mounting", "22", "-o", str(out)]) == 0
    truth = json.loads((tmp_path / "one.truth.json").read_text())
    assert truth["side"] == "right" and truth["mounting_index"] == 22 and truth["rate_hz"] == 50
    assert any(rep["roll_out"] for rep in truth["reps"])
    assert main(["synth", "--scenario", "nope", "-o", str(out)]) == 2
    assert "unknown scenario" in capsys.readouterr().err
