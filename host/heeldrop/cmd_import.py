"""heeldrop import: index every session log / trace CSV in a folder into the local history database."""

HELP = "add the sessions in a folder to the local history database (idempotent, all or nothing)"
EPILOG = """examples:
  heeldrop import ~/heeldrop/sessions
  heeldrop import downloads/ --db physio.sqlite
  HEELDROP_HOME=/data/heeldrop heeldrop import downloads/
  heeldrop import downloads/ --skip-bad           leave unreadable files out, say which

Each file is keyed by its content hash: importing the same files again adds nothing.
The whole import is one transaction: if it fails, the database is left as it was.
Default database: ~/.local/share/heeldrop/history.sqlite ($HEELDROP_HOME/history.sqlite if set).
exit status: 0 ok, 1 some files were left out (--skip-bad; they are listed), 2 bad input
(a file that cannot be read: nothing is written)."""


def add_arguments(p):
    p.add_argument("folder", metavar="DIR", help="folder of session logs and/or trace CSVs (searched recursively)")
    p.add_argument("--db", metavar="FILE", help="history database (default: $HEELDROP_HOME/history.sqlite "
                                                 "or ~/.local/share/heeldrop/history.sqlite)")
    p.add_argument("--config", metavar="FILE", help="JSON settings for the engine (thresholds)")
    p.add_argument("--skip-bad", action="store_true", help="leave out files that cannot be read instead of "
                                                           "aborting the import")


def run(args):
    from heeldrop import history, report

    db = args.db or history.default_db()
    cfg = report.load_config(args.config)
    res = history.import_dir(args.folder, db, cfg, skip_bad=args.skip_bad)
    for path, n in res.added:
        print("added   %s (%d reps)" % (path, n))
    for path in res.duplicates:
        print("known   %s" % path)
    for path, msg in res.failed:
        print("skipped %s: %s" % (path, msg))
    for note in res.notes:
        print("note: %s" % note)
    print("%d added, %d already imported, %d skipped -> %s" % (
        len(res.added), len(res.duplicates), len(res.failed), db))
    return 1 if res.failed else 0
