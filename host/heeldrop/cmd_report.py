"""heeldrop report: a self-contained HTML page, PNG figures and a text summary of sessions."""
import sys

HELP = "report on sessions: per-rep table, per-side summary, left/right difference, tips, figures"
EPILOG = """examples:
  heeldrop report session.csv                        text summary only
  heeldrop report left.csv right.csv --html out/report.html
  heeldrop report S0007.hdl --html report.html --png figs/
  heeldrop report today.csv --config physio.json      (hold target, reps per side)
  heeldrop report today.csv --json > today.json       everything as one JSON document

With --html, the per-rep table is also written beside the page as CSV and JSON
(report.html -> report-reps.csv, report-reps.json). A trace of any length is
read a block at a time (memory does not grow with it); on a terminal a
progress bar shows after 2 s. Gaps in the samples are listed in the notes,
cut out of the figures' time axis when long, and named in the rows of the
reps they fall in.

The left/right difference (degrees) is judged by the 5 degree rule: < 3 symmetric,
3-5 borderline, >= 5 meaningful; it needs >= 5 valid reps per side.
exit status: 0 ok, 2 bad input (a file that cannot be read or holds nothing recoverable,
bad --config, an output that cannot be written)."""


def add_arguments(p):
    p.add_argument("paths", nargs="+", metavar="SESSION_OR_TRACE", help="device session logs or trace CSV files")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report (one file, works offline)")
    p.add_argument("--png", metavar="DIR", help="write the figures as PNG files into DIR")
    p.add_argument("--config", metavar="FILE", help="JSON settings (hold_target_s, reps_per_side, thresholds)")
    p.add_argument("--json", action="store_true",
                   help="print everything as one JSON document (sessions, sides, symmetry, tips, notes, reps) "
                        "instead of the text summary")


def run(args):
    from heeldrop import report

    cfg = report.load_config(args.config)
    a = report.make_report(args.paths, config=cfg, html_path=args.html, png_dir=args.png, out=sys.stdout,
                           as_json=args.json)
    said = sys.stderr if args.json else sys.stdout  # stdout holds only the JSON document
    if args.html:
        print("report: %s" % args.html, file=said)
        if a.reps:
            print("per-rep table: %s" % ", ".join(report.table_paths(args.html)), file=said)
    if args.png:
        print("figures: %s" % args.png, file=said)
    return 0
