"""heeldrop replay: the contract output, the engines' agreement and bad input."""
import json
import os
import re

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


# ------------------------------------------------------------ big files, progress, the table

def _big(tmp_path, n):
    from heeldrop.bench_big import big_trace
    return big_trace(n, path=str(tmp_path / ("big-%d.csv" % n)))


def peak_rss_mb(argv):
    """(exit code, peak RSS in MB) of `heeldrop ARGV` in its own process (os.wait4)."""
    import subprocess
    import sys
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    p = subprocess.Popen([exe] + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _pid, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, ru.ru_maxrss / 1024.0, out.decode()


def test_replay_memory_does_not_grow_with_the_trace(tmp_path):
    """The trace is read a block at a time while the engine runs: the peak RSS for a trace 4 times
    as long (100 000 samples, 5 MB) stays within 15 % (before: every sample was held, as floats
    and again as counts: +70 MB here). Seconds and peak RSS for 4 million samples: make bench (big_*)."""
    peaks, reps = [], []
    for n in (25_000, 100_000):
        rc, mb, out = peak_rss_mb(["replay", _big(tmp_path, n)])
        assert rc == 0
        peaks.append(mb)
        reps.append(json.loads(out.splitlines()[-1])["reps"])
    assert reps[1] >= 3 * reps[0] > 0, reps  # it did read the whole of both
    assert peaks[1] < 1.15 * peaks[0], peaks


def _run_on_pty(argv, env):
    """(exit code, what the command wrote to stderr, a terminal)."""
    import pty
    import subprocess
    import sys
    master, slave = pty.openpty()
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    p = subprocess.Popen([exe] + argv, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    return p.wait(), b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal_only(tmp_path):
    """A bar on stderr when it is a terminal and the work takes long enough (the delay, 2 s, set to 0
    here); nothing at all on a pipe. The events on stdout are the same either way."""
    import subprocess
    import sys
    path = _big(tmp_path, 40_000)
    env = dict(os.environ, HEELDROP_PROGRESS_DELAY="0", COLUMNS="100")
    rc, err = _run_on_pty(["replay", path], env)
    assert rc == 0 and "replay big-40000.csv" in err and "%" in err, err[-500:]
    exe = os.path.join(os.path.dirname(sys.executable), "heeldrop")
    r = subprocess.run([exe, "replay", path], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.count("rep_end") > 5
    rc, err = _run_on_pty(["replay", path], dict(env, HEELDROP_PROGRESS_DELAY="1000"))
    assert rc == 0 and err == ""


def test_table_leaves_out_the_hold_ticks(capsys):
    assert main(["replay", "--format", "table", DEMO]) == 0
    table = capsys.readouterr().out
    assert main(["replay", DEMO]) == 0
    ticks = sum(1 for x in capsys.readouterr().out.splitlines() if '"hold_tick"' in x)
    assert ticks > 100
    assert not re.search(r"^ *[0-9.]+ +[0-9]+  hold_tick", table, re.M) and "%d hold_tick events" % ticks in table
    assert table.count("rep_end") == 12
