"""Per-nuisance breakdown of the engine on a split (a development aid, not a
goal): for each rest pose (docs/EVALUATION.md "rest between sets"), each
re-strap (same side, lifted / side switch; under and over 90 deg) and each
second side (starting at level / with a rise onto the toes): false reps and
cue events inside it, and the reps missed in the set after it with their
depth and hold errors (sums x100 over the matched reps). The engine runs once
per trace that holds a rest or a re-strap.

    .venv/bin/python tools/rest_breakdown.py build/eval/tuning [-v]
"""
import collections
import json
import os
import sys

from heeldrop.evaluate import match
from heeldrop.replay import run_engine
from heeldrop.traceio import read_trace

d = sys.argv[1]
index = json.load(open(os.path.join(d, "index.json")))
C = collections.defaultdict(lambda: collections.Counter())
detail = []


def ov(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0) > 0


for ent in index["traces"]:
    name = ent["name"]
    truth = json.load(open(os.path.join(d, name + ".truth.json")))
    spans = truth["spans"]
    rests = [s for s in spans if s["kind"] == "rest"]
    straps = [s for s in spans if s["kind"] == "restrap"]
    if not rests and not straps:
        continue
    ev = run_engine(read_trace(os.path.join(d, name + ".csv")))
    det = [e for e in ev if e["type"] == "rep_end"]
    tr = truth["reps"]
    pairs = match(tr, det)
    mt = {i for i, _ in pairs}
    md = {j for _, j in pairs}
    fps = [det[j] for j in range(len(det)) if j not in md]

    def evs_in(a, b):
        out = collections.Counter()
        for e in ev:
            if a <= e["t_ms"] <= b and e["type"] in ("bounce", "roll_out", "twist", "descent_too_fast", "snap_up",
                                                      "no_hold", "hold_start", "rep_start", "calibrated",
                                                      "calibration_failed"):
                k = e["type"]
                if k == "calibrated":
                    k = "calibrated:%s/%s" % (e.get("stage"), e.get("axis_source", "-"))
                out[k] += 1
        return out

    end = truth["duration_ms"]
    switches = truth["side_switch_ms"]
    # boundaries after which a "next set" starts: rest ends, side switches
    marks = sorted([s["end_ms"] for s in rests] + list(switches))

    def next_set(t0):
        t1 = min([m for m in marks if m > t0 + 1] + [end + 1])
        return [i for i, r in enumerate(tr) if t0 <= r["start_ms"] < t1]

    first = [i for i, r in enumerate(tr) if r["start_ms"] < (marks[0] if marks else end + 1)]
    derr = {i: abs(det[j]["depth_deg"] - tr[i]["depth_deg"]) for i, j in pairs}
    herr = {i: abs(det[j]["hold_s"] - tr[i]["hold_s"]) for i, j in pairs}

    def errs(idx):
        d = [derr[i] for i in idx if i in derr]
        h = [herr[i] for i in idx if i in herr]
        return {"depth_err_sum_x100": int(round(100 * sum(d))), "hold_err_sum_x100": int(round(100 * sum(h))), "matched": len(d)}
    C["first set (before any rest/switch)"].update(reps=len(first), missed=sum(i not in mt for i in first))
    C["first set (before any rest/switch)"].update(errs(first))
    for s in rests:
        fp_rest = [x for x in fps if ov(x["start_ms"], x["end_ms"], s["start_ms"], s["end_ms"])]
        C["rest (whole span)"].update(n=1, false_reps=len(fp_rest), with_fp=bool(fp_rest))
        for p in s["poses"]:
            key = p["pose"]
            if key == "toes":
                key = "toes >= 20 s" if p["end_ms"] - p["start_ms"] >= 20000 else "toes < 20 s"
            f = [x for x in fps if ov(x["start_ms"], x["end_ms"], p["start_ms"], p["end_ms"])]
            C["rest pose " + key].update(n=1, false_reps=len(f), with_fp=bool(f))
            C["rest pose " + key].update(evs_in(p["start_ms"], p["end_ms"]))
        nxt = next_set(s["end_ms"])
        miss = sum(i not in mt for i in nxt)
        kinds = set()
        for p in s["poses"]:
            kinds.add(("toes >= 20 s" if p["end_ms"] - p["start_ms"] >= 20000 else "toes < 20 s") if p["pose"] == "toes" else p["pose"])
        for k in kinds:
            C["set after a rest with " + k].update(rests=1, reps=len(nxt), missed=miss, lost_half=miss * 2 > len(nxt))
            C["set after a rest with " + k].update(errs(nxt))
        C["set after any rest"].update(rests=1, reps=len(nxt), missed=miss, lost_half=miss * 2 > len(nxt))
        C["set after any rest"].update(errs(nxt))
        detail.append((name, "rest", [(p["pose"], round((p["end_ms"] - p["start_ms"]) / 1000)) for p in s["poses"]],
                       "fp", len(fp_rest), "next set", len(nxt), "missed", miss))
    for s in straps:
        f = [x for x in fps if ov(x["start_ms"], x["end_ms"], s["start_ms"], s["end_ms"])]
        key = "side switch" if s["side_switch"] else "same side (lifted)"
        big = "angle >= 90" if s["angle_deg"] >= 90 else "angle < 90"
        # the set after it: after the switch, or after the end of the rest it is in
        later = [m for m in marks if m >= s["end_ms"]]
        nxt = next_set(s["end_ms"] if s["side_switch"] or not later else later[0])
        miss = sum(i not in mt for i in nxt)
        C["restrap %s, %s" % (key, big)].update(n=1, false_reps=len(f), reps_after=len(nxt), missed_after=miss)
        C["restrap %s, %s" % (key, big)].update(errs(nxt))
        C["restrap %s, %s" % (key, big)].update(evs_in(s["start_ms"], s["end_ms"]))
        detail.append((name, "restrap", key, s["angle_deg"], round((s["end_ms"] - s["start_ms"]) / 1000), "fp", len(f), "next", len(nxt), "missed", miss))
    for k, sw in enumerate(switches):
        st = [x for x in truth["still_starts"] if x["start_ms"] > sw]
        if not st:
            continue
        st = st[0]
        after = [x for x in spans if x["start_ms"] >= st["end_ms"]][:2]
        toe = any(x["kind"] == "toe_rise" for x in after)
        cal = [e for e in ev if e["type"] == "calibrated" and e.get("stage") != "axis" and sw <= e["t_ms"] <= st["end_ms"] + 300]
        ok = bool(cal) and cal[-1]["t_ms"] >= st["start_ms"]
        side2 = next_set(sw)
        miss = sum(i not in mt for i in side2)
        tr_sp = [x for x in after if x["kind"] == "toe_rise"]
        f = [x for x in fps if any(ov(x["start_ms"], x["end_ms"], t["start_ms"], t["end_ms"]) for t in tr_sp)]
        ang = [x["angle_deg"] for x in straps if x["side_switch"] and x["end_ms"] <= sw + 1]
        detail.append((name, "second side", "toe rise" if toe else "level", "switch angle", ang, "cal ok", ok,
                       "reps", len(side2), "missed", miss))
        C["second side " + ("starting with a toe rise" if toe else "starting at level")].update(
            n=1, cal_at_still_start=ok, reps=len(side2), missed=miss, false_reps_in_toe_rise=len(f))
        C["second side " + ("starting with a toe rise" if toe else "starting at level")].update(errs(side2))
for k in sorted(C):
    print("%-45s %s" % (k, dict(C[k])))
if "-v" in sys.argv:
    for x in detail:
        print(*x)
