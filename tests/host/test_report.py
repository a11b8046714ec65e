"""heeldrop report: symmetry rule, tables, tips, self-contained HTML, bad input."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from reportkit import set_events  # noqa: E402

from heeldrop import report  # noqa: E402
from heeldrop.cli import main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUIDE = os.path.join(ROOT, "docs", "EXERCISE.md")  # the project's own exercise guide


def cfg(**kw):
    return report.load_config(**kw)


def two_sides(left, right, **flags):
    evs = set_events(left, side="left", hold=31.0, **flags)
    t = evs[-1]["t_ms"] + 5000
    evs += set_events(right, side="right", first_rep=len(left) + 1, t0=t, hold=31.0)[1:]
    return report.Session(evs, path="both.csv", kind="trace")


# ---------------------------------------------------------------- the 5 degree rule

@pytest.mark.parametrize("left,right,verdict,restricted", [
    ([24.0] * 5, [22.0] * 5, "symmetric", "right"),          # 2.0
    ([24.0] * 5, [21.01] * 5, "symmetric", "right"),         # 2.99
    ([24.0] * 5, [21.0] * 5, "borderline", "right"),         # exactly 3
    ([20.0] * 6, [24.9] * 6, "borderline", "left"),          # 4.9
    ([20.0] * 5, [25.0] * 5, "meaningful", "left"),          # exactly 5
    ([30.0] * 7, [18.0] * 5, "meaningful", "right"),         # 12
    ([22.0] * 5, [22.0] * 5, "symmetric", None),
])
def test_symmetry_rule(left, right, verdict, restricted):
    s = report.symmetry(left, right)
    assert s["verdict"] == verdict
    assert s["enough"]
    assert s["restricted"] == restricted
    assert s["diff_deg"] == pytest.approx(abs(statistics_median(left) - statistics_median(right)))
    if verdict == "meaningful":
        assert "Spend extra time on the restricted side: the %s side" % restricted in s["message"]
    else:
        assert "Spend extra time" not in s["message"]


def statistics_median(xs):
    import statistics

    return statistics.median(xs)


def test_symmetry_uses_medians_not_means():
    # one outlier rep does not move the median
    s = report.symmetry([24, 24, 24, 24, 40], [23, 23, 23, 23, 23])
    assert s["diff_deg"] == pytest.approx(1.0)
    assert s["verdict"] == "symmetric"


def test_lsi_is_shallower_over_deeper():
    s = report.symmetry([20.0] * 5, [25.0] * 5)
    assert s["lsi"] == pytest.approx(80.0)
    s = report.symmetry([25.0] * 5, [20.0] * 5)
    assert s["lsi"] == pytest.approx(80.0) and s["restricted"] == "right"


def test_symmetry_too_few_reps_is_not_judged():
    s = report.symmetry([20.0] * 4, [27.0] * 9)
    assert s["verdict"] == "too_few" and not s["enough"]
    assert s["judged_as"] == "meaningful"
    assert "Fewer than 5 valid reps on the left side (left 4)" in s["message"]
    assert s["diff_deg"] == pytest.approx(7.0)  # still shown


def test_symmetry_one_side_or_none():
    assert report.symmetry([20.0] * 6, [])["verdict"] == "one_side"
    assert "record the right side" in report.symmetry([20.0] * 6, [])["message"]
    assert report.symmetry([], [])["verdict"] == "none"


# ---------------------------------------------------------------- analysis and tables

def test_sides_follow_side_events_and_valid_reps_exclude_depth_faults():
    evs = set_events([24, 25, 23, 26, 24], side="left")
    t = evs[-1]["t_ms"] + 4000
    evs += set_events([18, 19], side="right", first_rep=6, t0=t)[1:]
    t = evs[-1]["t_ms"] + 4000
    evs += set_events([30, 31], first_rep=8, t0=t, bounces=2)[1:]          # still right, bounced
    t = evs[-1]["t_ms"] + 4000
    evs += set_events([17, 18, 19], first_rep=10, t0=t, fast_descent=True)[1:]  # too fast
    t = evs[-1]["t_ms"] + 4000
    evs += set_events([18.5, 19.5, 20], first_rep=13, t0=t, snap_up=True)[1:]  # snap-up keeps depth valid
    a = report.analyse([report.Session(evs, path="s.csv")], cfg())
    L, R = a.sides["left"], a.sides["right"]
    assert (L["reps"], L["valid_reps"]) == (5, 5)
    assert (R["reps"], R["valid_reps"]) == (10, 5)
    assert R["median_depth_deg"] == pytest.approx(19.0)   # 18, 19, 18.5, 19.5, 20
    assert R["fault_counts"]["bounce"] == 2 and R["fault_counts"]["fast_descent"] == 3
    assert R["fault_counts"]["snap_up"] == 3
    assert R["fault_rate"] == pytest.approx(0.8)
    assert a.symmetry["verdict"] == "meaningful" and a.symmetry["restricted"] == "right"
    assert a.symmetry["diff_deg"] == pytest.approx(5.0)


def test_hold_adherence_and_time_held():
    evs = set_events([24] * 4, side="left", hold=31.0)
    t = evs[-1]["t_ms"] + 4000
    evs += set_events([24] * 2, first_rep=5, t0=t, hold=12.0)[1:]
    a = report.analyse([report.Session(evs, path="h.csv")], cfg(hold_target_s=30.0, reps_per_side=10))
    L = a.sides["left"]
    assert L["held_s"] == pytest.approx(4 * 31 + 2 * 12)
    assert L["hold_reached"] == 4 and L["hold_adherence"] == pytest.approx(4 / 6)
    assert L["rep_adherence"] == pytest.approx(0.6)
    text = report.render_text(a)
    assert "reps 6/10" in text and "holds \u2265 30s 67%" in text


def test_rep_table_rows():
    evs = set_events([24.25], side="right", bounces=3, hold=31.0)
    a = report.analyse([report.Session(evs, path="t.csv")], cfg())
    heads, rows, cls = report.rep_rows(a)
    assert heads[:5] == ["session", "side", "rep", "depth", "hold"]
    row = dict(zip(heads, rows[0]))
    assert row["side"] == "right" and row["rep"] == 1
    assert row["depth"] == "24.2\u00b0" or row["depth"] == "24.3\u00b0"
    assert row["hold"] == "31.0 s" and row["descent"] == "3.0 s"
    assert row["bounces"] == 3 and row["faults"] == "bounce x3" and row["valid"] == "no"
    assert cls == ["fault"]


def test_tips_are_the_guides_words_for_each_fault_seen():
    with open(GUIDE, encoding="utf-8") as f:
        guide = " ".join(f.read().split())
    for fault, tips in report.TIPS.items():
        assert fault in report.FAULTS
        for tip in tips:
            assert tip in guide, (fault, tip)
    assert report.ASYMMETRY_TIP in guide
    assert set(report.TIPS) == set(report.FAULTS)

    evs = set_events([24, 25], side="left", roll_out=True, twist=True)
    a = report.analyse([report.Session(evs, path="x.csv")], cfg())
    labels = [t[0] for t in a.tips()]
    assert labels == ["roll-out", "twist"]
    assert "if the ankle tips toward the little toe" in report.render_text(a)


def test_meaningful_asymmetry_adds_the_guides_restricted_side_tip():
    a = report.analyse([two_sides([26] * 5, [19] * 5)], cfg())
    labels = [t[0] for t in a.tips()]
    assert labels == ["restricted right side"]


# ---------------------------------------------------------------- HTML

def test_html_is_self_contained_escaped_and_responsive(tmp_path):
    s = two_sides([26, 25, 27, 26, 25], [19, 20, 18, 19, 21])
    s.path = "<b>evil & \"name\".csv"
    s.notes.append("<script>alert(1)</script>")
    a = report.analyse([s], cfg())
    page = report.render_html(a)
    # nothing fetched from anywhere: no URL in any src/href, no link/import
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "@import" not in page
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(imgs) == 2 and all(i.startswith("data:image/png;base64,") for i in imgs)
    phone = re.findall(r'<source media="\(max-width: 640px\)" srcset="([^"]+)"', page)
    assert len(phone) == 2 and all(i.startswith("data:image/png;base64,") for i in phone)
    # escaped text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;evil &amp; &quot;name&quot;.csv" in page
    # phone layout: viewport, tables in their own box (the browser test measures them), figures scale
    assert 'name="viewport" content="width=device-width' in page
    assert page.count('<div class="scroll') == 2 and '<table class="cards">' in page
    assert "figure img{display:block;width:100%" in page
    # the headline
    assert "7.0\u00b0</span> difference" in page and "LSI 73%" in page
    assert "Spend extra time on the restricted side: the right side." in page


def test_cli_report_writes_html_png_and_text(tmp_path, monkeypatch, capsys):
    evs = set_events([24, 25, 26, 24, 25], side="left", hold=31.0)
    monkeypatch.setattr(report, "run_trace", lambda trace, config: (evs, None))
    trace = tmp_path / "left.csv"
    trace.write_text("# side=left\nt_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" +
                     "".join("%d,0,0,1,0,0,0\n" % (10 * i) for i in range(20000)))
    out = tmp_path / "r" / "report.html"
    png = tmp_path / "png"
    assert main(["report", str(trace), "--html", str(out), "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert "left   reps 5/15  valid 5  median depth 25.0\u00b0" in text
    assert "Only the left side has valid reps" in text
    assert out.exists() and "<!DOCTYPE html>" in out.read_text()
    assert sorted(os.listdir(png)) == ["reps-phone.png", "reps.png", "timeline-left-phone.png", "timeline-left.png"]
    assert (png / "reps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_truncated_trace_is_reported_with_what_was_recovered(tmp_path, monkeypatch, capsys):
    evs = set_events([24, 25], side="left", hold=31.0)
    monkeypatch.setattr(report, "run_trace", lambda trace, config: (evs, None))
    rows = "".join("%d,0.01,0.02,0.99,0.1,0.2,0.3\n" % (10 * i) for i in range(3000))
    p = tmp_path / "cut.csv"
    # a garbled line in the middle and a last line cut by a power loss
    body = rows.replace("15000,0.01", "15000,0.0#!1", 1) + "30000,0.01,0.0"
    p.write_text("# side=left\nt_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n" + body)
    assert main(["report", str(p)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"note: .*cut\.csv:\d+: .*recovered the rest: 2 bad line\(s\) skipped \(line \d+, \d+\), "
                     r"2999 samples read", text), text


def test_bad_inputs_are_one_line_user_errors(tmp_path, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01\x02garbage")
    missing = tmp_path / "nope.csv"
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("time,x,y\n1,2,3\n")
    for path in (missing, nocols, tmp_path):
        code = main(["report", str(path)])
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.count("\n") == 1 and "Traceback" not in err and str(path) in err
    bad_cfg = tmp_path / "c.json"
    bad_cfg.write_text('{"hold_target_s": 1000}')
    assert main(["report", str(nocols), "--config", str(bad_cfg)]) == 2
    assert "hold_target_s" in capsys.readouterr().err


def test_timeline_uses_depth_trace_when_given():
    evs = set_events([24], side="left", hold=5.0)
    t = list(range(0, 15000, 10))
    d = [min(24.0, max(0.0, (x - 2000) / 125.0)) if x < 11000 else max(0.0, 24 - (x - 11000) / 50.0) for x in t]
    s = report.Session(evs, path="d.csv", depth=(t, d))
    a = report.analyse([s], cfg())
    figs = report.figures(a)
    assert [f[0] for f in figs] == ["timeline-d.png", "reps.png"]
    assert all(f[2][:4] == b"\x89PNG" and f[3][:4] == b"\x89PNG" for f in figs)


def test_long_session_timeline_splits_into_panels():
    evs = []
    t = 2000
    for i in range(40):
        evs += set_events([24], first_rep=i + 1, t0=t, hold=30.0)[1:]
        t = evs[-1]["t_ms"] + 3000
    s = report.Session(evs, path="long.csv")
    fig = report.timeline_figure(s, s.reps())
    assert len(fig.axes) == report.n_panels(s.duration_s, report.PANEL_S) >= 5
    fig = report.timeline_figure(s, s.reps(), "phone")
    assert len(fig.axes) == report.n_panels(s.duration_s, report.LAYOUTS["phone"][1]) >= 8
    assert report.n_panels(121, 120) == 1 and report.n_panels(133, 120) == 2 and report.n_panels(50, 120) == 1


# ---------------------------------------------------------------- real engine, session logs

def _real_trace(tmp_path, name="left.csv", side="left", depth=24.0, n=6):
    from reportkit import kinematic_trace

    return kinematic_trace(str(tmp_path / name), [(depth, 3, 8, 1.5)] * n, side=side, seed=n)


def test_trace_goes_through_the_real_engine_with_a_depth_curve(tmp_path):
    p = _real_trace(tmp_path)
    s = report.load_session(p, cfg())
    assert s.kind == "trace" and s.side == "left"
    reps = s.reps()
    assert len(reps) == 6
    assert all(abs(r["depth_deg"] - 24.0) < 2.5 for r in reps)
    assert s.depth is not None and len(s.depth[0]) == len(s.depth[1]) > 1000


def test_session_log_uses_its_recorded_events(tmp_path):
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace
    from reportkit import write_log

    tr = read_trace(_real_trace(tmp_path))
    events = run_engine(tr, cfg(side="left"))
    # mark the recorded events so we can tell they were used, not replayed
    for e in events:
        if e["type"] == "rep_end":
            e["depth_deg"] = 30.5
    log = tmp_path / "S0001.hdl"
    write_log(str(log), tr, events)
    assert report.detect_kind(str(log)) == "log"
    s = report.load_session(str(log), cfg())
    assert s.kind == "log" and s.started == "2026-11-02T07:30:00"
    assert [r["depth_deg"] for r in s.reps()] == [30.5] * 6
    assert s.depth is not None  # the figure's curve comes from the log's samples
    assert not s.notes


def test_truncated_session_log_reports_what_was_recovered(tmp_path, capsys):
    from heeldrop.replay import run_engine
    from heeldrop.traceio import read_trace
    from reportkit import write_log

    tr = read_trace(_real_trace(tmp_path))
    events = run_engine(tr, cfg(side="left"))
    data = write_log(str(tmp_path / "full.hdl"), tr, events, close=False)
    cut = tmp_path / "cut.hdl"
    cut.write_bytes(data[: int(len(data) * 0.6) + 3])  # power cut mid-record
    assert main(["report", str(cut), "--html", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    m = re.search(r"note: .*cut\.hdl: damaged session log: file ends inside a record at offset \d+ "
                  r"\(\d+ bytes lost\); recovered (\d+) samples \((\d+:\d\d)\), (\d+) events, (\d) reps", out)
    assert m, out
    assert 0 < int(m.group(1)) < len(tr.t_ms)
    n_reps = int(m.group(4))
    assert 1 <= n_reps < 6
    assert "reps %d/15" % n_reps in out
    page = (tmp_path / "r.html").read_text()
    assert "damaged session log" in page


def test_session_log_with_garbage_inside_and_no_events(tmp_path, capsys):
    from heeldrop.traceio import read_trace
    from reportkit import write_log

    tr = read_trace(_real_trace(tmp_path))
    data = bytearray(write_log(str(tmp_path / "x.hdl"), tr, []))
    mid = len(data) // 2
    data[mid:mid + 40] = b"\xff" * 40
    bad = tmp_path / "bad.hdl"
    bad.write_bytes(bytes(data))
    assert main(["report", str(bad)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"damaged session log: skipped \d+ bytes at offset \d+", out), out
    assert "no events recorded in the log; replayed its samples through the engine" in out
    assert re.search(r"left +reps [56]/15", out), out


def test_not_a_session_log(tmp_path, capsys):
    p = tmp_path / "x.hdl"
    p.write_bytes(b"NOPE" + b"\x00" * 50)
    assert main(["report", str(p)]) == 2
    err = capsys.readouterr().err
    assert "x.hdl" in err and "session log" in err and err.count("\n") == 1


def test_side_switch_metadata_switches_the_engine_side(tmp_path):
    from reportkit import kinematic_trace

    p = kinematic_trace(str(tmp_path / "both.csv"), [(24, 3, 8, 1.5)] * 6, side="left", rest_s=8.0)
    text = open(p).read()
    # rep 3 is back at the top at 4 + 3 * 20.5 - 8 = 57.5 s; the foot then stands still for 8 s:
    # switch sides 1 s into that (the engine recalibrates on the still foot)
    with open(p, "w") as f:
        f.write("# side_switch_ms=58500\n" + text)
    s = report.load_session(p, cfg())
    assert [r["side"] for r in s.reps()] == ["left"] * 3 + ["right"] * 3
    assert any(e["type"] == "side" and e["side"] == "right" for e in s.events)


def test_each_tip_is_shown_once_under_every_fault_it_answers():
    evs = set_events([24, 25], side="left", twist=True, snap_up=True)
    a = report.analyse([report.Session(evs, path="x.csv")], cfg())
    groups = a.tip_groups()
    texts = [t for _l, ts in groups for t in ts]
    assert len(texts) == len(set(texts))
    assert groups == [(["twist (2 reps)", "snap-up (2 reps)"], [report.TIPS["twist"][0]]),
                      (["twist (2 reps)"], [report.TIPS["twist"][1]]),
                      (["snap-up (2 reps)"], [report.TIPS["snap_up"][1]])]
    text = report.render_text(a)
    assert "tip (twist (2 reps), snap-up (2 reps)): Push through the ball of the foot" in text


def test_figures_drawn_by_the_worker_pool_equal_inline_ones():
    evs = set_events([24, 25, 23], side="left", hold=8.0)
    a = report.analyse([report.Session(evs, path="p.csv")], cfg())
    inline = report.figures(a)
    pool = report.FigurePool().start()
    try:
        pooled = report.figures(a, pool=pool)
    finally:
        pool.close()
    assert [f[0] for f in pooled] == [f[0] for f in inline]
    assert all(p[2][:4] == b"\x89PNG" and p[3][:4] == b"\x89PNG" for p in pooled)
    assert [len(p[2]) > 1000 for p in pooled] == [True, True]


def test_cancelled_reps_are_noted_not_counted_and_their_number_reused():
    evs = set_events([24], side="left", hold=8.0)
    t = evs[-1]["t_ms"] + 2000
    evs += [{"type": "rep_start", "t_ms": t, "rep": 2, "onset_ms": t - 200},
            {"type": "hold_start", "t_ms": t + 3000, "rep": 2, "depth_deg": 20.0},
            {"type": "hold_target", "t_ms": t + 4000, "rep": 2, "hold_s": 30.0},
            {"type": "rep_cancel", "t_ms": t + 5000, "rep": 2, "reason": "stepped off"}]
    evs += set_events([25], first_rep=2, t0=t + 9000, hold=8.0)[1:]
    s = report.Session(evs, path="c.csv")
    reps = s.reps()
    assert [r["rep"] for r in reps] == [1, 2] and [r["depth_deg"] for r in reps] == [24, 25]
    assert not reps[1]["hold_target_reached"]   # the abandoned attempt's event does not count
    assert s.incomplete_reps() == []
    assert s.cancelled() == [(t + 5000, "stepped off")]


def test_bench_report_times_a_whole_report(tmp_path):
    p = _real_trace(tmp_path, n=2)
    secs = report.bench_report(p)
    assert isinstance(secs, float) and 0 < secs < 60


def test_config_file_sets_the_prescription(tmp_path, capsys):
    p = _real_trace(tmp_path, n=3)
    c = tmp_path / "physio.json"
    c.write_text("{\"hold_target_s\": 8, \"reps_per_side\": 3}")
    assert main(["report", p, "--config", str(c)]) == 0
    out = capsys.readouterr().out
    assert "reps 3/3" in out and "holds \u2265 8s 100%" in out


# ---------------------------------------------------------------- gaps in time, big files (items 12, 13)

def _shifted_trace(tmp_path, name, gap_ms, at_rep=3):
    """A real trace (6 reps) with every sample after the middle of rep `at_rep`'s hold moved gap_ms later."""
    from heeldrop.traceio import read_trace, write_trace

    tr = read_trace(_real_trace(tmp_path, name="src-" + name))
    cut = int((4.0 + (at_rep - 1) * 15.5 + 3 + 4) * 100)  # still 4 s, reps of 3 + 8 + 1.5 + 3 s: mid-hold
    t = tr.t_ms[:cut] + [x + gap_ms for x in tr.t_ms[cut:]]
    p = str(tmp_path / name)
    write_trace(p, {"t_ms": t, "ax": tr.ax, "ay": tr.ay, "az": tr.az, "gx": tr.gx, "gy": tr.gy, "gz": tr.gz}, tr.meta)
    return p, tr.t_ms[cut - 1], tr.t_ms[cut] + gap_ms


def test_a_huge_jump_in_time_is_a_gap_not_a_million_seconds_of_figure(tmp_path):
    """A 10^9 ms jump (before: 3,333 panels of 5 min, past 300 s): the time axis cuts the gap out,
    so the figure has as many panels as without it; the notes and the figure say there was a gap."""
    p, a, b = _shifted_trace(tmp_path, "jump.csv", 10 ** 9)
    axis = report.TimeAxis(0, b + 60000, [(a, b)])
    assert axis.total_s < (b + 60000 - 10 ** 9) / 1000.0 + report.BREAK_S + 1
    s = report.load_session(p, cfg())
    assert s.gaps == [(a, b)]
    assert any("1 gap(s)" in n and "11 days 13 h" in n for n in s.notes), s.notes
    fig = report.timeline_figure(s, s.reps())
    assert len(fig.axes) == 1
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "gap 11 days 13 h" in texts
    assert "no data (gap)" in [t.get_text() for t in fig.legends[0].get_texts()]
    html = tmp_path / "r.html"
    assert main(["report", p, "--html", str(html)]) == 0


def test_the_timeline_is_bounded_whatever_the_timestamps():
    """Panels and points do not grow with the span of time: many gaps, a long session, one curve of
    a million points: at most MAX_PANELS panels and MAX_POINTS_PER_PANEL points (+ breaks) in each."""
    import numpy as np

    evs = set_events([24, 25, 26], side="left", hold=10.0)
    t = np.arange(0, 10 ** 6) * 10.0
    t[500_000:] += 3.6e6 * 24  # a day without data in the middle
    for k in range(1, 400):     # and 400 small ones
        t[k * 1000:] += 40_000
    d = 10 + 10 * np.sin(t / 3000.0)
    gaps = [(float(t[i - 1]), float(t[i])) for i in np.nonzero(np.diff(t) > report.GAP_MS)[0] + 1]
    s = report.Session(evs, path="long.csv", depth=(t.tolist(), d.tolist()), gaps=gaps)
    for layout in ("wide", "phone"):
        fig = report.timeline_figure(s, s.reps(), layout)
        assert len(fig.axes) <= report.MAX_PANELS[layout]
        for ax in fig.axes:
            n = max(len(line.get_xdata()) for line in ax.get_lines())
            assert n <= report.MAX_POINTS_PER_PANEL + len(gaps) + 10, n


def test_a_gap_inside_a_rep_is_shown_in_its_row_and_the_notes(tmp_path):
    p, a, b = _shifted_trace(tmp_path, "gap60.csv", 60_000)
    s = report.load_session(p, cfg())
    rows = report.rep_rows(report.analyse([s], cfg()))[1]
    gapped = [r for r in rows if "no data for 1 min 00 s inside" in r[-1]]
    interrupted = [r for r in s.reps() if r["interrupted"]]
    assert len(gapped) + len(interrupted) >= 1, rows
    assert any("gap" in n for n in s.notes), s.notes


def test_envelope_keeps_every_peak_in_bounded_memory():
    import math

    env = report.Envelope()
    n = 3_000_000
    spikes = {123_456: 88.0, 2_500_001: -40.0}
    for i in range(n):
        y = 20.0 + 5.0 * math.sin(i / 500.0) if i >= 1000 else float("nan")
        env.add_t(float(i * 10))
        env.add_y(spikes.get(i, y))
        if i % 50_000 == 49_999:
            env.flush()
    t, y = env.curve()
    assert len(t) <= 2 * report.Envelope.MAX_BUCKETS and env.samples == n
    assert all(b >= a for a, b in zip(t, t[1:]))
    finite = [v for v in y if v == v]
    assert max(finite) == 88.0 and min(finite) == -40.0
    assert t[y.index(88.0)] == 1_234_560.0
    assert y[0] != y[0]  # the depth is not known at first: the curve starts with a break


def test_report_memory_does_not_grow_with_the_trace(tmp_path):
    """Peak RSS of `heeldrop report --html` for a trace 4 times as long (100 000 samples) within
    15 % (before: every sample held, +70 MB here). Seconds, memory and HTML size for 4 million
    samples: make bench (big_*)."""
    import subprocess
    from heeldrop.bench_big import big_trace

    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    peaks = []
    for n in (25_000, 100_000):
        path = big_trace(n, path=str(tmp_path / ("big-%d.csv" % n)))
        p = subprocess.Popen([exe, "report", path, "--html", str(tmp_path / "r.html")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _pid, status, ru = os.wait4(p.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, err
        peaks.append(ru.ru_maxrss / 1024.0)
    assert peaks[1] < 1.15 * peaks[0], peaks


@pytest.mark.parametrize("layout", ["wide", "phone"])
def test_no_legend_covers_a_point_or_a_bar(layout):
    """The legends of 'Depth per rep' and 'Hold per rep' sit outside the plotting area (before: over
    the points at the lower right): no marker, bar or target line is under a legend."""
    evs = set_events([24, 22, 27, 21, 26, 23, 28, 20], side="left", hold=31.0)
    t = evs[-1]["t_ms"] + 5000
    evs += set_events([19, 29, 18, 30, 21, 25, 17, 24], side="right", first_rep=9, t0=t, hold=12.0)[1:]
    a = report.analyse([report.Session(evs, path="s.csv")], cfg())
    fig = report.reps_figure(a, layout)
    fig.canvas.draw()
    for ax in fig.axes:
        legend = ax.get_legend()
        assert legend is not None
        box = legend.get_window_extent()
        assert not box.overlaps(ax.get_window_extent()), "the legend is over the plot in %s" % ax.get_title()
        for line in ax.get_lines():
            xy = ax.transData.transform(line.get_xydata())
            assert not any(box.contains(x, y) for x, y in xy), ax.get_title()
        for patch in ax.patches:
            assert not box.overlaps(patch.get_window_extent()), ax.get_title()
