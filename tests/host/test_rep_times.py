"""A rep's times stay inside what the device saw: no rep starts before the
level it is measured from was first taken (and so never before the trace)."""
from heeldrop.evaluate import run_engine
from heeldrop.synth.corpus import write_rendered
from heeldrop.synth.render import render
from heeldrop.traceio import read_trace


def test_a_replayed_first_rep_never_starts_before_the_level_was_taken(tmp_path):
    # a raised top (-9 deg), a first drop of 28 deg whose sign is decided
    # 80 s in: the first rep is replayed then, and its descent's fit reached
    # back to -21.7 s (before: start_ms -21711, descent_s 49.3). Drawn by the
    # simulator inside the envelope (seed 8000094 of a raised-top set)
    path, _ = write_rendered(render("raised_top", 8000094, "left", 100, 17), str(tmp_path / "t.csv"))
    events = run_engine(read_trace(path), None)
    cal = [e["t_ms"] for e in events if e["type"] == "calibrated" and e.get("stage") == "level"]
    ends = [e for e in events if e["type"] == "rep_end"]
    assert cal and ends
    for r in ends:
        assert r["start_ms"] >= cal[0] and r["start_ms"] <= r["end_ms"], r
