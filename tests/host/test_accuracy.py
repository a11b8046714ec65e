"""Accuracy of the engine on the HELD-OUT split, against every goal of issue 10.

The held-out split (build/eval/heldout) is made from its own seeds by the same
generator as the tuning split, rendered once and reused while the simulator is
unchanged (version stamp). The engine is tuned on the tuning split only; this
file scores the held-out one and writes build/test-out/accuracy.txt and
build/test-out/accuracy.json.

A goal the engine on main does not meet yet is marked
``xfail(strict=True, reason="issue 10: measured X, goal Y")``: the suite stays
green, and a goal that starts being met fails the test until its marker is
removed. Never loosen a goal here.

The first tests check the scoring itself on hand-made events (no split needed).
"""
import json
import os

import pytest

from heeldrop.evaluate import FLAGS, GOALS, Result, evaluate_dir, match, percentile, report_text, score
from heeldrop.synth.corpus import default_jobs, ensure_split, split_dir

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def xfail(measured, goal):
    return pytest.mark.xfail(strict=True, reason="issue 10: measured %s, goal %s" % (measured, goal))


# ---------------------------------------------------------------- the scoring itself

def _rep(start, end, **kw):
    d = {"start_ms": start, "end_ms": end, "depth_deg": 20.0, "hold_s": 10.0, "descent_s": 3.0, "bounces": 0,
         "bounce_ms": [], "fast_descent": False, "roll_out": False, "snap_up": False, "twist": False,
         "no_hold": False, "rise_start_ms": end - 2000}
    d.update(kw)
    return d


def _det(rep, start, end, **kw):
    d = _rep(start, end, **kw)
    d.update({"type": "rep_end", "t_ms": end, "rep": rep})
    return d


def _truth(reps, spans=(), still=(0, 3000), switches=(), still_starts=None):
    return {"reps": reps, "spans": list(spans), "still_start_ms": still[0], "still_end_ms": still[1],
            "still_starts": still_starts or [{"start_ms": still[0], "end_ms": still[1]}],
            "side_switch_ms": list(switches)}


def test_match_needs_half_the_true_span_and_is_one_to_one():
    true = [_rep(1000, 11000), _rep(12000, 22000)]
    det = [_rep(5000, 11000), _rep(6000, 11500), _rep(12000, 16000)]
    # det 0 overlaps true 0 by 60 %, det 1 by 50 %: the better one wins, once;
    # det 2 covers only 40 % of true 1
    assert match(true, det) == [(0, 0)]
    assert match(true, det[1:]) == [(0, 0)]


def test_calibration_at_the_still_start_and_its_time():
    truth = _truth([], still=(5000, 9000))
    cal = lambda t, stage="level": {"type": "calibrated", "t_ms": t, "rep": 0, "stage": stage}  # noqa: E731
    s = score([cal(7000)], truth)
    assert s.cal_at_start == 1 and s.cal_times == [2.0]
    # calibrated during the walk before the still start only: not at the still start
    s = score([cal(2000)], truth)
    assert s.cal_at_start == 0 and s.cal_times == [float("inf")]
    # redone in the still start: counts
    assert score([cal(2000), cal(8000)], truth).cal_at_start == 1
    # the axis stage is not the still calibration; late by more than 300 ms: not at the start
    s = score([cal(7000, "axis"), cal(9400)], truth)
    assert s.cal_at_start == 0 and s.cal_times == [4.4]
    # a second still start after a side switch is scored too
    truth2 = _truth([], still=(0, 3000), switches=[50000],
                    still_starts=[{"start_ms": 0, "end_ms": 3000}, {"start_ms": 60000, "end_ms": 63000}])
    s = score([cal(2000), cal(55000)], truth2)
    # calibrated on the floor after the switch, not again on the step: missed there
    assert s.cal_total == 2 and s.cal_at_start == 1 and s.cal_times == [2.0, float("inf")]
    s = score([cal(2000), cal(55000), cal(61500)], truth2)
    assert s.cal_at_start == 2 and s.cal_times == [2.0, 1.5]


def test_percentile_counts_never_as_infinite():
    assert percentile([1.0] * 19 + [float("inf")], 0.95) == 1.0
    assert percentile([1.0] * 18 + [float("inf")] * 2, 0.95) == float("inf")


def test_bounce_precision_latency_and_reps_in_nonrep_spans():
    true = [_rep(10000, 30000, bounces=2, bounce_ms=[14000, 14500]), _rep(40000, 60000)]
    spans = [{"kind": "walk", "start_ms": 70000, "end_ms": 80000}, {"kind": "partial", "start_ms": 62000,
                                                                   "end_ms": 66000}]
    ev = [{"type": "bounce", "t_ms": 14300, "rep": 1}, {"type": "bounce", "t_ms": 50000, "rep": 2},
          _det(1, 10100, 30100, bounces=1), _det(2, 40100, 60000), _det(3, 71000, 75000), _det(4, 62500, 65000)]
    s = score(ev, _truth(true, spans)).summary()
    assert s["bounce_events"] == 2 and s["bounce_precision"] == 0.5
    assert s["bounce_latency_median_ms"] == 300
    assert s["rep_f1"] == pytest.approx(2 * 2 / (2 * 2 + 2))
    assert s["reps_in_nonrep_spans"] == 1 and s["reps_in_spans"]["walk"] == 1 and s["reps_in_spans"]["partial"] == 1
    assert s["flag_counts"]["bounced"] == [1, 0, 0]


def test_hold_cue_latency_over_held_reps():
    true = [_rep(0, 20000, hold_s=10.0, hold_start_ms=4000), _rep(30000, 50000, hold_s=8.0, hold_start_ms=34000),
            _rep(60000, 70000, hold_s=1.0, hold_start_ms=64000), _rep(80000, 100000, hold_s=9.0, hold_start_ms=84000)]
    ev = [{"type": "hold_start", "t_ms": 3000, "rep": 1},  # a cancelled attempt's, before the rep's start: not its cue
          {"type": "hold_start", "t_ms": 5500, "rep": 1}, _det(1, 3500, 20000),
          {"type": "hold_start", "t_ms": 46000, "rep": 2}, _det(2, 30000, 50000),
          {"type": "hold_start", "t_ms": 69000, "rep": 3}, _det(3, 60000, 70000),  # a 1 s hold: not scored
          _det(4, 80000, 100000)]  # held 9 s, never cued
    s = score(ev, _truth(true)).summary()
    assert s["hold_cue_reps"] == 3 and s["hold_cue_missing"] == 1
    assert s["hold_cue_latency_median_s"] == 12.0 and s["hold_cue_latency_p90_s"] == float("inf")
    r = Result()
    r.add("t", {}, score(ev, _truth(true)), {})
    assert "hold cue after the hold began (true holds >= 3 s): median 12.00 s, p90 inf s over 3 reps; no hold cue: 1" \
        in report_text(r)


def test_flag_f1_counts_missed_reps_and_extra_detections():
    true = [_rep(0, 10000, snap_up=True), _rep(20000, 30000, snap_up=True)]
    ev = [_det(1, 0, 10000, snap_up=True), _det(2, 40000, 50000, snap_up=True)]
    s = score(ev, _truth(true)).summary()
    assert s["flag_counts"]["snap_up"] == [1, 1, 1] and s["flag_f1"]["snap_up"] == 0.5


# ---------------------------------------------------------------- the held-out split

@pytest.fixture(scope="module")
def heldout():
    names = ensure_split("heldout", jobs=default_jobs())
    res = evaluate_dir(split_dir("heldout"), jobs=default_jobs())
    os.makedirs(os.path.join(ROOT, "build", "test-out"), exist_ok=True)
    text = report_text(res, "held-out split")
    with open(os.path.join(ROOT, "build", "test-out", "accuracy.txt"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(ROOT, "build", "test-out", "accuracy.json"), "w") as f:
        f.write(json.dumps(res.to_json(), indent=1) + "\n")
    print(text)
    assert len(names) == len(res.per)
    return res


def test_heldout_split_is_big_enough_to_mean_something(heldout):
    s = heldout.total.summary()
    assert s["traces"] >= 90 and s["reps_true"] >= 500 and s["still_starts"] >= 96
    by_m = {k: t.summary() for k, t in heldout.groups["mounting"].items()}
    assert len(by_m) == 24 and min(v["reps_true"] for v in by_m.values()) >= 10, \
        {k: v["reps_true"] for k, v in by_m.items()}
    by_r = {k: t.summary() for k, t in heldout.groups["rate"].items()}
    assert set(by_r) == {"25 Hz", "50 Hz", "100 Hz", "200 Hz", "500 Hz", "1000 Hz"}
    assert min(v["reps_true"] for v in by_r.values()) >= 40, {k: v["reps_true"] for k, v in by_r.items()}
    # every fault flag with enough true positives for its F1 to mean something
    pos = {f: s["flag_counts"][f][0] + s["flag_counts"][f][2] for f in FLAGS}
    assert min(pos.values()) >= 25, pos


def test_goal_table_covers_every_goal_of_the_issue():
    assert set(GOALS) == {
        "calibrated_at_still_start", "calibration_time_p95_s", "rep_f1", "rep_f1_min_mounting",
        "rep_f1_min_rate", "depth_mae_deg", "hold_mae_s", "bounce_precision", "bounce_latency_median_ms",
        "reps_in_nonrep_spans"} | {"flag_f1." + f for f in FLAGS}


def _fig(res, key):
    return res.figures()[key]


@xfail("0.973 (109 of 112)", ">= 0.99")
def test_calibrated_at_the_still_start(heldout):
    assert _fig(heldout, "calibrated_at_still_start") >= 0.99


def test_calibration_time_after_standing_still_p95(heldout):
    assert _fig(heldout, "calibration_time_p95_s") <= 3.0


@xfail("0.967 (660 true reps, 635 detected)", ">= 0.98")
def test_rep_f1_overall(heldout):
    assert _fig(heldout, "rep_f1") >= 0.98


@xfail("0.639 in the worst mounting (z-up+-y-fwd)", ">= 0.98 in every mounting")
def test_rep_f1_in_every_mounting(heldout):
    bad = {k: round(v, 3) for k, v in _fig(heldout, "rep_f1_by_mounting").items() if v < 0.98}
    assert len(_fig(heldout, "rep_f1_by_mounting")) == 24 and not bad, bad


@xfail("0.903 at the worst rate (25 Hz)", ">= 0.98 at every rate")
def test_rep_f1_at_every_rate(heldout):
    bad = {k: round(v, 3) for k, v in _fig(heldout, "rep_f1_by_rate").items() if v < 0.98}
    assert len(_fig(heldout, "rep_f1_by_rate")) == 6 and not bad, bad


# an error over matched reps means something only when most reps are found
MAE_RECALL = 0.9


def test_depth_mae(heldout):
    s = heldout.total.summary()
    assert s["rep_recall"] >= MAE_RECALL and s["depth_mae_deg"] <= 2.5, (s["rep_recall"], s["depth_mae_deg"])


def test_hold_mae(heldout):
    s = heldout.total.summary()
    assert s["rep_recall"] >= MAE_RECALL and s["hold_mae_s"] <= 0.75, (s["rep_recall"], s["hold_mae_s"])


FLAG_NOW = {"fast_descent": "0.870", "bounced": "0.756", "roll_out": "0.674", "snap_up": "0.871",
            "twist": "0.850", "no_hold": "0.775"}


@pytest.mark.parametrize("flag", [pytest.param(f, marks=xfail(FLAG_NOW[f], ">= 0.90")) for f in FLAGS])
def test_fault_flag_f1(heldout, flag):
    s = heldout.total.summary()
    assert s["flag_f1"][flag] is not None and s["flag_f1"][flag] >= 0.90, (flag, s["flag_counts"][flag])


@xfail("0.846 (117 bounce events)", ">= 0.90")
def test_bounce_events_fall_in_reps_that_bounced(heldout):
    assert _fig(heldout, "bounce_precision") >= 0.90


@xfail("412 ms over 33 bounced reps", "<= 400 ms over >= 20")
def test_first_bounce_cue_latency(heldout):
    s = heldout.total.summary()
    assert s["bounce_reps"] >= 20, s["bounce_reps"]
    assert s["bounce_latency_median_ms"] <= 400


@xfail("1 rep", "0")
def test_no_reps_in_walking_fidgeting_or_step_spans(heldout):
    assert _fig(heldout, "reps_in_nonrep_spans") == 0, heldout.total.summary()["reps_in_spans"]


def test_figures_per_mount_tell_a_shoe_counter_from_a_skin_strap():
    """The roll a shoe-counter sensor sees is the heel's times an unknown
    0.5-2.0, so the report shows roll-out (and every figure) per mount."""
    from heeldrop.evaluate import GROUP_ORDER, _groups
    ent = {"mounting_name": "x-up+y-fwd", "rate": 100, "scenario": "shoe_mount"}
    assert "mount" in GROUP_ORDER
    assert _groups(ent, {"draws": {"mount": "shoe"}})["mount"] == "shoe counter"
    assert _groups(ent, {"draws": {"mount": "skin"}})["mount"] == "skin"
    assert _groups(ent, {})["mount"] == "skin"


def test_evaluate_cli_on_a_small_folder(tmp_path, capsys):
    """`heeldrop evaluate --corpus DIR --json FILE --check` on two rendered traces."""
    from heeldrop.cli import main
    from heeldrop.synth import render
    from heeldrop.synth.corpus import write_rendered
    entries = []
    for i, (sc, seed) in enumerate((("ideal", 3), ("mixed_faults", 4))):
        r = render(sc, seed, "left", 50, 5, overrides={"n_reps": 2, "hold": 5.0} if sc != "ideal" else None)
        write_rendered(r, str(tmp_path / ("t%d.csv" % i)))
        entries.append({"name": "t%d" % i, "scenario": sc, "rate": 50, "mounting": 5, "mounting_name": r.truth["mounting"]})
    (tmp_path / "index.json").write_text(json.dumps({"traces": entries}))
    out = tmp_path / "o.json"
    rc = main(["evaluate", "--corpus", str(tmp_path), "--json", str(out), "--jobs", "1", "-q"])
    text = capsys.readouterr().out
    assert rc == 0 and "rep F1 overall" in text and "calibrated at the still start" in text
    data = json.loads(out.read_text())
    assert {g["key"] for g in data["goals"]} == set(GOALS)
    assert "mount" in data["groups"] and "mount" in text
    assert data["total"]["traces"] == 2 and data["total"]["reps_true"] >= 4
    # --check exits 1 exactly when a goal is not met
    rc = main(["evaluate", "--corpus", str(tmp_path), "--jobs", "1", "-q", "--check"])
    assert rc == (0 if all(g["met"] for g in data["goals"]) else 1)
    assert main(["evaluate", "--corpus", str(tmp_path / "nope")]) == 2
    assert "not a corpus folder" in capsys.readouterr().err
    assert main(["evaluate", "--corpus", str(tmp_path), "--split", "heldout"]) == 2
