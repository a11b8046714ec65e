"""Score the engine against labelled traces (the simulated splits, or any
folder with index.json + NAME.csv + NAME.truth.json), and against the goals
of issue 10.

Matching: a detected rep (a rep_end event) matches a true rep when its span
overlaps the true span by at least half of the true span; one to one, best
overlap first. Figures (docs/EVALUATION.md says how to read them):

- calibration: for each still start a device must calibrate in (the first
  of the trace, and the first after each side switch), "at the still start"
  means the engine's last ``calibrated`` event (any stage but "axis") before
  the still start's end + 300 ms lies inside the still start (an earlier
  calibration, e.g. during the walk to the step, does not count unless it is
  redone there); the calibration time is from the still start's beginning to
  the first such event after it (never: infinite). p95 over still starts.
- reps: precision, recall, F1 (overall, per mounting, per rate, per scenario...)
- depth_mae_deg, hold_mae_s over matched reps (a goal on them is met only
  when at least 90 % of the true reps were found)
- per fault flag (fast_descent, roll_out, snap_up, twist, no_hold, bounced):
  F1 over reps, where a missed true rep counts as a missed flag and an extra
  detected rep as a false flag
- bounce precision: share of ``bounce`` events that fall inside a true rep
  (start .. end + 0.5 s) that bounced
- bounce latency: first bounce event inside a bounced true rep minus the
  rep's first counted rebound's lowest point (truth ``bounce_ms[0]``), median
- non-rep spans: detected reps that match no true rep, counted by the kind of
  span they overlap (walk, step_on, step_off, fidget, toe_rise, partial,
  rest, restrap)
- fast_before_bottom: share of true too-fast reps whose descent_too_fast
  event came no later than the true end of the descent

(The goal of 0 reps on the real walking and standing recordings is asserted
by tests/host/test_real_data.py: those recordings are test fixtures under
their own licences, which the tool itself never reads.)
"""
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor

from heeldrop.replay import run_engine
from heeldrop.traceio import read_trace

FLAGS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold", "bounced")
SPAN_KINDS = ("walk", "step_on", "step_off", "fidget", "toe_rise", "partial", "rest", "restrap")
# a rep detected in one of these is a goal failure (issue 10: 0 reps)
NONREP_GOAL_KINDS = ("walk", "step_on", "step_off", "fidget")
CAL_TOL_MS = 300
MAE_MIN_RECALL = 0.9
BOUNCE_TAIL_MS = 500
HOLD_CUE_MIN_S = 3.0  # true holds this long or longer are scored for their hold cue's latency

# Goals of issue 10 on the held-out split: key -> (text, comparison, value)
GOALS = {
    "calibrated_at_still_start": ("calibrated at the still start (share of still starts)", ">=", 0.99),
    "calibration_time_p95_s": ("calibration time after standing still, p95 (s)", "<=", 3.0),
    "rep_f1": ("rep F1 overall", ">=", 0.98),
    "rep_f1_min_mounting": ("rep F1 in the worst mounting", ">=", 0.98),
    "rep_f1_min_rate": ("rep F1 at the worst rate", ">=", 0.98),
    "depth_mae_deg": ("depth MAE (deg; counts with >= 90 % of reps found)", "<=", 2.5),
    "hold_mae_s": ("hold MAE (s; counts with >= 90 % of reps found)", "<=", 0.75),
    "flag_f1.fast_descent": ("too-fast F1", ">=", 0.90),
    "flag_f1.bounced": ("bounced F1", ">=", 0.90),
    "flag_f1.roll_out": ("roll-out F1", ">=", 0.90),
    "flag_f1.snap_up": ("snap-up F1", ">=", 0.90),
    "flag_f1.twist": ("twist F1", ">=", 0.90),
    "flag_f1.no_hold": ("no-hold F1", ">=", 0.90),
    "bounce_precision": ("bounce events in reps that bounced (share)", ">=", 0.90),
    "bounce_latency_median_ms": ("first bounce cue after the lowest point, median (ms)", "<=", 400),
    "reps_in_nonrep_spans": ("reps detected in walking/fidgeting/step-on/step-off spans", "<=", 0),
}


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


def percentile(xs, q):
    """The q-quantile (0..1) of xs by the nearest-rank method; inf values count."""
    if not xs:
        return None
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(math.ceil(q * len(s))) - 1))
    return s[k]


class Tally:
    def __init__(self):
        self.traces = 0
        self.tp = self.fp = self.fn = 0
        self.depth_err = []
        self.hold_err = []
        self.flags = {f: [0, 0, 0] for f in FLAGS}  # tp, fp, fn
        self.bounce_lat = []
        self.hold_lat = []
        self.bounce_events = 0
        self.bounce_events_ok = 0
        self.fast_total = 0
        self.fast_before = 0
        self.cal_total = 0
        self.cal_at_start = 0
        self.cal_times = []
        self.span_fp = {k: 0 for k in SPAN_KINDS}
        self.nonrep_fp = 0
        self.other_fp = 0

    def add(self, other):
        self.traces += other.traces
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.depth_err += other.depth_err
        self.hold_err += other.hold_err
        for f in FLAGS:
            for k in range(3):
                self.flags[f][k] += other.flags[f][k]
        self.bounce_lat += other.bounce_lat
        self.hold_lat += other.hold_lat
        self.bounce_events += other.bounce_events
        self.bounce_events_ok += other.bounce_events_ok
        self.fast_total += other.fast_total
        self.fast_before += other.fast_before
        self.cal_total += other.cal_total
        self.cal_at_start += other.cal_at_start
        self.cal_times += other.cal_times
        for k in SPAN_KINDS:
            self.span_fp[k] += other.span_fp[k]
        self.nonrep_fp += other.nonrep_fp
        self.other_fp += other.other_fp
        return self

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
        p95 = percentile(self.cal_times, 0.95)
        return {
            "traces": self.traces,
            "reps_true": self.tp + self.fn, "reps_detected": self.tp + self.fp,
            "rep_precision": (self.tp / (self.tp + self.fp)) if self.tp + self.fp else None,
            "rep_recall": (self.tp / (self.tp + self.fn)) if self.tp + self.fn else None,
            "rep_f1": self.f1(self.tp, self.fp, self.fn),
            "depth_mae_deg": sum(self.depth_err) / len(self.depth_err) if self.depth_err else None,
            "hold_mae_s": sum(self.hold_err) / len(self.hold_err) if self.hold_err else None,
            "flag_f1": {f: self.f1(*self.flags[f]) for f in FLAGS},
            "flag_counts": {f: list(self.flags[f]) for f in FLAGS},
            "bounce_precision": (self.bounce_events_ok / self.bounce_events) if self.bounce_events else None,
            "bounce_events": self.bounce_events,
            "bounce_latency_median_ms": med,
            "bounce_reps": len(self.bounce_lat),
            "hold_cue_latency_median_s": percentile(self.hold_lat, 0.5),
            "hold_cue_latency_p90_s": percentile(self.hold_lat, 0.9),
            "hold_cue_reps": len(self.hold_lat),
            "hold_cue_missing": sum(1 for x in self.hold_lat if x == float("inf")),
            "fast_before_bottom": (self.fast_before / self.fast_total) if self.fast_total else None,
            "still_starts": self.cal_total,
            "calibrated_at_still_start": (self.cal_at_start / self.cal_total) if self.cal_total else None,
            "calibration_time_p95_s": p95,
            "calibration_time_median_s": percentile(self.cal_times, 0.5),
            "never_calibrated": sum(1 for x in self.cal_times if x == float("inf")),
            "reps_in_spans": dict(self.span_fp),
            "reps_in_nonrep_spans": self.nonrep_fp,
            "other_false_reps": self.other_fp,
        }


def _overlap(a0, a1, b0, b1):
    return min(a1, b1) - max(a0, b0)


def _still_starts(truth):
    """The still starts a device must calibrate in, each with the time from
    which its calibrations count (trace start or the side switch before it)."""
    starts = truth.get("still_starts")
    if not starts:
        s0 = truth.get("still_start_ms", 0)
        starts = [{"start_ms": s0, "end_ms": truth.get("still_end_ms", s0 + 2000)}]
    switches = sorted(truth.get("side_switch_ms") or [])
    out = []
    for k, s in enumerate(starts):
        lo = 0
        for sw in switches:
            if sw <= s["start_ms"]:
                lo = sw
        if k and lo == 0:
            continue  # a later still start without a side switch: the device is already calibrated
        hi = min([sw for sw in switches if sw > s["start_ms"]] + [float("inf")])
        out.append((s["start_ms"], s["end_ms"], lo, hi))
    return out


def score(events, truth):
    t = Tally()
    t.traces = 1
    det = [e for e in events if e["type"] == "rep_end"]
    true_reps = truth["reps"]
    pairs = match(true_reps, det)
    holds = [(e["rep"], e["t_ms"]) for e in events if e["type"] == "hold_start"]
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
        if tr.get("hold_s", 0) >= HOLD_CUE_MIN_S and "hold_start_ms" in tr:
            # the hold cue: this rep's first hold_start from its start to its
            # rep_end event (a first rep's events may come with the sign's
            # decision, later than the rep itself); none: infinite
            hev = [x for r, x in holds if r == rep_no and d["start_ms"] <= x <= d["t_ms"]]
            t.hold_lat.append((hev[0] - tr["hold_start_ms"]) / 1000.0 if hev else float("inf"))
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
    spans = [s for s in truth.get("spans", []) if s["kind"] in SPAN_KINDS]
    for j, d in enumerate(det):
        if j in md:
            continue
        for f in FLAGS:
            if _flag(d, f):
                t.flags[f][1] += 1
        kinds = {s["kind"] for s in spans if _overlap(d["start_ms"], d["end_ms"], s["start_ms"], s["end_ms"]) > 0}
        for k in kinds:
            t.span_fp[k] += 1
        if kinds & set(NONREP_GOAL_KINDS):
            t.nonrep_fp += 1
        if not kinds:
            t.other_fp += 1
    # bounce events: in a rep that bounced?
    for e in events:
        if e["type"] != "bounce":
            continue
        t.bounce_events += 1
        for tr in true_reps:
            if tr["start_ms"] <= e["t_ms"] <= tr["end_ms"] + BOUNCE_TAIL_MS and tr.get("bounces", 0) > 0:
                t.bounce_events_ok += 1
                break
    bev = [e["t_ms"] for e in events if e["type"] == "bounce"]
    for tr in true_reps:
        if tr.get("bounce_ms"):
            inside = [x for x in bev if tr["start_ms"] <= x <= tr["end_ms"] + BOUNCE_TAIL_MS]
            if inside:
                t.bounce_lat.append(inside[0] - tr["bounce_ms"][0])
    # calibration at each still start
    cal = [e["t_ms"] for e in events if e["type"] == "calibrated" and e.get("stage") != "axis"]
    for s0, s1, lo, hi in _still_starts(truth):
        t.cal_total += 1
        before = [x for x in cal if lo <= x <= s1 + CAL_TOL_MS]
        if before and before[-1] >= s0:
            t.cal_at_start += 1
        after = [x for x in cal if s0 <= x < hi]
        t.cal_times.append((after[0] - s0) / 1000.0 if after else float("inf"))
    return t


# -- groups ------------------------------------------------------------------

def _groups(ent, truth):
    d = truth.get("draws") or {}
    sway = d.get("sway") or {}
    return {
        "mounting": ent.get("mounting_name") or truth.get("mounting"),
        "rate": "%s Hz" % ent.get("rate", truth.get("rate_hz")),
        "scenario": ent.get("scenario", truth.get("scenario")),
        "imu": truth.get("imu"),
        "gyro range": "%s dps" % truth.get("gyro_range_dps"),
        "sway": "unsupported" if sway and not sway.get("supported", True) else "supported",
        "top": "raised" if truth.get("raised_top") else "level",
        # a shoe-counter sensor sees the heel's roll times 0.5-2.0
        # (docs/DOMAIN.md §3.1), which no IMU reading tells apart: roll-out per mount
        "mount": "shoe counter" if d.get("mount") == "shoe" else "skin",
    }


GROUP_ORDER = ("mounting", "rate", "scenario", "imu", "gyro range", "sway", "top", "mount")


def score_trace(job):
    """Worker: (corpus_dir, index entry, config dict or None) -> (name, entry, Tally, groups)."""
    corpus_dir, ent, cfg = job
    from heelcore.config import Config
    config = Config.from_dict(cfg) if cfg is not None else None
    name = ent["name"]
    tr = read_trace(os.path.join(corpus_dir, name + ".csv"))
    with open(os.path.join(corpus_dir, name + ".truth.json")) as f:
        truth = json.load(f)
    events = run_engine(tr, config)
    return name, ent, score(events, truth), _groups(ent, truth)


class Result:
    """Scores of one corpus folder: per trace, per group, total."""

    def __init__(self):
        self.per = {}
        self.groups = {g: {} for g in GROUP_ORDER}
        self.total = Tally()

    def add(self, name, ent, tally, groups):
        self.per[name] = (ent, tally)
        for g, key in groups.items():
            self.groups.setdefault(g, {}).setdefault(key, Tally()).add(tally)
        self.total.add(tally)

    def figures(self):
        """The goal figures (flat dict; None where there is nothing to measure)."""
        s = self.total.summary()
        f = {k: s[k] for k in ("calibrated_at_still_start", "calibration_time_p95_s", "rep_f1", "depth_mae_deg",
                               "hold_mae_s", "bounce_precision", "bounce_latency_median_ms", "reps_in_nonrep_spans")}
        for name in ("mounting", "rate"):
            vals = {k: t.summary()["rep_f1"] for k, t in self.groups.get(name, {}).items()}
            vals = {k: v for k, v in vals.items() if v is not None}
            f["rep_f1_min_" + name] = min(vals.values()) if vals else None
            f["rep_f1_by_" + name] = vals
        for fl in FLAGS:
            f["flag_f1." + fl] = s["flag_f1"][fl]
        return f

    def goals(self):
        """[(key, text, op, goal, measured, met)]. An error over matched reps
        (depth, hold) counts only when at least MAE_MIN_RECALL of the true
        reps were found: over a handful of matched reps it says nothing."""
        f = self.figures()
        recall = self.total.summary()["rep_recall"] or 0.0
        out = []
        for key, (text, op, goal) in GOALS.items():
            v = f.get(key)
            met = v is not None and (v >= goal if op == ">=" else v <= goal)
            if key in ("depth_mae_deg", "hold_mae_s") and recall < MAE_MIN_RECALL:
                met = False
            out.append((key, text, op, goal, v, met))
        return out

    def to_json(self):
        return {
            "total": self.total.summary(),
            "goals": [{"key": k, "text": t, "op": op, "goal": g, "measured": _jsonable(v), "met": m}
                      for k, t, op, g, v, m in self.goals()],
            "groups": {g: {k: _jsonable(t.summary()) for k, t in sorted(d.items())} for g, d in self.groups.items()},
            "traces": {n: {"scenario": e.get("scenario"), "rate": e.get("rate"), "mounting": e.get("mounting"),
                           "summary": _jsonable(t.summary())} for n, (e, t) in sorted(self.per.items())},
        }


def _jsonable(x):
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return None if x != x else ("inf" if x > 0 else "-inf")
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


def evaluate_dir(corpus_dir, config=None, names=None, jobs=1, progress=None):
    """Run the engine over every trace of a corpus folder; returns a Result."""
    with open(os.path.join(corpus_dir, "index.json")) as f:
        index = json.load(f)
    cfg = config.to_dict() if config is not None else None
    work = [(corpus_dir, ent, cfg) for ent in index["traces"] if not names or ent["name"] in names]
    res = Result()
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            for out in ex.map(score_trace, work, chunksize=1):
                res.add(*out)
                if progress:
                    progress(out[0])
    else:
        for w in work:
            out = score_trace(w)
            res.add(*out)
            if progress:
                progress(out[0])
    return res


# -- text report ---------------------------------------------------------------

def _fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float) and x == float("inf"):
        return "inf"
    return "%.*f" % (nd, x)


def goal_lines(res):
    lines = ["%-58s %8s %10s  %s" % ("goal (issue 10)", "goal", "measured", "")]
    for key, text, op, goal, v, met in res.goals():
        nd = 0 if key in ("bounce_latency_median_ms", "reps_in_nonrep_spans") else (2 if "s" in key[-2:] else 3)
        lines.append("%-58s %2s %5s %10s  %s" % (text, op, goal, _fmt(v, nd), "met" if met else "NOT MET"))
    return lines


def report_text(res, title=""):
    s = res.total.summary()
    lines = []
    if title:
        lines.append(title)
        lines.append("")
    lines.append("%d traces, %d still starts, %d true reps, %d detected" % (
        s["traces"], s["still_starts"], s["reps_true"], s["reps_detected"]))
    lines.append("")
    lines += goal_lines(res)
    lines.append("")
    lines.append("calibration: %d of %d still starts calibrated there; time median %s s, p95 %s s; never: %d" % (
        res.total.cal_at_start, s["still_starts"], _fmt(s["calibration_time_median_s"]),
        _fmt(s["calibration_time_p95_s"]), s["never_calibrated"]))
    lines.append("reps: precision %s, recall %s, F1 %s" % (_fmt(s["rep_precision"], 3), _fmt(s["rep_recall"], 3),
                                                          _fmt(s["rep_f1"], 3)))
    lines.append("flags (tp/fp/fn): " + ", ".join("%s %d/%d/%d" % ((f,) + tuple(s["flag_counts"][f])) for f in FLAGS))
    lines.append("bounce events: %d, %s in reps that bounced; first cue latency median %s ms over %d reps" % (
        s["bounce_events"], _fmt(s["bounce_precision"]), _fmt(s["bounce_latency_median_ms"], 0), s["bounce_reps"]))
    lines.append("hold cue after the hold began (true holds >= %g s): median %s s, p90 %s s over %d reps; "
                 "no hold cue: %d" % (HOLD_CUE_MIN_S, _fmt(s["hold_cue_latency_median_s"]),
                                      _fmt(s["hold_cue_latency_p90_s"]), s["hold_cue_reps"], s["hold_cue_missing"]))
    lines.append("too-fast flagged before the bottom: %s" % _fmt(s["fast_before_bottom"]))
    lines.append("false reps by span: " + ", ".join("%s %d" % (k, v) for k, v in s["reps_in_spans"].items())
                 + "; elsewhere %d" % s["other_false_reps"])
    for g in GROUP_ORDER:
        d = res.groups.get(g) or {}
        if not d:
            continue
        lines.append("")
        lines.append("%-22s %4s %5s %5s %6s %6s %6s %5s  %s" % (
            g, "n", "true", "det", "F1", "depthE", "holdE", "cal", "flag F1 (fast roll snap twist nohold bounced)"))
        for key in sorted(d, key=_sort_key):
            t = d[key].summary()
            ff = " ".join(_fmt(t["flag_f1"][f]) for f in FLAGS)
            lines.append("%-22s %4d %5d %5d %6s %6s %6s %5s  %s" % (
                str(key)[:22], t["traces"], t["reps_true"], t["reps_detected"], _fmt(t["rep_f1"], 3),
                _fmt(t["depth_mae_deg"]), _fmt(t["hold_mae_s"]), _fmt(t["calibrated_at_still_start"]), ff))
    return "\n".join(lines)


def _sort_key(k):
    s = str(k)
    head = s.split(" ")[0]
    try:
        return (0, float(head), s)
    except ValueError:
        return (1, 0.0, s)


def report(corpus_dir, config=None, jobs=1):
    """(text, Result) for a corpus folder."""
    res = evaluate_dir(corpus_dir, config, jobs=jobs)
    return report_text(res), res
