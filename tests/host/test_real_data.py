"""Real public recordings (tests/data, each under its own licence): what the engine must (not) see."""
import json
import os

import pytest

from heelcore.config import Config
from heeldrop.importers import load_any
from heeldrop.replay import run_engine

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data")
GAIT = ["1-1_lf", "1-1_rf", "2-1_lf", "2-1_rf"]
# limits for the knee extension's larger motion (70-85 deg, up to ~150 deg/s)
SHANK = {"min_depth_deg": 20, "max_rate_dps": 1000, "roll_out_deg": 40, "twist_deg": 60, "hold_rate_dps": 10,
         "max_pitch_deg": 150}  # a knee extension swings the shank 90 deg and more


def _path(*parts):
    p = os.path.join(DATA, *parts)
    assert os.path.exists(p), "real recordings expected at %s (tests/data, vendored in the repository)" % p
    return p


def _types(events, t):
    return [e for e in events if e["type"] == t]


@pytest.mark.parametrize("name", GAIT)
def test_walking_and_standing_foot_gives_no_reps_and_one_calibration(name):
    # standing (4.6-5.2 s), then walking with a U-turn, then standing: the
    # level from the first standing spell, taken again when the foot stands
    # still after the walk (re-taken at each still spell within 8 s of
    # each, as before a first drop); never during the walk, never an axis,
    # never a rep
    ev = run_engine(load_any(_path("ipol-foot-gait", "GaitData", name + ".txt")))
    cal = _types(ev, "calibrated")
    assert cal and cal[0]["t_ms"] <= 4600, cal
    firsts = [c["t_ms"] for k, c in enumerate(cal) if k == 0 or c["t_ms"] - cal[k - 1]["t_ms"] > 2000]
    assert len(firsts) <= 2, [c["t_ms"] for c in cal]  # the two standing spells
    assert all(any(0 <= c["t_ms"] - f <= 8000 for f in firsts) for c in cal), [c["t_ms"] for c in cal]
    assert all(c["stage"] == "level" for c in cal), cal
    assert _types(ev, "rep_end") == []


@pytest.mark.parametrize("subject", ["s1", "s2"])
def test_still_shank_gives_no_reps(subject):
    ev = run_engine(load_any(_path("uci-pt-exercises", subject, "e1", "u1", "test.txt")))
    assert _types(ev, "calibrated")
    assert _types(ev, "rep_end") == []


def test_moving_shank_knee_extensions_are_segmented_and_the_fast_ones_flagged():
    ev = run_engine(load_any(_path("uci-pt-exercises", "s1", "e1", "u2", "test.txt")), Config.from_dict(SHANK))
    reps = _types(ev, "rep_end")
    assert len(reps) == 30, [(r["rep"], r["start_ms"]) for r in reps]
    # 10 correct, 10 too fast, 10 too small, in that order; the fast
    # executions skip the pause at full extension: exactly they are no_hold
    assert [r["rep"] for r in reps if r["no_hold"]] == list(range(11, 21)), [(r["rep"], r["hold_s"]) for r in reps]
    # and they are the quickest: every fast rep is shorter than every correct one
    dur = [r["end_ms"] - r["start_ms"] for r in reps]
    assert max(dur[10:20]) < min(dur[0:10])


def test_second_subject_shank_is_segmented():
    # subject 2 moves from the first second (no still start before its first
    # rep) and pauses little even on correct reps: segmentation only
    ev = run_engine(load_any(_path("uci-pt-exercises", "s2", "e1", "u2", "test.txt")), Config.from_dict(SHANK))
    assert 28 <= len(_types(ev, "rep_end")) <= 30
