"""Engine cases that the merged engine does not pass yet, each a strict
xfail with its measured figure (tests/shared cannot mark one: they also run
under the MicroPython unix port). A case that starts passing fails here until
it moves back to tests/shared/test_engine.py.

test_dropped_samples_in_a_fatigue_shake_make_no_rebound passes since a
rebound across missing samples is no bounce (heelcore.reps, E_GAPT) and lives
in tests/shared/test_engine.py."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "shared"))
import minisim  # noqa: E402
import test_engine as E  # noqa: E402  (its run(), _reps() and of(); its tests are collected from tests/shared only)


@pytest.mark.xfail(strict=True, reason=(
    "issue 10, session 25 (nohold): the axis a drop teaches is the axis it turned about, the foot's pitch axis "
    "with the person's coupled roll in it (docs/DOMAIN.md section 7(b): phi = -k theta, k ~ N(0.26, 0.1), times "
    "a shoe mount's 0.5-2 roll gain). tools/leakprobe.py (engine axis against the synth's foot axes, seeds "
    "32 000 000+i roll_out, 36 000 000+i shoe_mount) reads it tilted 6.7-31.9 deg toward the forward axis for "
    "atan(k gain) 6.3-28.7 deg, the engine's pitch following the truth's extra roll by -0.1 to -1.0: a roll-out "
    "at the bottom reads partly as a rise (split reps: 6 of the 11 no-hold flags on split reps in tuning, check, "
    "fresh4, fresh5) and its own roll by cos of the tilt. Turning every drop-learned axis back by atan(0.26) "
    "(branch nohold-uncouple) passes this case and gives tuning no-hold .792 -> .826, depth MAE 1.479 -> 1.404, "
    "but fresh4 rep F1 in the worst mounting .935 -> .774 and fresh5 roll-out .857 -> .800, and reads the "
    "uncoupled scripted feet of tests/shared (k = 0) 14.6 deg off (15 failures): not merged"))
def test_a_roll_out_in_the_hold_of_a_coupled_foot_is_no_rise():
    # a shoe mount (k 0.25 x gain 2: the roll at the sensor is 0.5 of the
    # pitch) and a roll-out of 30 deg at the sensor (15 deg x 2) in rep 2's
    # hold, rolled out in 1.5 s, held 3 s. Measured: the roll-out is cued,
    # but at once a rise starts (the pitch through the coupled axis drops
    # by 30 sin(26.6 deg) = 13 deg), a second hold at 16.7 deg follows, and
    # the rep ends not flagged
    segs, end = minisim.rep_script(reps=3, depth=24.0, hold=20.0)
    turn = E._roll_turn(40.0, 30.0, 1.5, 4.5, 1.0)
    eng, evs = E.run(minisim.generate(segs, end, radius=0.17, sway=(0.5, 1.0),
                                      extra=lambda t: (0.0, -0.5 * minisim.angles_at(segs, t)[0] + turn(t)[1])))
    ends = E._reps(evs)
    assert len(ends) == 3, ends
    assert len(E.of(evs, "rise_start")) == 3, [(e["type"], e["t_ms"]) for e in evs if e["type"] in ("hold_start", "rise_start")]
    assert [r["roll_out"] for r in ends] == [False, True, False], ends


@pytest.mark.xfail(strict=True, reason=(
    "issue 10, session 25 (nohold): in the first two reps a rest at the bottom corrects the frame the first "
    "drop taught (Engine.rest_run -> _axis_from_rest, 3-40 deg off), also a rest while the heel is rolled out "
    "(a roll-out or inward roll, 8-25 deg for 0.5-5 s, docs/DOMAIN.md section 7(b)): the frame then turns the "
    "roll into pitch, and when the roll outlasts the hold (40 % of the synth's roll-outs carry on into the "
    "rise) no later rest turns it back. Skipping such rests where the roll moved 5 deg since the heel arrived "
    "passes this case but costs tuning hold MAE .728 -> 1.254 and roll-out .690 -> .636 (tuning_026: a shallow "
    "second rep whose arrival roll was read mid-bounce, 8 deg off its rest's, keeps a wrong frame, 26 -> 17 "
    "reps): the roll since the arrival is no measure of a roll after it (the gyro's would be): not merged"))
def test_a_roll_held_into_the_rise_of_the_second_rep_teaches_no_axis():
    # rolled out 20 or 15 deg (or 10 deg inward) late in rep 2's hold and
    # back in the rise. Measured: rep 3 reads 19.3, 21.0 and 22.5 deg for 24
    hold = 12.0
    segs, end = minisim.rep_script(reps=3, depth=24.0, hold=hold)
    for deg, up, back, at in ((20.0, 1.0, 4.5, 8.0), (15.0, 0.5, 3.5, 9.0), (-10.0, 1.0, 4.0, 8.5)):
        t0 = 3 + (3 + hold + 2 + 3) + 3 + at  # into rep 2's hold; rolled back in the rise
        eng, evs = E.run(minisim.generate(segs, end, radius=0.17, sway=(0.5, 1.0),
                                          extra=E._roll_turn(t0, deg, up, back, 1.0)))
        ends = E._reps(evs)
        assert len(ends) == 3, (deg, ends)
        for r in ends:
            assert abs(r["depth_deg"] - 24.0) < 1.0, (deg, ends)


@pytest.mark.xfail(strict=True, reason=(
    "issue 10, session 25 (calib): a rest window starts with the tick that broke the last one; when that tick "
    "broke by fast motion (the forefoot planted on the step: 15 deg in 80 ms), its rotation is summed into the "
    "window's gyro integral while the window's first direction is the tick's end (the 64 ms low-pass lags), so "
    "the window's bias holds it: 15 deg over 1.5 s = 10 deg/s. At 25 Hz the plant passes between the samples the "
    "accelerometer's checks see. On fresh4 + fresh5 the first level's bias is > 2 deg/s off in 19 of 192 traces "
    "(up to 18 deg/s; the bias is tracked afterwards). Starting no window on such a tick while calibrating "
    "(fusion.Fusion._rest, s[_MODE] != M_RUN; branch bias) passes this case (19 -> 4 traces) but on the merged "
    "engine moves goal lines both ways: tuning rep F1 .990 -> .991, depth 1.479 -> 1.460, hold .727 -> .717, "
    "bounced .842 -> .804; check rep F1 .983 -> .985, depth 1.924 -> 1.939; fresh4 rep F1 .981 -> .979, worst "
    "rate .968 -> .957, too-fast .825 -> .814, roll-out .832 -> .821; fresh5 calibration p95 1.86 -> 2.46 s: "
    "thresholds downstream (the person's sway measure) sit on the wrong bias: not merged"))
def test_a_foot_planted_fast_before_the_still_start_is_no_gyro_bias():
    # the foot is lifted 15 deg and planted again in 80 ms (350 deg/s at
    # its fastest: stepping onto the step), then the person stands still.
    # Every level's bias within 0.5 deg/s of the true one (measured on
    # f8af264: 8.8 and 12 deg/s off at 25 Hz)
    bias = (4.0, -3.0, 2.0)

    def plant(t, t0):
        if t0 <= t < t0 + 0.4:
            return (-15.0 * minisim._mj((t - t0) / 0.4), 0.0)
        if t0 + 0.4 <= t < t0 + 0.48:
            return (-15.0 * (1 - minisim._mj((t - t0 - 0.4) / 0.08)), 0.0)
        return (0.0, 0.0)
    for rate in (25, 100):
        for t0 in (0.5, 0.55, 0.6, 0.65):
            segs, end = minisim.rep_script(reps=2, depth=22.0, hold=8.0, still=t0 + 3.5)
            eng, evs = E.run(minisim.generate(segs, end, rate_hz=rate, sway=(0.5, 1.0), radius=0.17, bias=bias,
                                              extra=lambda t, t0=t0: plant(t, t0)))
            cals = [e for e in evs if e["type"] == "calibrated" and e["stage"] == "level"]
            assert cals, (rate, t0)
            for e in cals:
                assert max(abs(e["bias_dps"][i] - bias[i]) for i in range(3)) < 0.5, (rate, t0, e)
            assert len(E._reps(evs)) == 2, (rate, t0)


@pytest.mark.xfail(strict=True, reason=(
    "issue 10, session 27 (bounce): a rebound that takes 400-560 ms to its top (1-1.25 Hz, inside the 1-3 Hz "
    "of docs/DOMAIN.md section 7(b)) counts only within 3 s of the heel entering the bottom zone (_E_HOLDT); "
    "a slow descent (2-6 s) enters it 2-4 s before it arrives, so severe bounces at the arrival are refused "
    "(tuning_027, tuning_051, check_077, fresh4_036, fresh5_085: 5-10 deg, bounced false negatives). Counting "
    "the 3 s from the arrival too (_E_ARRT) passes this case and gains those 5 reps, but 6-12 deg slow "
    "'rebounds' with no scripted rebound (check_066, check_087, tuning_079, check_089, fresh6_072) pass with "
    "them: bounced F1 tuning .850 -> .855, check .701 -> .667, fresh4 .771 -> .741, fresh5 .697 -> .681, "
    "fresh6 .760 -> .745, fresh9 .757 -> .747; only while the rep is still in its descent (no hold yet): "
    "tuning .862, check .656, fresh4 .768, fresh5 .688, fresh6 .760, fresh9 .747 (bounce share worse on 5 of "
    "6). No amplitude, rate, rise time or come-back rate of those rebounds told them apart: not merged"))
def test_slow_severe_bounces_count_at_the_end_of_a_slow_descent():
    # a 6 s descent spends over 2 s in its last 8 deg, the bottom zone;
    # severe bounces at the arrival at 1.05-1.1 Hz (5-10 deg, 20-24 deg/s:
    # bounces by section 7(a)) reach their top in 450-480 ms, which the
    # 4 Hz view reads as up to 560 ms. Measured: 6 deg at 1.05 Hz under
    # 1.5 deg sway gives no bounce (the one rebound under 400 ms turns too
    # slowly on the view; the 450 ms one is refused, 5.7 s after the zone's
    # entry, 2.6 s after the arrival)
    for pp, hz, sway in ((6.0, 1.05, 1.5), (7.0, 1.1, 1.0)):
        segs, end = minisim.script((3, 24), (10, 24), (2, 0), (3, 0), (6, 24), (12, 24), (2, 0), (3, 0))
        eng, evs = E.run(minisim.generate(segs, end, sway=(sway, 1.5), radius=0.17, extra=E._rebounds(27.0, pp, hz, 3)))
        ends = E._reps(evs)
        assert len(ends) == 2, [e["type"] for e in evs]
        b = E.of(evs, "bounce")
        assert ends[0]["bounces"] == 0 and ends[1]["bounces"] >= 1 and ends[1]["bounces"] == len(b), (pp, hz, b, ends)
        assert all(27000 <= x["t_ms"] <= 30000 for x in b), b


@pytest.mark.xfail(strict=True, reason=(
    "issue 10, session 27 (raised): a toe stand lowered slowly into a partial drop decides down on the heel-up "
    "hypothesis. The simulator's raised top (up to 25 deg, docs/DOMAIN.md section 1.3) is reached in a 0.5-1.5 s "
    "rise, and a first partial drop (3-8 deg) from it comes down at its level-to-bottom pace (2-6 s for 3-8 deg: "
    "0.5-4 deg/s) over the whole travel from the top, 20-85 s. Mirrored, the rise is a quick drop (0.7-0.9 s "
    "onset to hold) and the slow start of that lowering a 'hold' that stays within 3 deg of its 4 s mean for 8 s "
    "(or held 6 s at 28 deg: a 25 deg top read through the coupled roll): Engine._down decides there and the toe "
    "stand and the partial are counted. Of 240 raised-top traces (raised8, raised42, raised43) the first sign "
    "decision is wrong in 4 (s42_001, s42_047: the 8 s quiet hold; s43_044: the 6 s dwell at 28 deg; s42_042: "
    "the partial's rise back onto the toes read as a 3.1 s descent past 28 deg), all this story; the frame turns "
    "back later (axis_source hold) but the reps read through it stay (2-3 false reps, 1 missed, per trace); none "
    "of the 96 raised43 traces loses its sign for good. The hold's level drift does not tell it from a true hold "
    "at 8 s: the 2 Hz level where the quiet began minus the 4 s mean now is 0.9-1.0 deg here, -2.6 to 1.6 deg "
    "on the 135 right decisions by a hold (sway 1-2 deg, fidgets 1-2 deg, section 7(b)). Tried: a quiet hold of 16 s (not 8) and no 6 s dwell rule after a 'descent' "
    "quicker than 1.5 s: passes this case; raised42 rep F1 .968 -> .982 (worst mounting .778 -> .833), raised43 "
    ".980 -> .981 but bounced .698 -> .682 (a partial's piece, now on the right sign, flagged), tuning rep F1 "
    ".991 -> .984, worst mounting .933 -> .877 (tuning_059, tuning_079: quick true first drops held 15 s and "
    "9 s lose the quiet-hold decision, and a rest turns their frame): not merged"))
def test_a_toe_stand_lowered_slowly_into_a_partial_drop_does_not_decide_down(tmp_path):
    # a raised top (-20.7 deg, a 1.9 s rise onto the toes), then a partial
    # drop (4.7 deg) whose descent from the top takes ~25 s. Measured
    # (c780fa8): down decided at 13.7 s on the heel-up hypothesis (the toe
    # stand read as a 22 deg hold quiet 8 s), 6 reps for 4 (the toe stand,
    # and the partial's second toe rise, counted; the first true rep
    # split), the frame turned back at 78.7 s. Drawn by the simulator
    # inside the envelope (seed 42000001 of a raised-top set)
    from heeldrop.evaluate import run_engine
    from heeldrop.synth.corpus import write_rendered
    from heeldrop.synth.render import render
    from heeldrop.traceio import read_trace
    path, _ = write_rendered(render("raised_top", 42000001, "left", 500, 11), str(tmp_path / "t.csv"))
    events = run_engine(read_trace(path), None)
    axis = [e["t_ms"] for e in events if e["type"] == "calibrated" and e.get("stage") == "axis"]
    ends = [e for e in events if e["type"] == "rep_end"]
    assert len(axis) == 1, axis
    # (4 true reps, the first from 39.4 s; the partial's span is 5.5-37.2 s)
    assert len(ends) == 4 and ends[0]["start_ms"] > 37000, [(r["start_ms"], r["depth_deg"]) for r in ends]
