"""Engine cases that the merged engine does not pass yet, each a strict
xfail with its measured figure (tests/shared cannot mark one: they also run
under the MicroPython unix port). A case that starts passing fails here until
it moves back to tests/shared/test_engine.py."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared"))
import minisim  # noqa: E402
import test_engine as E  # noqa: E402  (its run() and _reps(); its tests are collected from tests/shared only)


@pytest.mark.xfail(strict=True, reason=(
    "a still start under a shoe mount's doubled roll (issue 10, round 5): calibrated 2.6 s in from a window that "
    "held a corrective step's return, both reps lost (25 Hz and 100 Hz). Judging the still start on twice the "
    "still band (re-taken from a later window within the band) passed this case but cost the tuning split "
    "(rep F1 0.974 -> 0.972, calibrated at the still start 1.000 -> 0.991: fidgets before the still start taken "
    "as the level)"))
def test_a_still_start_under_a_shoe_mounts_doubled_roll_calibrates():
    # a shoe mount doubles the heel's roll at the sensor (docs/DOMAIN.md
    # section 7(b): gain 0.5-2.0): unsupported sway of 2 deg reads 4 deg,
    # and a corrective roll step of 5 deg reads 10 (a 0.3 s shift, held 1
    # s, back over 1 s) in the 3.3 s still start: no 1.5 s of it stays
    # within the 5 deg still band of its mean
    # (here the level comes from a window that held the step's return, 2.6
    # s in: both reps are lost)
    def step(t):
        if t < 1.0:
            return (0.0, 0.0)
        if t < 1.3:
            return (0.0, 10.0 * minisim._mj((t - 1.0) / 0.3))
        if t < 2.3:
            return (0.0, 10.0)
        return (0.0, 10.0 * (1 - minisim._mj((t - 2.3) / 1.0)))
    segs, end = minisim.rep_script(reps=2, depth=24.0, hold=8.0, still=3.3)
    for rate in (25, 100):
        eng, evs = E.run(minisim.generate(segs, end, rate_hz=rate, sway=(1.0, 4.0), radius=0.17, bias=(5.0, -8.0, 3.0),
                                extra=step))
        cal = E._level_cals(evs)
        assert cal and cal[0] <= 3000, cal
        ends = E._reps(evs)
        assert len(ends) == 2, (rate, [(e["type"], e["t_ms"]) for e in evs if e["type"] != "hold_tick"])
        for r in ends:
            assert abs(r["depth_deg"] - 24.0) < 1.5 and abs(r["hold_s"] - 8.0) < 0.75, r
