"""heeldrop evaluate: score the engine on a labelled split against the goals of
issue 10, or run the robustness sweep."""
import json
import os
import sys
import time

from heeldrop.configfile import load_config
from heeldrop.errors import UserError

HELP = "score the detection engine on a labelled simulated split (or run the robustness sweep)"
EPILOG = """examples:
  heeldrop evaluate                          # the tuning split (build/eval/tuning, made from seeds if missing)
  heeldrop evaluate --split heldout          # the held-out split: the figures the README reports
  heeldrop evaluate --split heldout --json out/heldout.json
  heeldrop evaluate --corpus build/corpus    # any folder with index.json + NAME.csv + NAME.truth.json
  heeldrop evaluate --config my-settings.json
  heeldrop evaluate --sweep                  # every nuisance from benign to beyond its edge: docs/sweep/*.png
  heeldrop evaluate --sweep --nuisance sway,rate --per-point 4 --plots out/sweep

Tune the engine on the tuning split only; the held-out split (other seeds,
same generator) is for scoring. Prints each goal of issue 10 with the
measured figure (calibration at the still start and its p95 time, rep F1
overall / per mounting / per rate, depth and hold MAE, each fault flag's F1,
bounce precision and cue latency, reps found in walking, fidgeting and
step-on/step-off spans), then figures outside the goals (how late the hold
cue comes after a hold begins, too-fast cued before the bottom, false reps
by kind of span), then the figures per mounting, rate, scenario, chip,
gyro range, sway, top and mount (skin or shoe counter); docs/EVALUATION.md
explains them. (The goal of 0 reps on real walking and standing recordings
is a test: tests/host/test_real_data.py.)

exit status: 0 done (goals met or not, unless --check), 1 --check and a goal
not met, 2 bad arguments or a folder that is not a corpus."""


def add_arguments(p):
    p.add_argument("--split", choices=("tuning", "check", "heldout"), default=None,
                   help="the split to score (default tuning); made from seeds into build/eval/SPLIT if missing or outdated")
    p.add_argument("--corpus", default=None, metavar="DIR", help="score this corpus folder instead of a split")
    p.add_argument("--config", metavar="FILE", help="JSON settings to evaluate instead of the defaults")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE ('-': standard output, no text)")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes (default 2, or 1 on a one-core machine)")
    p.add_argument("--check", action="store_true", help="exit 1 if any goal is not met")
    p.add_argument("--sweep", action="store_true", help="run the robustness sweep instead; PNGs and sweep.json into --plots")
    p.add_argument("--nuisance", default=None, metavar="A,B", help="sweep only these nuisances (default all)")
    p.add_argument("--per-point", type=int, default=8, metavar="K", help="sweep: traces per point (default 8)")
    p.add_argument("--plots", default=None, metavar="DIR", help="sweep: output folder (default docs/sweep)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")


def _jobs(args):
    from heeldrop.synth.corpus import default_jobs
    if args.jobs is None:
        return default_jobs()
    if args.jobs < 1:
        raise UserError("--jobs must be at least 1, got %d" % args.jobs)
    return args.jobs


def _sweep(args, jobs):
    from heeldrop import sweep
    from heeldrop.replay import ROOT
    names = [n.strip() for n in args.nuisance.split(",") if n.strip()] if args.nuisance else None
    if names:
        bad = [n for n in names if n not in sweep.NUISANCES]
        if bad:
            raise UserError("unknown nuisance %s; known: %s" % (", ".join(bad), ", ".join(sweep.NUISANCES)))
    if args.per_point < 1:
        raise UserError("--per-point must be at least 1, got %d" % args.per_point)
    out = args.plots or os.path.join(ROOT, "docs", "sweep")
    t0 = time.time()

    def progress(i, n):
        if not args.quiet and (i == n or i % 20 == 0):
            print("sweep: %d/%d traces (%.0f s)" % (i, n, time.time() - t0), file=sys.stderr)

    res = sweep.run_sweep(names, args.per_point, jobs, progress)
    try:
        paths = sweep.write(res, out, args.per_point)
    except OSError as e:
        raise UserError("cannot write the sweep to %s: %s" % (out, e.strerror or e))
    print("\n".join(sweep.summary_lines(res)))
    for p in paths:
        print("wrote %s" % p)
    return 0


def run(args):
    from heeldrop.evaluate import evaluate_dir, report_text
    jobs = _jobs(args)
    config = load_config(args.config)
    if args.sweep:
        if args.corpus or args.split:
            raise UserError("--sweep renders its own traces: drop --corpus/--split")
        if config is not None:
            raise UserError("--sweep uses the default settings: drop --config")
        return _sweep(args, jobs)
    if args.corpus and args.split:
        raise UserError("give --split or --corpus, not both")
    t0 = time.time()
    if args.corpus:
        corpus = args.corpus
        if not os.path.exists(os.path.join(corpus, "index.json")):
            raise UserError("%s: not a corpus folder (no index.json); make one with `heeldrop synth --split tuning` "
                            "or `heeldrop synth --corpus %s`" % (corpus, corpus))
        title = "corpus %s" % corpus
    else:
        from heeldrop.synth.corpus import ensure_split, split_dir
        split = args.split or "tuning"
        corpus = split_dir(split)
        if not args.quiet:
            print("evaluate: %s split in %s (made from seeds if missing)" % (split, corpus), file=sys.stderr)
        try:
            ensure_split(split, jobs=jobs)
        except OSError as e:
            raise UserError("cannot write the %s split to %s: %s" % (split, corpus, e.strerror or e))
        title = "%s split (%s)" % (split, corpus)
    res = evaluate_dir(corpus, config, jobs=jobs)
    elapsed = time.time() - t0
    if args.json != "-":
        print(report_text(res, title))
        if not args.quiet:
            print("\n(%.0f s)" % elapsed)
    if args.json:
        data = res.to_json()
        data["title"] = title
        text = json.dumps(data, indent=1) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            try:
                d = os.path.dirname(args.json)
                if d:
                    os.makedirs(d, exist_ok=True)
                with open(args.json, "w", encoding="utf-8") as f:
                    f.write(text)
            except OSError as e:
                raise UserError("cannot write %s: %s" % (args.json, e.strerror or e))
    if args.check and not all(m for *_, m in res.goals()):
        return 1
    return 0
