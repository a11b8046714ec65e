"""`heeldrop synth`: simulate labelled heel-drop traces (one, or the whole corpus)."""
import os
import time

from heeldrop.errors import UserError

HELP = "simulate heel-drop IMU traces with per-rep truth (one trace or the labelled corpus)"
EPILOG = """\
examples:
  heeldrop synth --scenario bounce_mild --seed 17 --side left --rate 100 --mounting 3 -o bm.csv
      writes bm.csv (trace CSV) and bm.truth.json (per-rep truth)
  heeldrop synth --scenario session --demo --seed 2026 -o demo.csv
      a calm left+right demonstration session, 6 reps per side with 20 s holds
  heeldrop synth --split heldout
      the held-out accuracy split (96 traces, ~620 reps) into build/eval/heldout,
      made from its seeds if missing or made by an older simulator
  heeldrop synth --split tuning --jobs 2
      the tuning split into build/eval/tuning
  heeldrop synth --corpus build/corpus
      the parity corpus (74 short traces + index.json), regenerated from seeds
  heeldrop synth --ensure build/corpus
      same, but only if missing or made by an older simulator
  heeldrop synth --committed out/traces
      the traces committed in tests/traces, rendered by the current simulator
      (the committed files are frozen fixtures; see docs/EVALUATION.md)
  heeldrop synth --list
      scenarios, sample rates and the 24 mountings

Every parameter of the domain envelope (docs/DOMAIN.md §7(b)) is drawn over
its whole range in every scenario (docs/EVALUATION.md has the table); a
scenario's name says which fault or session feature it scripts often.

exit status: 0 ok, 2 bad input (unknown scenario, rate or mounting) or an output
that cannot be written.
"""


def add_arguments(p):
    what = p.add_mutually_exclusive_group()
    what.add_argument("--corpus", metavar="DIR", help="write the whole corpus into DIR (always regenerates)")
    what.add_argument("--ensure", metavar="DIR", help="write the corpus into DIR only if missing or outdated")
    what.add_argument("--split", choices=("tuning", "check", "heldout"), help="make an accuracy split in build/eval/SPLIT if missing or outdated")
    what.add_argument("--committed", metavar="DIR", help="write the traces kept in tests/traces into DIR (current simulator)")
    what.add_argument("--list", action="store_true", help="list scenarios, rates and mountings")
    what.add_argument("-o", "--output", metavar="FILE.csv", help="write one trace (and FILE.truth.json)")
    p.add_argument("--scenario", default="realistic_good", help="scenario name (default realistic_good)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--side", choices=("left", "right"), default="left", help="foot (default left; first side of a session)")
    p.add_argument("--rate", type=float, default=100, help="output rate in Hz: 25, 50, 100, 200, 500 or 1000 (12.5: beyond the edge; default 100)")
    p.add_argument("--mounting", type=int, default=0, help="board orientation on the heel, 0-23 (default 0); see --list")
    p.add_argument("--demo", action="store_true", help="a calm demonstration session: benign nuisances, 20 s holds, 6 reps per side in a session")
    p.add_argument("--jobs", type=int, default=None, metavar="N", help="worker processes for --split/--corpus/--ensure (default 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def run(args):
    from heeldrop.synth import MOUNTING_NAMES, RATES, SCENARIOS
    from heeldrop.synth import corpus as corp
    from heeldrop.synth.sensor import SWEEP_RATES

    say = (lambda *a: None) if args.quiet else print
    if args.list:
        print("scenarios: " + " ".join(SCENARIOS))
        print("rates_hz: " + " ".join(str(r) for r in RATES))
        for i, name in enumerate(MOUNTING_NAMES):
            print("mounting %2d: %s" % (i, name))
        return 0
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs must be at least 1, got %d" % args.jobs)
    if args.split:
        d = corp.split_dir(args.split)
        t0 = time.time()
        try:
            names = corp.ensure_split(args.split, jobs=args.jobs)
        except OSError as e:
            raise UserError("cannot write the %s split to %s: %s" % (args.split, d, e.strerror or e))
        say("synth: %s split, %d traces in %s (%.1f s)" % (args.split, len(names), d, time.time() - t0))
        return 0
    if args.corpus or args.ensure:
        d = args.corpus or args.ensure
        t0 = time.time()
        try:
            if args.corpus:
                names = corp.build_corpus(d, jobs=args.jobs)
            else:
                names = corp.ensure_corpus(os.path.abspath(d), jobs=args.jobs)
        except OSError as e:
            raise UserError("cannot write the corpus to %s: %s" % (d, e.strerror or e))
        say("synth: %d traces in %s (%.1f s)" % (len(names), d, time.time() - t0))
        return 0
    if args.committed:
        try:
            files = corp.write_committed(args.committed)
        except OSError as e:
            raise UserError("cannot write to %s: %s" % (args.committed, e.strerror or e))
        for f in files:
            say(f)
        return 0
    if not args.output:
        raise UserError("nothing to do: give -o FILE.csv, --split NAME, --corpus DIR, --ensure DIR, --committed DIR or --list")
    if args.scenario not in SCENARIOS:
        raise UserError("unknown scenario %r; known: %s" % (args.scenario, ", ".join(SCENARIOS)))
    rate = int(args.rate) if args.rate == int(args.rate) else args.rate
    if rate not in RATES and rate not in SWEEP_RATES:
        raise UserError("--rate must be one of %s, got %g" % (", ".join("%g" % r for r in SWEEP_RATES), args.rate))
    if not 0 <= args.mounting < 24:
        raise UserError("--mounting must be 0..23, got %d" % args.mounting)
    from heeldrop.synth import render
    r = render(args.scenario, args.seed, args.side, rate, args.mounting, demo=args.demo)
    out = args.output if args.output.endswith(".csv") else args.output + ".csv"
    try:
        d = os.path.dirname(out)
        if d:
            os.makedirs(d, exist_ok=True)
        csv_path, truth_path = corp.write_rendered(r, out)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (out, e.strerror or e))
    say("%s: %d samples, %d reps, %.1f s; truth in %s" % (
        csv_path, len(r.t_ms), len(r.truth["reps"]), r.truth["duration_ms"] / 1000.0, truth_path))
    return 0
