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
      a left+right session, 6 reps per side with 20 s holds
  heeldrop synth --corpus build/corpus
      the whole labelled corpus (~75 traces + index.json), regenerated from seeds
  heeldrop synth --ensure build/corpus
      same, but only if missing or made by an older simulator
  heeldrop synth --committed tests/traces
      the few traces kept in the repository (demo_session and two small ones)
  heeldrop synth --list
      scenarios, sample rates and the 24 mountings

exit status: 0 ok, 2 bad input (unknown scenario, rate or mounting) or an output
that cannot be written.
"""


def add_arguments(p):
    what = p.add_mutually_exclusive_group()
    what.add_argument("--corpus", metavar="DIR", help="write the whole corpus into DIR (always regenerates)")
    what.add_argument("--ensure", metavar="DIR", help="write the corpus into DIR only if missing or outdated")
    what.add_argument("--committed", metavar="DIR", help="write the traces kept in tests/traces into DIR")
    what.add_argument("--list", action="store_true", help="list scenarios, rates and mountings")
    what.add_argument("-o", "--output", metavar="FILE.csv", help="write one trace (and FILE.truth.json)")
    p.add_argument("--scenario", default="realistic_good", help="scenario name (default realistic_good)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--side", choices=("left", "right"), default="left", help="foot (default left; first side of a session)")
    p.add_argument("--rate", type=int, default=100, help="output rate in Hz: 25, 50, 100, 200, 500 or 1000 (default 100)")
    p.add_argument("--mounting", type=int, default=0, help="board orientation on the heel, 0-23 (default 0); see --list")
    p.add_argument("--demo", action="store_true", help="demo-length reps: 20 s holds, 6 reps per side in a session")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def run(args):
    from heeldrop.synth import MOUNTING_NAMES, RATES, SCENARIOS
    from heeldrop.synth import corpus as corp

    say = (lambda *a: None) if args.quiet else print
    if args.list:
        print("scenarios: " + " ".join(SCENARIOS))
        print("rates_hz: " + " ".join(str(r) for r in RATES))
        for i, name in enumerate(MOUNTING_NAMES):
            print("mounting %2d: %s" % (i, name))
        return 0
    if args.corpus or args.ensure:
        d = args.corpus or args.ensure
        t0 = time.time()
        try:
            if args.corpus:
                names = corp.build_corpus(d)
            else:
                names = corp.ensure_corpus(os.path.abspath(d))
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
        raise UserError("nothing to do: give -o FILE.csv, --corpus DIR, --ensure DIR, --committed DIR or --list")
    if args.scenario not in SCENARIOS:
        raise UserError("unknown scenario %r; known: %s" % (args.scenario, ", ".join(SCENARIOS)))
    if args.rate not in RATES:
        raise UserError("--rate must be one of %s, got %d" % (", ".join(map(str, RATES)), args.rate))
    if not 0 <= args.mounting < 24:
        raise UserError("--mounting must be 0..23, got %d" % args.mounting)
    from heeldrop.synth import render
    r = render(args.scenario, args.seed, args.side, args.rate, args.mounting, demo=args.demo)
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
