"""Robustness sweep: vary one nuisance at a time, from benign to beyond its
documented edge (docs/DOMAIN.md §7(b)), everything else held benign, and score the
engine at each value (rep F1, each fault flag's F1, calibration at the still
start). ``heeldrop evaluate --sweep`` / ``make sweep`` run it and draw one
PNG per nuisance into docs/sweep/ (docs/EVALUATION.md explains them).

Each point renders the same K people and sessions (the same seeds: common
random numbers), so a curve shows the nuisance, not a new draw of people.
The baseline is benign: MPU-6050 at +-500 deg/s / +-4 g, skin mount, no
misalignment, supported sway 0.3 deg pitch / 0.5 deg roll, no gyro offset,
100 Hz, 12 s holds (but scripted no-holds), 5 reps with scripted faults of
every kind (10 % each).
"""
import json
import math
import os
from concurrent.futures import ProcessPoolExecutor

from heeldrop.evaluate import FLAGS, Tally, score

SWEEP_SEED = 3000000
BASE = {"benign": True, "n_reps": 5, "faults_p": 0.1, "hold_normal": 12.0, "sway": 0.3, "gyro_bias": 0.0}

# name -> label, values, x of each value, override key (None: the rate), ranges
# ("normal": the documented normal range; "edge": faulty / edge range; the
# rest of the axis is beyond what docs/DOMAIN.md documents)
NUISANCES = {
    "sway": {"label": "postural sway amplitude, pitch (deg; roll 1.5x, corrective steps above 1)",
             "values": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0], "key": "sway",
             "normal": (0.3, 1.0), "edge": (1.0, 2.0)},
    "gyro_bias": {"label": "gyro zero-rate offset, every axis (deg/s)",
                  "values": [0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0], "key": "gyro_bias",
                  "normal": (0.0, 20.0), "edge": None},
    "rate": {"label": "output data rate (Hz)", "values": [12.5, 25, 50, 100, 200, 500, 1000], "key": None,
             "normal": (25, 1000), "edge": None, "log": True},
    "hold": {"label": "hold at the bottom, every rep (s)",
             "values": [1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 75.0, 90.0],
             "key": "hold", "normal": (10.0, 60.0), "edge": (0.0, 10.0), "log": True},
    "descent_speed": {"label": "descent mean speed, level to bottom (deg/s)",
                      "values": [2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 30.0, 45.0, 60.0, 80.0, 100.0],
                      "key": "descent_speed", "normal": (4.0, 12.0), "edge": (20.0, 80.0), "log": True},
    "bounce_pp": {"label": "rebound amplitude at the bottom, every rep (deg peak to peak)",
                  "values": [0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0], "key": "bounce_pp",
                  "normal": None, "edge": (2.0, 10.0)},
    "misalign": {"label": "mounting misalignment (yaw deg; pitch 0.75x, roll 0.5x)",
                 "values": [0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0], "key": "misalign_scale",
                 "scale": 1 / 20.0, "normal": (0.0, 20.0), "edge": None},
    "noise": {"label": "white noise, x the MPU-6050 datasheet (gyro 0.005 deg/s/rtHz, accel 400 ug/rtHz)",
              "values": [0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0], "key": "noise_scale",
              "normal": (1.0, 3.0), "edge": None, "log": True},
}
SCENARIO = "mixed_faults"


def _points(names, k, values=None):
    jobs = []
    for name in names:
        nz = NUISANCES[name]
        for x in (values or {}).get(name, nz["values"]):
            for j in range(k):
                jobs.append((name, x, j))
    return jobs


def run_point(job):
    """Worker: (nuisance, x, j) -> (nuisance, x, Tally)."""
    from heeldrop.replay import run_engine
    from heeldrop.synth import render
    name, x, j = job
    nz = NUISANCES[name]
    ov = dict(BASE)
    rate = 100
    if nz["key"] is None:
        rate = x
    else:
        ov[nz["key"]] = x * nz.get("scale", 1.0)
    side = "left" if j % 2 == 0 else "right"
    r = render(SCENARIO, SWEEP_SEED + j, side, rate, (j * 7) % 24, overrides=ov)
    ev = run_engine(r.trace())
    return name, x, score(ev, r.truth)


def run_sweep(names=None, k=8, jobs=2, progress=None, values=None):
    """{nuisance: [(x, summary dict)]} for the nuisances ``names`` (default
    all); ``values`` ({nuisance: [x, ...]}) replaces a nuisance's grid."""
    names = list(names or NUISANCES)
    bad = [n for n in names if n not in NUISANCES]
    if bad:
        raise ValueError("unknown nuisance(s) %s (known: %s)" % (", ".join(bad), ", ".join(NUISANCES)))
    work = _points(names, k, values)
    acc = {}
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as ex:
            it = ex.map(run_point, work, chunksize=1)
            for i, (name, x, t) in enumerate(it):
                acc.setdefault(name, {}).setdefault(x, Tally()).add(t)
                if progress:
                    progress(i + 1, len(work))
    else:
        for i, w in enumerate(work):
            name, x, t = run_point(w)
            acc.setdefault(name, {}).setdefault(x, Tally()).add(t)
            if progress:
                progress(i + 1, len(work))
    out = {}
    for name in names:
        out[name] = [(x, acc[name][x].summary()) for x in (values or {}).get(name, NUISANCES[name]["values"])]
    return out


def breaking_point(points, floor=0.9, key="rep_f1"):
    """The first value (from the benign end) where the figure falls below
    ``floor``; None if it never does."""
    for x, s in points:
        v = s.get(key)
        if v is not None and v < floor:
            return x
    return None


def _clean(x):
    if isinstance(x, float) and (x != x or math.isinf(x)):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_json(result, k):
    data = {"base": BASE, "scenario": SCENARIO, "traces_per_point": k, "seed": SWEEP_SEED, "nuisances": {}}
    for name, pts in result.items():
        nz = NUISANCES[name]
        data["nuisances"][name] = {
            "label": nz["label"], "normal": nz["normal"], "edge": nz["edge"],
            "breaking_point_rep_f1_0.9": breaking_point(pts),
            "breaking_point_calibration_0.9": breaking_point(pts, key="calibrated_at_still_start"),
            "points": [{"x": x, "rep_f1": s["rep_f1"], "flag_f1": s["flag_f1"],
                        "calibrated_at_still_start": s["calibrated_at_still_start"],
                        "depth_mae_deg": s["depth_mae_deg"], "hold_mae_s": s["hold_mae_s"],
                        "reps_true": s["reps_true"], "reps_detected": s["reps_detected"],
                        "flag_counts": s["flag_counts"]} for x, s in pts],
        }
    return _clean(data)


def plot(result, out_dir, k):
    """One PNG per nuisance into OUT_DIR; returns the paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name, pts in result.items():
        nz = NUISANCES[name]
        xs = [x for x, _ in pts]
        fig, ax = plt.subplots(figsize=(8, 4.6), dpi=100)
        lo, hi = min(xs), max(xs)
        if nz.get("normal"):
            ax.axvspan(max(lo, nz["normal"][0]), min(hi, nz["normal"][1]), color="#d9f2d9", label="documented normal range")
        if nz.get("edge"):
            ax.axvspan(max(lo, nz["edge"][0]), min(hi, nz["edge"][1]), color="#fff2cc", label="documented edge / fault range")

        def series(fn):
            px, py = [], []
            for x, s in pts:
                v = fn(s)
                if v is not None:
                    px.append(x)
                    py.append(v)
            return px, py

        px, py = series(lambda s: s["rep_f1"])
        ax.plot(px, py, "-o", color="black", lw=2.5, label="rep F1")
        px, py = series(lambda s: s["calibrated_at_still_start"])
        ax.plot(px, py, "--s", color="#7f7f7f", lw=1.5, ms=4, label="calibrated at the still start")
        colors = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
        for f, c in zip(FLAGS, colors):
            px, py = series(lambda s, f=f: s["flag_f1"][f])
            ax.plot(px, py, "-", marker=".", color=c, lw=1, label="%s F1" % f)
        if nz.get("log"):
            ax.set_xscale("log")
            ax.set_xticks(xs)
            ax.set_xticklabels([("%g" % x) for x in xs])
        ax.set_ylim(-0.03, 1.03)
        ax.axhline(0.98, color="black", lw=0.6, ls=":")
        ax.axhline(0.90, color="#999999", lw=0.6, ls=":")
        ax.set_xlabel(nz["label"])
        ax.set_ylabel("score")
        ax.set_title("%s: %d traces x 5 reps per point, everything else benign" % (name, k), fontsize=10)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        fig.tight_layout()
        p = os.path.join(out_dir, "%s.png" % name)
        fig.savefig(p, metadata={"Software": None})
        plt.close(fig)
        paths.append(p)
    return paths


def write(result, out_dir, k, json_path=None):
    paths = plot(result, out_dir, k)
    data = to_json(result, k)
    jp = json_path or os.path.join(out_dir, "sweep.json")
    with open(jp + ".tmp", "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(data, indent=1) + "\n")
    os.replace(jp + ".tmp", jp)
    return paths + [jp]


def summary_lines(result):
    lines = ["%-14s %-26s %s" % ("nuisance", "rep F1 < 0.9 from", "rep F1 at each value")]
    for name, pts in result.items():
        bp = breaking_point(pts)
        vals = " ".join("%g:%s" % (x, "-" if s["rep_f1"] is None else "%.2f" % s["rep_f1"]) for x, s in pts)
        lines.append("%-14s %-26s %s" % (name, "never" if bp is None else "%g" % bp, vals))
    return lines
