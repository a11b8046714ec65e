"""heeldrop replay: the contract output, the engines' agreement and bad input."""
import json
import os

from heeldrop.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "tests", "traces", "demo_session.csv")
CONTRACT = {"calibrated", "calibration_failed", "rep_start", "descent_too_fast", "hold_start", "hold_tick",
            "hold_target", "bounce", "roll_out", "twist", "rise_start", "snap_up", "rep_end", "reset_ready",
            "summary", "side", "rep_cancel"}
REP_END = ["start_ms", "end_ms", "depth_deg", "hold_s", "descent_s", "rise_s", "descent_speed_dps",
           "rise_speed_dps", "bounces", "max_roll_deg", "fast_descent", "roll_out", "snap_up", "twist", "no_hold"]


def test_jsonl_is_the_contract(capsys):
    assert main(["replay", DEMO]) == 0
    lines = capsys.readouterr().out.splitlines()
    evs = [json.loads(x) for x in lines]
    assert evs[-1]["type"] == "summary"
    assert all(e["type"] in CONTRACT for e in evs)
    ends = [e for e in evs if e["type"] == "rep_end"]
    assert len(ends) >= 10
    for e in ends:
        assert all(k in e for k in REP_END), e
    assert evs[-1]["sides"]["left"]["reps"] >= 5 and evs[-1]["sides"]["right"]["reps"] >= 5


def test_micropython_engine_prints_the_same_lines(capsys):
    assert main(["replay", DEMO]) == 0
    a = capsys.readouterr().out
    assert main(["replay", "--engine", "micropython", DEMO]) == 0
    b = capsys.readouterr().out
    assert a == b and a.count("rep_end") >= 10


def test_table_format(capsys):
    assert main(["replay", "--format", "table", DEMO]) == 0
    out = capsys.readouterr().out
    assert "rep_end" in out and "depth" in out and "reps:" in out


def test_malformed_file_one_line_exit_2(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    p.write_text("t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n0,0,0,1,0,0,0\n10,0,zero,1,0,0,0\n")
    assert main(["replay", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv:3" in err and "ay_g" in err


def test_missing_file(tmp_path, capsys):
    assert main(["replay", str(tmp_path / "nope.csv")]) == 2
    err = capsys.readouterr().err
    assert "nope.csv" in err and err.count("\n") == 1


def test_no_still_start_says_why_and_reports_what_it_can(tmp_path, capsys):
    rows = ["t_ms,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps"]
    for i in range(1500):
        k = (i * 7919) % 97 - 48
        rows.append("%d,%.4f,%.4f,%.4f,%.2f,%.2f,%.2f" % (i * 10, k / 300, k / 500, 1 + k / 400, k * 2.0, -k * 1.5, k))
    p = tmp_path / "moving.csv"
    p.write_text("\n".join(rows) + "\n")
    assert main(["replay", str(p)]) == 0
    cap = capsys.readouterr()
    assert "calibration could not complete" in cap.err and "still" in cap.err
    evs = [json.loads(x) for x in cap.out.splitlines()]
    assert evs[-1]["type"] == "summary" and evs[-1]["calibrated"] is False
    assert any(e["type"] == "calibration_failed" for e in evs)


def test_bad_config_file(tmp_path, capsys):
    c = tmp_path / "c.json"
    c.write_text('{"hold_target_s": 999}')
    assert main(["replay", "--config", str(c), DEMO]) == 2
    err = capsys.readouterr().err
    assert "hold_target_s" in err and err.count("\n") == 1
