"""After a re-strap in a rest (the sensor turned over, strapped back a few
degrees from where it was), the level is learned again on the step."""
from heeldrop.evaluate import run_engine
from heeldrop.synth.corpus import write_rendered
from heeldrop.synth.render import render
from heeldrop.traceio import read_trace


def test_the_level_is_taken_again_after_a_restrap_that_moved_it(tmp_path):
    # a raised top (-12.9 deg), the strap redone in a rest at 545.7-573.7 s
    # (turned over 147 deg, strapped back [3.5, -3.2, 1.3] deg from where it
    # was: its level 4.7 deg from the old one, past the 4 deg re-take after
    # walking), then a walk off the step and back, 30 s at level. The level
    # was never taken again: partial drops of 7.0 and 4.8 deg read 15.8 and
    # 15.1 and counted (the reps after read 30-35 deg for 22-24). Drawn by
    # the simulator inside the envelope (seed 43000019 of a raised-top set)
    path, _ = write_rendered(render("raised_top", 43000019, "left", 100, 3), str(tmp_path / "t.csv"))
    events = run_engine(read_trace(path), None)
    lv = [e["t_ms"] for e in events if e["type"] == "calibrated" and e.get("stage") == "level"]
    assert any(573728 < t < 660000 for t in lv), lv
    ends = [e for e in events if e["type"] == "rep_end"]
    # the partial of 7.0 deg at 704.6-718.0 s is no rep (it read 15.8)
    assert not [r for r in ends if 700000 < r["start_ms"] < 718000], \
        [(r["start_ms"], r["depth_deg"]) for r in ends]
