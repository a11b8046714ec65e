"""Session history: every downloaded session in a local SQLite database, and progress per side.

`heeldrop import DIR` adds each session log or trace CSV found in DIR in ONE
transaction, so an import that fails halfway leaves the database as it was. A
session is counted once whatever files carry it: it is keyed by its identity
(the log header's uid, a converted CSV's session_uid: board id, store id,
session id), and files without one by the SHA-256 of their bytes. So a
download's .hdl and .csv of one session are one session (the log is kept),
`.part` files (unfinished downloads) are never imported, and two imports of
the same folder at once add each session once (the check for what is
already there runs inside the write transaction). `heeldrop history` reads it
back as progress per side over days and weeks: median depth of valid reps, time
held, fault rate and adherence to the prescription (reps per side per day, hold
target). A week-to-week change in median depth is flagged only when it reaches
the minimal detectable change, 5 degrees (docs/EXERCISE.md "Left and right").
"""
import datetime
import os
import sqlite3
import statistics

from heeldrop import report
from heeldrop.errors import UserError

MDC_DEG = 5.0  # week-to-week change that is real (Powden 2015: 4.6-4.7 deg)
SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    uid TEXT UNIQUE,
    path TEXT NOT NULL,
    kind TEXT NOT NULL,
    started TEXT,
    day TEXT NOT NULL,
    date_source TEXT NOT NULL,
    duration_s REAL,
    side TEXT,
    n_reps INTEGER NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    imported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reps (
    session_id INTEGER NOT NULL REFERENCES sessions(id),
    rep INTEGER,
    side TEXT NOT NULL,
    start_ms INTEGER, end_ms INTEGER,
    depth_deg REAL, hold_s REAL, descent_s REAL, rise_s REAL,
    descent_speed_dps REAL, rise_speed_dps REAL,
    bounces INTEGER, max_roll_deg REAL,
    fast_descent INTEGER, roll_out INTEGER, snap_up INTEGER, twist INTEGER, no_hold INTEGER,
    hold_target_reached INTEGER
);
CREATE INDEX IF NOT EXISTS reps_session ON reps(session_id);
"""
REP_COLUMNS = ("rep", "side", "start_ms", "end_ms", "depth_deg", "hold_s", "descent_s", "rise_s",
               "descent_speed_dps", "rise_speed_dps", "bounces", "max_roll_deg",
               "fast_descent", "roll_out", "snap_up", "twist", "no_hold", "hold_target_reached")
FLAG_COLUMNS = ("fast_descent", "roll_out", "snap_up", "twist", "no_hold", "hold_target_reached")

# one row of the progress table (also the CSV / Parquet columns, in this order)
PROGRESS_COLUMNS = ("period", "start", "side", "sessions", "days", "reps", "valid_reps", "median_depth_deg",
                    "held_s", "hold_adherence", "reps_target", "rep_adherence", "fault_rate",
                    "change_deg", "change_flag")


def default_db():
    home = os.environ.get("HEELDROP_HOME")
    if home:
        return os.path.join(home, "history.sqlite")
    return os.path.join(os.path.expanduser("~"), ".local", "share", "heeldrop", "history.sqlite")


def connect(path, create=True):
    """Open (and, if asked, create) the history database; UserError when it cannot."""
    if not create and not os.path.exists(path):
        raise UserError("%s: no history database yet; run 'heeldrop import DIR' first (or give --db)" % path)
    try:
        d = os.path.dirname(os.path.abspath(path))
        os.makedirs(d, exist_ok=True)
        con = sqlite3.connect(path, isolation_level=None)  # explicit BEGIN/COMMIT below
        version = con.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:  # new file: create the tables (an opened database is not written to)
            con.executescript("BEGIN;" + SCHEMA + "PRAGMA user_version=%d; COMMIT;" % SCHEMA_VERSION)
            version = SCHEMA_VERSION
        elif version == 1:  # sessions gain their identity (uid): sessions imported before keep NULL
            con.executescript("BEGIN IMMEDIATE; ALTER TABLE sessions ADD COLUMN uid TEXT; "
                              "CREATE UNIQUE INDEX IF NOT EXISTS sessions_uid ON sessions(uid); "
                              "PRAGMA user_version=2; COMMIT;")
            version = SCHEMA_VERSION
    except (OSError, sqlite3.Error) as e:
        raise UserError("%s: cannot open the history database (%s); check the path or give --db" % (path, e))
    if version != SCHEMA_VERSION:
        con.close()
        raise UserError("%s: history database version %d, this heeldrop reads version %d; upgrade heeldrop or "
                        "use another --db" % (path, version, SCHEMA_VERSION))
    return con


# --------------------------------------------------------------------------
# import


def is_session_file(path):
    """A session log (its magic bytes) or a trace CSV (a .csv whose header names t_ms).

    Anything else in the folder (truth files, exported progress CSVs, text logs) is ignored.
    """
    name = os.path.basename(path)
    if name.startswith(".") or name.endswith((".part", ".tmp")):
        return False  # an unfinished download or write is not a session
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    magic = report._log_magic()
    if magic and head.startswith(magic):
        return True
    ext = os.path.splitext(name)[1].lower()
    if ext == ".csv":
        return b"t_ms" in head
    return ext == ".hdl"


def scan(folder):
    if not os.path.isdir(folder):
        raise UserError("%s: not a folder; give the folder that holds the downloaded sessions" % folder)
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        # a session log before the CSV converted from it: the log is the one kept
        for f in sorted(files, key=lambda n: (os.path.splitext(n)[0], os.path.splitext(n)[1].lower() != ".hdl")):
            p = os.path.join(root, f)
            if is_session_file(p):
                out.append(p)
    return out


def session_day(sess, path):
    """(ISO day, where the date came from): the recording's `started`, else the file's time."""
    started = sess.started
    if started:
        try:
            dt = datetime.datetime.fromisoformat(str(started).replace("Z", "+00:00"))
            return dt.date().isoformat(), "started"
        except ValueError:
            sess.notes.append("%s: started=%r is not an ISO 8601 time; dated by the file's time" % (path, started))
    mtime = os.path.getmtime(path)
    return datetime.date.fromtimestamp(mtime).isoformat(), "file time"


def _insert_session(con, sess, day, date_source, now):
    reps = sess.reps()
    cur = con.execute(
        "INSERT INTO sessions (sha256, uid, path, kind, started, day, date_source, duration_s, side, n_reps, notes,"
        " imported_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (sess.sha256, getattr(sess, "uid", None), os.path.abspath(sess.path), sess.kind, sess.started, day,
         date_source, sess.duration_s,
         sess.side, len(reps), "\n".join(sess.notes), now),
    )
    sid = cur.lastrowid
    rows = []
    for r in reps:
        row = [sid]
        for c in REP_COLUMNS:
            v = r.get(c)
            row.append(int(v) if c in FLAG_COLUMNS else v)
        rows.append(row)
    con.executemany("INSERT INTO reps (session_id, %s) VALUES (%s)" % (
        ", ".join(REP_COLUMNS), ",".join("?" * (len(REP_COLUMNS) + 1))), rows)
    return sid


class ImportResult:
    def __init__(self):
        self.added = []        # (path, n_reps)
        self.duplicates = []   # paths already in the database (or twice in this folder)
        self.failed = []       # (path, message) skipped with --skip-bad
        self.notes = []        # what was recovered from damaged files


def import_dir(folder, db_path, config=None, skip_bad=False, load=None):
    """Add every new session in folder to the database in one transaction; return an ImportResult.

    A file that cannot be read aborts the import (nothing is written) unless
    skip_bad, which leaves it out and reports it. `load` replaces
    report.load_session (tests).
    """
    config = config or report.load_config()
    load = load or report.load_session
    files = scan(folder)
    res = ImportResult()
    con = connect(db_path)
    try:
        known = {row[0] for row in con.execute("SELECT sha256 FROM sessions")}
        todo = []
        for p in files:
            h = report.file_sha256(p)
            if h in known:
                res.duplicates.append(p)
                continue
            known.add(h)
            todo.append(p)
        loaded = []
        for p in todo:
            try:
                sess = load(p, config)
            except UserError as e:
                if not skip_bad:
                    raise UserError("%s; nothing imported (fix or move the file, or use --skip-bad)" % e)
                res.failed.append((p, str(e)))
                continue
            day, src = session_day(sess, p)
            loaded.append((sess, day, src))
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        # what is already there is decided inside the write transaction: a
        # concurrent import that committed first makes these duplicates
        con.execute("BEGIN IMMEDIATE")
        try:
            hashes = {row[0] for row in con.execute("SELECT sha256 FROM sessions")}
            uids = {row[0]: row[1] for row in con.execute("SELECT uid, path FROM sessions WHERE uid IS NOT NULL")}
            for sess, day, src in loaded:
                uid = getattr(sess, "uid", None)
                if sess.sha256 in hashes:
                    res.duplicates.append(sess.path)
                    continue
                if uid and uid in uids:
                    res.duplicates.append(sess.path)
                    res.notes.append("%s: the same session as %s (session %s): counted once" % (
                        sess.path, uids[uid], uid))
                    continue
                _insert_session(con, sess, day, src, now)
                hashes.add(sess.sha256)
                if uid:
                    uids[uid] = os.path.abspath(sess.path)
                res.added.append((sess.path, len(sess.reps())))
                res.notes.extend(sess.notes)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            res.added = []
            raise
    except sqlite3.Error as e:
        raise UserError("%s: the import failed and was rolled back (%s); the database is unchanged" % (db_path, e))
    finally:
        con.close()
    return res


# --------------------------------------------------------------------------
# progress


def load_reps(con):
    """Every stored rep as a dict with its session's day and path."""
    cols = ["day", "path"] + list(REP_COLUMNS)
    q = ("SELECT s.day, s.path, %s FROM reps r JOIN sessions s ON s.id = r.session_id ORDER BY s.day, s.id, r.start_ms"
         % ", ".join("r." + c for c in REP_COLUMNS))
    out = []
    for row in con.execute(q):
        r = dict(zip(cols, row))
        r["bounces"] = int(r["bounces"] or 0)
        r["bounce"] = r["bounces"] > 0
        for c in FLAG_COLUMNS:
            r[c] = bool(r[c])
        r["faults"] = [f for f in report.FAULTS if r.get(f)]
        out.append(r)
    return out


def _week_start(day):
    d = datetime.date.fromisoformat(day)
    return (d - datetime.timedelta(days=d.weekday())).isoformat()


def _row(period, start, side, reps, config, days, sessions, span_days):
    valid = [r for r in reps if report.is_valid(r, config)]
    n = len(reps)
    target = config.hold_target_s
    reached = sum(1 for r in reps if report.held_to_target(r, target))
    per_day = {}
    for r in reps:
        per_day[r["day"]] = per_day.get(r["day"], 0) + 1
    goal = config.reps_per_side
    # adherence: share of the prescribed reps done, day by day (a day counts at most 100%)
    adherence = sum(min(1.0, c / goal) for c in per_day.values()) / span_days if goal and span_days else None
    return {
        "period": period, "start": start, "side": side, "sessions": sessions, "days": days,
        "reps": n, "valid_reps": len(valid),
        "median_depth_deg": statistics.median([r["depth_deg"] for r in valid]) if valid else None,
        "held_s": sum(r.get("hold_s") or 0.0 for r in reps),
        "hold_adherence": reached / n if n else None,
        "reps_target": goal * span_days,
        "rep_adherence": adherence,
        "fault_rate": sum(1 for r in reps if r["faults"]) / n if n else None,
        "change_deg": None, "change_flag": "",
    }


def progress(reps, config, weeks=None, today=None):
    """(day rows, week rows): per side, oldest first. weeks limits to the last N calendar weeks up to today."""
    today = today or datetime.date.today()
    days, wks = [], []
    for side in ("left", "right"):
        rs = [r for r in reps if r["side"] == side]
        by_day = {}
        for r in rs:
            by_day.setdefault(r["day"], []).append(r)
        for day in sorted(by_day):
            g = by_day[day]
            days.append(_row("day", day, side, g, config, 1, len({r["path"] for r in g}), 1))
        by_week = {}
        for r in rs:
            by_week.setdefault(_week_start(r["day"]), []).append(r)
        prev = None
        for wk in sorted(by_week):
            g = by_week[wk]
            start = datetime.date.fromisoformat(wk)
            span = 7
            if start <= today < start + datetime.timedelta(days=7):
                span = (today - start).days + 1  # the week in progress: days so far
            row = _row("week", wk, side, g, config, len({r["day"] for r in g}), len({r["path"] for r in g}), span)
            if prev is not None and prev["median_depth_deg"] is not None and row["median_depth_deg"] is not None:
                ch = row["median_depth_deg"] - prev["median_depth_deg"]
                row["change_deg"] = ch
                if abs(ch) >= MDC_DEG:
                    row["change_flag"] = "real gain" if ch > 0 else "real loss"
                else:
                    row["change_flag"] = "within error"
                if row["change_flag"] and (row["valid_reps"] < report.MIN_VALID_REPS
                                           or prev["valid_reps"] < report.MIN_VALID_REPS):
                    row["change_flag"] += " (few reps)"
            if row["median_depth_deg"] is not None:
                prev = row
            wks.append(row)
    if weeks:  # filtered after the fact, so the first week shown still has its change from the week before
        first = (datetime.date.fromisoformat(_week_start(today.isoformat()))
                 - datetime.timedelta(weeks=weeks - 1)).isoformat()
        days = [r for r in days if r["start"] >= first]
        wks = [r for r in wks if r["start"] >= first]
    key = lambda r: (r["start"], r["side"])  # noqa: E731
    return sorted(days, key=key), sorted(wks, key=key)


def symmetry_by_week(week_rows):
    """Per week with both sides: left/right difference of the weekly medians, LSI, 5 degree verdict."""
    out = []
    by = {}
    for r in week_rows:
        by.setdefault(r["start"], {})[r["side"]] = r
    for wk in sorted(by):
        L, R = by[wk].get("left"), by[wk].get("right")
        if not L or not R or L["median_depth_deg"] is None or R["median_depth_deg"] is None:
            continue
        ml, mr = L["median_depth_deg"], R["median_depth_deg"]
        diff = abs(ml - mr)
        few = min(L["valid_reps"], R["valid_reps"]) < report.MIN_VALID_REPS
        out.append({"start": wk, "left": ml, "right": mr, "diff_deg": diff,
                    "restricted": None if ml == mr else ("left" if ml < mr else "right"),
                    "lsi": min(ml, mr) / max(ml, mr) * 100.0 if max(ml, mr) > 0 else None,
                    "verdict": report.verdict_for(diff) + (" (fewer than %d valid reps)" % report.MIN_VALID_REPS
                                                           if few else "")})
    return out


def _fmt(v, col):
    if v is None:
        return "-"
    if col in ("hold_adherence", "rep_adherence", "fault_rate"):
        return "%d%%" % round(100 * v)
    if col == "median_depth_deg":
        return "%.1f" % v
    if col == "change_deg":
        return "%+.1f" % v
    if col == "held_s":
        return "%.0f" % v
    return str(v)


TEXT_COLUMNS = (("start", "from"), ("side", "side"), ("days", "days"), ("reps", "reps"),
                ("valid_reps", "valid"), ("median_depth_deg", "depth\u00b0"), ("held_s", "held s"),
                ("hold_adherence", "holds ok"), ("rep_adherence", "adherence"), ("fault_rate", "faults"),
                ("change_deg", "\u0394 wk\u00b0"), ("change_flag", "change"))


def render_text(day_rows, week_rows, config):
    lines = ["Prescription: %d reps per side per day, hold %g s. A week-to-week change counts when it is "
             "\u2265 %g\u00b0." % (config.reps_per_side, config.hold_target_s, MDC_DEG)]
    sym = symmetry_by_week(week_rows)
    if sym:
        lines.append("")
        lines.append("Left/right by week (difference of medians: < 3\u00b0 symmetric, 3-5\u00b0 borderline, "
                     "\u2265 5\u00b0 meaningful)")
        for r in sym:
            lines.append("  %s  left %.1f\u00b0  right %.1f\u00b0  difference %.1f\u00b0  LSI %s  %s%s" % (
                r["start"], r["left"], r["right"], r["diff_deg"], "-" if r["lsi"] is None else "%.0f%%" % r["lsi"],
                r["verdict"], "" if not r["restricted"] or r["verdict"].startswith("symmetric")
                else " (restricted: %s)" % r["restricted"]))
    for title, rows, cols in (("By week", week_rows, TEXT_COLUMNS),
                              ("By day", day_rows, TEXT_COLUMNS[:-2])):
        lines.append("")
        lines.append(title)
        table = [[h for _c, h in cols]] + [[_fmt(r[c], c) for c, _h in cols] for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
        left = {0, 1} | {i for i, (c, _h) in enumerate(cols) if c == "change_flag"}
        for row in table:
            lines.append("  ".join(cell.ljust(w) if i in left else cell.rjust(w)
                                   for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if not rows:
            lines.append("  (no sessions in this range)")
    return "\n".join(lines) + "\n"


def rows_for_export(day_rows, week_rows):
    return [{c: r[c] for c in PROGRESS_COLUMNS} for r in week_rows + day_rows]


def write_csv(path, rows):
    import csv

    try:
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=PROGRESS_COLUMNS)
            w.writeheader()
            for r in rows:
                w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    except OSError as e:
        raise UserError("%s: cannot write the CSV (%s); pick a writable path with --csv" % (path, e.strerror or e))


def write_parquet(path, rows):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError("--parquet needs pyarrow, which is not installed; run '.venv/bin/pip install pyarrow' "
                        "(or 'make setup'), or export with --csv instead")
    types = {"period": pa.string(), "start": pa.string(), "side": pa.string(), "change_flag": pa.string(),
             "sessions": pa.int64(), "days": pa.int64(), "reps": pa.int64(), "valid_reps": pa.int64(),
             "reps_target": pa.int64()}
    schema = pa.schema([(c, types.get(c, pa.float64())) for c in PROGRESS_COLUMNS])
    table = pa.Table.from_pylist(rows, schema=schema)
    try:
        pq.write_table(table, path)
    except OSError as e:
        raise UserError("%s: cannot write the Parquet file (%s); pick a writable path" % (path, e))


def plot(path, day_rows, week_rows, config):
    """Median depth (days as dots, weeks as lines), time held per day, fault rate per week, per side."""
    plt = report._mpl()
    import matplotlib.dates as mdates

    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    d = datetime.date.fromisoformat
    for side in ("left", "right"):
        col = report.SIDE_COLOURS[side]
        dr = [r for r in day_rows if r["side"] == side]
        wr = [r for r in week_rows if r["side"] == side]
        if not dr:
            continue
        pts = [(d(r["start"]), r["median_depth_deg"]) for r in dr if r["median_depth_deg"] is not None]
        if pts:
            a1.plot([p[0] for p in pts], [p[1] for p in pts], "o", color=col, alpha=0.5, ms=4,
                    label="%s, daily" % side)
        wp = [(d(r["start"]) + datetime.timedelta(days=3), r) for r in wr if r["median_depth_deg"] is not None]
        if wp:
            a1.plot([p[0] for p in wp], [p[1]["median_depth_deg"] for p in wp], "-", color=col, lw=2,
                    label="%s, weekly" % side)
            for x, r in wp:
                if r["change_flag"].startswith("real"):
                    a1.annotate("%+.1f\u00b0" % r["change_deg"], (x, r["median_depth_deg"]), fontsize=8,
                                color=col, xytext=(4, 6), textcoords="offset points", weight="bold")
        off = datetime.timedelta(hours=-5 if side == "left" else 5)
        a2.bar([d(r["start"]) + off for r in dr], [r["held_s"] / 60.0 for r in dr], width=0.4, color=col,
               label=side)
        a3.plot([d(r["start"]) + datetime.timedelta(days=3) for r in wr],
                [100 * (r["fault_rate"] or 0.0) for r in wr], "o-", color=col, label=side)
    a1.set_ylabel("median depth \u00b0")
    a1.set_title("Depth of valid reps (labelled: weekly changes \u2265 %g\u00b0)" % MDC_DEG, fontsize=10, loc="left")
    a2.set_ylabel("held, min")
    a2.set_title("Time held per day", fontsize=10, loc="left")
    top = max([100 * (r["fault_rate"] or 0.0) for r in week_rows] + [0.0])
    a3.set_ylim(0, max(10.0, top * 1.15))
    a3.set_ylabel("% of reps")
    a3.set_title("Reps with a fault, per week", fontsize=10, loc="left")
    for ax in (a1, a2, a3):
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=4)
    a3.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.autofmt_xdate()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=90)
    except OSError as e:
        raise UserError("%s: cannot write the plot (%s); pick a writable path with --plot" % (path, e.strerror or e))
    finally:
        plt.close(fig)
