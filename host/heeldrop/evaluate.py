"""Score the engine against labelled traces (the simulated corpus).

A detected rep (a rep_end event) matches a true rep when its span overlaps the
true span by at least half of the true span; matching is one to one, best
overlap first. Figures:

- reps: precision, recall, F1 (per trace, scenario, mounting and overall)
- depth_mae_deg, hold_mae_s over matched reps
- per fault flag (fast_descent, roll_out, snap_up, twist, no_hold, bounced):
  F1 over reps, where a missed true rep counts as a missed flag and an extra
  detected rep as a false flag
- bounce_latency_ms: first bounce event of a rep minus the truth's first
  bounce time (its lowest point), median over reps with bounces
- fast_before_bottom: share of true too-fast reps whose descent_too_fast
  event came no later than the true end of the descent
"""
import json
import os

from heeldrop.replay import run_engine
from heeldrop.traceio import read_trace

FLAGS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold", "bounced")


def _flag(rep, name):
    if name == "bounced":
        return rep.get("bounces", 0) > 0
    return bool(rep.get(name))


def match(true_reps, det_reps):
    pairs = []
    for i, tr in enumerate(true_reps):
        span = max(1, tr["end_ms"] - tr["start_ms"])
        for j, d in enumerate(det_reps):
            ov = min(tr["end_ms"], d["end_ms"]) - max(tr["start_ms"], d["start_ms"])
            if ov >= 0.5 * span:
                pairs.append((ov / span, i, j))
    pairs.sort(reverse=True)
    used_t, used_d, out = set(), set(), []
    for _, i, j in pairs:
        if i in used_t or j in used_d:
            continue
        used_t.add(i)
        used_d.add(j)
        out.append((i, j))
    return out


class Tally:
    def __init__(self):
        self.tp = self.fp = self.fn = 0
        self.depth_err = []
        self.hold_err = []
        self.flags = {f: [0, 0, 0] for f in FLAGS}  # tp, fp, fn
        self.bounce_lat = []
        self.fast_total = 0
        self.fast_before = 0

    def add(self, other):
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.depth_err += other.depth_err
        self.hold_err += other.hold_err
        for f in FLAGS:
            for k in range(3):
                self.flags[f][k] += other.flags[f][k]
        self.bounce_lat += other.bounce_lat
        self.fast_total += other.fast_total
        self.fast_before += other.fast_before

    @staticmethod
    def f1(tp, fp, fn):
        if tp + fp + fn == 0:
            return None
        return 2 * tp / (2 * tp + fp + fn)

    def summary(self):
        med = None
        if self.bounce_lat:
            xs = sorted(self.bounce_lat)
            med = xs[len(xs) // 2]
        return {
            "reps_true": self.tp + self.fn, "reps_detected": self.tp + self.fp,
            "rep_f1": self.f1(self.tp, self.fp, self.fn),
            "depth_mae_deg": sum(self.depth_err) / len(self.depth_err) if self.depth_err else None,
            "hold_mae_s": sum(self.hold_err) / len(self.hold_err) if self.hold_err else None,
            "flag_f1": {f: self.f1(*self.flags[f]) for f in FLAGS},
            "flag_counts": {f: list(self.flags[f]) for f in FLAGS},
            "bounce_latency_median_ms": med,
            "bounce_reps": len(self.bounce_lat),
            "fast_before_bottom": (self.fast_before / self.fast_total) if self.fast_total else None,
        }


def score(events, truth):
    t = Tally()
    det = [e for e in events if e["type"] == "rep_end"]
    true_reps = truth["reps"]
    pairs = match(true_reps, det)
    mt = {i for i, _ in pairs}
    md = {j for _, j in pairs}
    t.tp = len(pairs)
    t.fn = len(true_reps) - len(mt)
    t.fp = len(det) - len(md)
    for i, j in pairs:
        tr, d = true_reps[i], det[j]
        t.depth_err.append(abs(d["depth_deg"] - tr["depth_deg"]))
        t.hold_err.append(abs(d["hold_s"] - tr["hold_s"]))
        for f in FLAGS:
            a, b = _flag(tr, f), _flag(d, f)
            if a and b:
                t.flags[f][0] += 1
            elif b:
                t.flags[f][1] += 1
            elif a:
                t.flags[f][2] += 1
        rep_no = d["rep"]
        if tr.get("bounce_ms"):
            bev = [e for e in events if e["type"] == "bounce" and e["rep"] == rep_no
                   and d["start_ms"] <= e["t_ms"] <= d["end_ms"] + 1000]
            if bev:
                t.bounce_lat.append(bev[0]["t_ms"] - tr["bounce_ms"][0])
        if tr.get("fast_descent"):
            t.fast_total += 1
            bottom = tr["start_ms"] + tr["descent_s"] * 1000
            fev = [e for e in events if e["type"] == "descent_too_fast" and e["rep"] == rep_no]
            if fev and fev[0]["t_ms"] <= bottom:
                t.fast_before += 1
    for i, tr in enumerate(true_reps):
        if i not in mt:
            for f in FLAGS:
                if _flag(tr, f):
                    t.flags[f][2] += 1
    for j, d in enumerate(det):
        if j not in md:
            for f in FLAGS:
                if _flag(d, f):
                    t.flags[f][1] += 1
    return t


def evaluate_dir(corpus_dir, config=None, names=None):
    """Run the engine over every trace of a corpus dir; returns (per_trace, by_scenario, by_mounting, total)."""
    with open(os.path.join(corpus_dir, "index.json")) as f:
        index = json.load(f)
    per, by_sc, by_mt, total = {}, {}, {}, Tally()
    for ent in index["traces"]:
        name = ent["name"]
        if names and name not in names:
            continue
        tr = read_trace(os.path.join(corpus_dir, name + ".csv"))
        with open(os.path.join(corpus_dir, name + ".truth.json")) as f:
            truth = json.load(f)
        events = run_engine(tr, config)
        t = score(events, truth)
        per[name] = (ent, t, events)
        by_sc.setdefault(ent["scenario"], Tally()).add(t)
        by_mt.setdefault(ent["mounting"], Tally()).add(t)
        total.add(t)
    return per, by_sc, by_mt, total


def _fmt(x, nd=2):
    return "-" if x is None else ("%.*f" % (nd, x))


def report(corpus_dir, config=None):
    per, by_sc, by_mt, total = evaluate_dir(corpus_dir, config)
    lines = []
    hdr = "%-22s %5s %5s %6s %6s %6s  %s" % ("scenario", "true", "det", "F1", "depthE", "holdE", "flag F1 (fast roll snap twist nohold bounced)")
    lines.append(hdr)
    for sc in sorted(by_sc):
        s = by_sc[sc].summary()
        ff = " ".join(_fmt(s["flag_f1"][f]) for f in FLAGS)
        lines.append("%-22s %5d %5d %6s %6s %6s  %s" % (sc, s["reps_true"], s["reps_detected"], _fmt(s["rep_f1"], 3),
                                                      _fmt(s["depth_mae_deg"]), _fmt(s["hold_mae_s"]), ff))
    lines.append("")
    lines.append("%-10s %5s %5s %6s" % ("mounting", "true", "det", "F1"))
    for m in sorted(by_mt):
        s = by_mt[m].summary()
        lines.append("%-10s %5d %5d %6s" % (m, s["reps_true"], s["reps_detected"], _fmt(s["rep_f1"], 3)))
    s = total.summary()
    lines.append("")
    lines.append("overall: reps %d true / %d detected, F1 %s, depth MAE %s deg, hold MAE %s s" % (
        s["reps_true"], s["reps_detected"], _fmt(s["rep_f1"], 3), _fmt(s["depth_mae_deg"]), _fmt(s["hold_mae_s"])))
    lines.append("flag F1: " + ", ".join("%s %s" % (f, _fmt(s["flag_f1"][f])) for f in FLAGS))
    lines.append("bounce cue latency (median of %d reps): %s ms; too-fast flagged before the bottom: %s" % (
        s["bounce_reps"], _fmt(s["bounce_latency_median_ms"], 0), _fmt(s["fast_before_bottom"])))
    return "\n".join(lines), per, by_sc, by_mt, total
