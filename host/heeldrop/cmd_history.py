"""heeldrop history: progress per side over days and weeks from the local history database."""
import sys

HELP = "progress per side over days and weeks: depth, time held, fault rate, adherence; plot and export"
EPILOG = """examples:
  heeldrop history
  heeldrop history --weeks 4 --plot progress.png
  heeldrop history --csv progress.csv --parquet progress.parquet
  heeldrop history --db physio.sqlite --config prescription.json   (reps_per_side, hold_target_s)

A week-to-week change in median depth is flagged as real only when it is >= 5 degrees
(the measurement's minimal detectable change).
exit status: 0 ok, 2 bad input (bad --weeks or --config, no reps recorded yet, an output
that cannot be written)."""


def add_arguments(p):
    p.add_argument("--db", metavar="FILE", help="history database (default: $HEELDROP_HOME/history.sqlite "
                                                 "or ~/.local/share/heeldrop/history.sqlite)")
    p.add_argument("--weeks", type=int, metavar="N", help="only the last N calendar weeks")
    p.add_argument("--plot", metavar="FILE.png", help="write a progress plot (PNG)")
    p.add_argument("--csv", metavar="FILE", help="export the day and week rows as CSV")
    p.add_argument("--parquet", metavar="FILE", help="export the day and week rows as Parquet (needs pyarrow)")
    p.add_argument("--config", metavar="FILE", help="JSON settings: reps_per_side, hold_target_s, min_depth_deg")


def run(args):
    from heeldrop import history, report
    from heeldrop.errors import UserError

    if args.weeks is not None and args.weeks < 1:
        raise UserError("--weeks must be 1 or more, got %d" % args.weeks)
    db = args.db or history.default_db()
    cfg = report.load_config(args.config)
    con = history.connect(db, create=False)
    try:
        reps = history.load_reps(con)
    finally:
        con.close()
    if not reps:
        raise UserError("%s: no reps recorded yet; import sessions with 'heeldrop import DIR'" % db)
    days, weeks = history.progress(reps, cfg, weeks=args.weeks)
    sys.stdout.write(history.render_text(days, weeks, cfg))
    rows = history.rows_for_export(days, weeks)
    if args.csv:
        history.write_csv(args.csv, rows)
        print("csv: %s" % args.csv)
    if args.parquet:
        history.write_parquet(args.parquet, rows)
        print("parquet: %s" % args.parquet)
    if args.plot:
        history.plot(args.plot, days, weeks, cfg)
        print("plot: %s" % args.plot)
    return 0
