"""heeldrop import / history: idempotent, atomic import; progress per side; CSV / Parquet export."""
import csv
import datetime
import os
import sqlite3
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from reportkit import set_events  # noqa: E402

from heeldrop import history, report  # noqa: E402
from heeldrop.cli import main  # noqa: E402
from heeldrop.errors import UserError  # noqa: E402

HEADER = "t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"


def write_session(folder, name, side, started, depths, hold=31.0, **flags):
    """A small trace file whose content is unique, plus the events the stub engine returns for it."""
    p = folder / name
    p.write_text("# side=%s\n# started=%s\n%s%s" % (side, started, HEADER,
                 "".join("%d,0,0,1,0,0,%s\n" % (10 * i, name.__hash__() % 7) for i in range(50))))
    EVENTS[str(p)] = set_events(depths, side=side, hold=hold, **flags)
    return p


EVENTS = {}


@pytest.fixture
def stub_engine(monkeypatch):
    """Replace the engine: each file's events are the ones written beside it (the import is what is tested)."""
    EVENTS.clear()
    monkeypatch.setattr(report, "run_trace", lambda trace, config: (EVENTS[trace.path], None))
    return EVENTS


def counts(db):
    con = sqlite3.connect(db)
    try:
        return (con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0],
                con.execute("SELECT COUNT(*) FROM reps").fetchone()[0])
    finally:
        con.close()


def test_import_is_idempotent(tmp_path, stub_engine, capsys):
    d = tmp_path / "sessions"
    d.mkdir()
    write_session(d, "a.csv", "left", "2026-11-02T08:00:00", [24] * 5)
    write_session(d, "b.csv", "right", "2026-11-02T08:20:00", [20] * 6)
    (d / "a.truth.json").write_text("{}")  # not a session: ignored
    db = str(tmp_path / "h.sqlite")
    assert main(["import", str(d), "--db", db]) == 0
    assert "2 added, 0 already imported" in capsys.readouterr().out
    assert counts(db) == (2, 11)
    assert main(["import", str(d), "--db", db]) == 0
    assert "0 added, 2 already imported" in capsys.readouterr().out
    assert counts(db) == (2, 11)
    # the same content under another name is the same session
    (d / "copy-of-a.csv").write_bytes((d / "a.csv").read_bytes())
    assert main(["import", str(d), "--db", db]) == 0
    assert counts(db) == (2, 11)


def test_import_failing_halfway_leaves_the_database_as_it_was(tmp_path, stub_engine, monkeypatch):
    d = tmp_path / "s"
    d.mkdir()
    write_session(d, "a.csv", "left", "2026-11-02T08:00:00", [24] * 5)
    db = str(tmp_path / "h.sqlite")
    history.import_dir(str(d), db)
    before = counts(db)
    with open(db, "rb") as f:
        before_bytes = f.read()
    write_session(d, "b.csv", "left", "2026-11-03T08:00:00", [25] * 5)
    write_session(d, "c.csv", "right", "2026-11-03T08:10:00", [21] * 5)
    write_session(d, "d.csv", "right", "2026-11-04T08:10:00", [21] * 5)
    real = history._insert_session
    calls = []

    def failing(con, sess, day, src, now):
        calls.append(sess.path)
        if len(calls) == 2:   # the second new session: the first one is already written
            raise RuntimeError("disk pulled out")
        return real(con, sess, day, src, now)

    monkeypatch.setattr(history, "_insert_session", failing)
    with pytest.raises(RuntimeError):
        history.import_dir(str(d), db)
    assert len(calls) == 2
    assert counts(db) == before
    with open(db, "rb") as f:
        assert f.read() == before_bytes
    # and it goes through once the fault is gone
    monkeypatch.setattr(history, "_insert_session", real)
    res = history.import_dir(str(d), db)
    assert len(res.added) == 3 and counts(db) == (4, 20)


def test_unreadable_file_aborts_import_unless_skip_bad(tmp_path, stub_engine, capsys):
    d = tmp_path / "s"
    d.mkdir()
    write_session(d, "a.csv", "left", "2026-11-02T08:00:00", [24] * 5)
    (d / "broken.csv").write_text("t_ms,ax_g,ay_g\n1,2,3\n")  # a trace missing its gyro columns
    db = str(tmp_path / "h.sqlite")
    assert main(["import", str(d), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "broken.csv" in err and "nothing imported" in err and err.count("\n") == 1
    assert counts(db) == (0, 0)
    assert main(["import", str(d), "--db", db, "--skip-bad"]) == 1
    out = capsys.readouterr().out
    assert "skipped" in out and "broken.csv" in out and "1 added" in out
    assert counts(db) == (1, 5)


def test_damaged_session_is_imported_with_what_was_recovered(tmp_path, stub_engine, capsys):
    d = tmp_path / "s"
    d.mkdir()
    p = write_session(d, "cut.csv", "left", "2026-11-02T08:00:00", [24] * 5)
    with open(p, "a") as f:
        f.write("500,0.01,0.0")  # cut mid-line
    db = str(tmp_path / "h.sqlite")
    assert main(["import", str(d), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "note: " in out and "recovered the rest: 1 bad line(s) skipped" in out
    con = sqlite3.connect(db)
    notes = con.execute("SELECT notes FROM sessions").fetchone()[0]
    con.close()
    assert "recovered" in notes


def test_env_home_sets_the_default_database(tmp_path, monkeypatch):
    monkeypatch.setenv("HEELDROP_HOME", str(tmp_path / "home"))
    assert history.default_db() == str(tmp_path / "home" / "history.sqlite")
    monkeypatch.delenv("HEELDROP_HOME")
    assert history.default_db().endswith(os.path.join(".local", "share", "heeldrop", "history.sqlite"))


def make_weeks(tmp_path, stub_engine):
    """Three weeks: left improves 2 deg then 6 deg; right stays; one faulty session."""
    d = tmp_path / "s"
    d.mkdir()
    mon = datetime.date(2026, 10, 26)  # a Monday
    plan = [(0, 18.0, 24.0), (1, 18.5, 24.5), (7, 20.0, 24.0), (8, 20.0, 24.0), (14, 26.0, 24.0), (15, 26.0, 25.0)]
    for k, (day, left, right) in enumerate(plan):
        dt = (mon + datetime.timedelta(days=day)).isoformat()
        write_session(d, "L%d.csv" % k, "left", dt + "T07:00:00", [left] * 15)
        write_session(d, "R%d.csv" % k, "right", dt + "T07:10:00", [right] * (15 if k != 3 else 10),
                      bounces=1 if k == 3 else 0)
    db = str(tmp_path / "h.sqlite")
    history.import_dir(str(d), db)
    return db, mon


def test_progress_by_day_and_week_with_the_5_degree_flag(tmp_path, stub_engine):
    db, mon = make_weeks(tmp_path, stub_engine)
    con = history.connect(db)
    reps = history.load_reps(con)
    con.close()
    cfg = report.load_config(reps_per_side=15, hold_target_s=30)
    days, weeks = history.progress(reps, cfg, today=mon + datetime.timedelta(days=30))
    assert len(days) == 12 and len(weeks) == 6
    wl = [w for w in weeks if w["side"] == "left"]
    assert [w["median_depth_deg"] for w in wl] == [18.25, 20.0, 26.0]
    assert wl[0]["change_flag"] == "" and wl[0]["change_deg"] is None
    assert wl[1]["change_deg"] == pytest.approx(1.75) and wl[1]["change_flag"] == "within error"
    assert wl[2]["change_deg"] == pytest.approx(6.0) and wl[2]["change_flag"] == "real gain"
    wr = [w for w in weeks if w["side"] == "right"]
    assert all(not w["change_flag"].startswith("real") for w in wr)
    # adherence: 2 days of 15 reps out of 7 days; the faulty day did 10 of 15
    assert wl[0]["rep_adherence"] == pytest.approx(2 / 7)
    assert wr[1]["rep_adherence"] == pytest.approx((1 + 10 / 15) / 7)
    assert wr[1]["fault_rate"] == pytest.approx(10 / 25)
    assert wr[1]["valid_reps"] == 15 and wr[1]["reps"] == 25
    dl = [r for r in days if r["side"] == "left"]
    assert dl[0]["held_s"] == pytest.approx(15 * 31.0) and dl[0]["hold_adherence"] == 1.0
    assert dl[0]["rep_adherence"] == 1.0
    # --weeks limits to the last calendar weeks up to today
    days2, weeks2 = history.progress(reps, cfg, weeks=1, today=mon + datetime.timedelta(days=15))
    assert {w["start"] for w in weeks2} == {(mon + datetime.timedelta(days=14)).isoformat()}
    # the week in progress counts only the days so far
    assert [w["rep_adherence"] for w in weeks2 if w["side"] == "left"] == [pytest.approx(1.0)]


def test_a_loss_of_5_degrees_is_flagged_too():
    rows = []
    for day, dep in (("2026-11-02", 25.0), ("2026-11-09", 20.0)):
        for i in range(6):
            rows.append({"day": day, "path": day, "side": "left", "depth_deg": dep, "hold_s": 30.0,
                         "bounces": 0, "bounce": False, "fast_descent": False, "roll_out": False,
                         "snap_up": False, "twist": False, "no_hold": False, "faults": []})
    _d, w = history.progress(rows, report.load_config(), today=datetime.date(2026, 12, 1))
    assert w[1]["change_deg"] == pytest.approx(-5.0) and w[1]["change_flag"] == "real loss"


def test_history_cli_table_csv_parquet_and_plot(tmp_path, stub_engine, capsys):
    db, mon = make_weeks(tmp_path, stub_engine)
    out_csv = tmp_path / "p.csv"
    out_pq = tmp_path / "p.parquet"
    out_png = tmp_path / "p.png"
    assert main(["history", "--db", db, "--csv", str(out_csv), "--parquet", str(out_pq),
                 "--plot", str(out_png)]) == 0
    text = capsys.readouterr().out
    assert "By week" in text and "By day" in text and "real gain" in text and "+6.0" in text
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(history.PROGRESS_COLUMNS)
    assert len(rows) == 18 and {r["period"] for r in rows} == {"day", "week"}
    gain = [r for r in rows if r["change_flag"] == "real gain"]
    assert len(gain) == 1 and gain[0]["side"] == "left" and float(gain[0]["change_deg"]) == pytest.approx(6.0)
    import pyarrow.parquet as pq  # pinned in requirements-dev.txt (make setup installs it)

    t = pq.read_table(out_pq)
    assert t.column_names == list(history.PROGRESS_COLUMNS) and t.num_rows == 18
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_parquet_without_pyarrow_says_what_to_do(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *a, **kw):
        if name.startswith("pyarrow"):
            raise ImportError("No module named 'pyarrow'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(UserError) as e:
        history.write_parquet(str(tmp_path / "x.parquet"), [])
    assert "needs pyarrow" in str(e.value) and "--csv" in str(e.value)


def test_history_without_database_is_a_user_error(tmp_path, capsys):
    assert main(["history", "--db", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "heeldrop import DIR" in err and err.count("\n") == 1


def test_import_real_traces_and_logs_through_the_engine(tmp_path, capsys):
    """No stub: a trace CSV and a device session log, through the real engine and log reader."""
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace
    from reportkit import kinematic_trace, write_log

    d = tmp_path / "dl"
    d.mkdir()
    kinematic_trace(str(d / "left.csv"), [(24, 3, 8, 1.5)] * 5, side="left", started="2026-11-02T07:00:00")
    tr = read_trace(kinematic_trace(str(tmp_path / "r.csv"), [(18, 3, 8, 1.5)] * 5, side="right", seed=9))
    write_log(str(d / "S0002.bin"), tr, run_engine(tr, report.load_config(side="right")), side="right",
              started="2026-11-02T07:10:00")
    db = str(tmp_path / "h.sqlite")
    assert main(["import", str(d), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "2 added" in out
    con = sqlite3.connect(db)
    rows = con.execute("SELECT kind, side, day, date_source, n_reps FROM sessions ORDER BY side").fetchall()
    con.close()
    assert rows == [("trace", "left", "2026-11-02", "started", 5), ("log", "right", "2026-11-02", "started", 5)]
    assert main(["history", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "2026-11-02" in out


def test_symmetry_by_week_and_weeks_filter_keeps_the_change(tmp_path, stub_engine, capsys):
    db, mon = make_weeks(tmp_path, stub_engine)
    con = history.connect(db)
    reps = history.load_reps(con)
    con.close()
    cfg = report.load_config()
    _d, weeks = history.progress(reps, cfg, today=mon + datetime.timedelta(days=16))
    sym = history.symmetry_by_week(weeks)
    assert [(r["diff_deg"], r["verdict"], r["restricted"]) for r in sym] == [
        (pytest.approx(6.0), "meaningful", "left"), (pytest.approx(4.0), "borderline", "left"),
        (pytest.approx(1.5), "symmetric", "right")]  # right: 24 x15 and 25 x15
    _d, last = history.progress(reps, cfg, weeks=1, today=mon + datetime.timedelta(days=16))
    assert [r["change_flag"] for r in last if r["side"] == "left"] == ["real gain"]


def test_import_ignores_files_that_are_not_sessions(tmp_path, stub_engine, capsys):
    d = tmp_path / "s"
    d.mkdir()
    write_session(d, "a.csv", "left", "2026-11-02T08:00:00", [24] * 5)
    (d / "progress.csv").write_text("period,start,side\nday,2026-11-02,left\n")   # an export, not a trace
    (d / "build.log").write_text("some text log\n")
    (d / "notes.txt").write_text("hello\n")
    (d / ".hidden.csv").write_text("t_ms,ax_g\n")
    assert history.scan(str(d)) == [str(d / "a.csv")]


def _downloaded_session(tmp_path, d, uid="e66138528361a52c-5e55101d-7", name="pico-e66138528361a52c-5e55101d-7"):
    """A device session log with an identity, and the CSV a download writes beside it."""
    from heeldrop.download import write_csv
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace
    from reportkit import kinematic_trace, write_log

    tr = read_trace(kinematic_trace(str(tmp_path / ("k%s.csv" % name)), [(22, 3, 8, 1.5)] * 5, side="left", seed=3))
    hdl = str(d / (name + ".hdl"))
    write_log(hdl, tr, run_engine(tr, report.load_config(side="left")), side="left",
              started="2026-11-03T07:10:00", uid=uid)
    assert write_csv(hdl, hdl[:-4] + ".csv") is None
    return hdl


def test_a_session_is_counted_once_whatever_files_carry_it(tmp_path, capsys):
    # issue 13.8: download writes .hdl + .csv; a cut download leaves a .part
    d = tmp_path / "dl"
    d.mkdir()
    hdl = _downloaded_session(tmp_path, d)
    with open(hdl, "rb") as f:
        (d / "pico-e66138528361a52c-5e55101d-9.hdl.part").write_bytes(f.read()[:3000])
    db = str(tmp_path / "h.sqlite")
    assert main(["import", str(d), "--db", db]) == 0
    out = capsys.readouterr().out
    assert "1 added, 1 already imported" in out and "counted once" in out
    assert ".part" not in out
    con = sqlite3.connect(db)
    rows = con.execute("SELECT kind, uid, n_reps FROM sessions").fetchall()
    con.close()
    assert rows == [("log", "e66138528361a52c-5e55101d-7", 5)]
    assert counts(db) == (1, 5)
    # a second folder with only the CSV of the same session: still one
    d2 = tmp_path / "other"
    d2.mkdir()
    (d2 / "copy.csv").write_bytes(open(hdl[:-4] + ".csv", "rb").read() + b"\n")
    assert main(["import", str(d2), "--db", db]) == 0
    assert counts(db) == (1, 5)


def test_concurrent_imports_are_idempotent(tmp_path):
    # the other import commits between this one's look at the database and
    # its write: no "UNIQUE constraint failed", each session once
    d = tmp_path / "dl"
    d.mkdir()
    _downloaded_session(tmp_path, d)
    _downloaded_session(tmp_path, d, uid="e66138528361a52c-5e55101d-8", name="pico-e66138528361a52c-5e55101d-8")
    db = str(tmp_path / "h.sqlite")
    history.connect(db).close()
    state = {"other": False}

    def load(p, config):
        if not state["other"]:
            state["other"] = True
            r2 = history.import_dir(str(d), db)  # the concurrent import, start to end
            assert len(r2.added) == 2
        return report.load_session(p, config)

    res = history.import_dir(str(d), db, load=load)
    assert res.added == [] and len(res.duplicates) == 4
    assert counts(db) == (2, 10)


def test_report_counts_the_hdl_and_csv_of_one_session_once(tmp_path, capsys):
    d = tmp_path / "dl"
    d.mkdir()
    hdl = _downloaded_session(tmp_path, d)
    assert main(["report", hdl, hdl[:-4] + ".csv"]) == 0
    out = capsys.readouterr().out
    assert "same session" in out
    a = report.make_report([hdl], out=None)
    b = report.make_report([hdl, hdl[:-4] + ".csv"], out=None)
    assert len(b.sessions) == len(a.sessions) == 1
