"""Every corpus trace gives byte-identical events from CPython, from the
MicroPython unix port (the same heelcore source in both), and from a model
of a board's arithmetic (single-precision floats, 32-bit viper integers:
tests/host/boardmodel.py); on any 64-bit timestamp too."""
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

import boardmodel
from heelcore.events import to_json
from heeldrop.replay import run_engine, run_engine_micropython, scales, to_counts
from heeldrop.synth.corpus import ensure_corpus
from heeldrop.traceio import Trace, read_trace

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "build", "corpus")


# path -> CPython's event lines, once a session: the 64- and 32-bit port
# tests compare the same traces with them
_HOST = {}


def _host_lines(path, tr):
    if path not in _HOST:
        _HOST[path] = [to_json(e) for e in run_engine(tr)]
    return _HOST[path]


def _compare(name):
    path = os.path.join(CORPUS, name + ".csv")
    tr = read_trace(path)
    a = _host_lines(path, tr)
    b = run_engine_micropython(tr)
    return name, a, b


def test_every_corpus_trace_same_events_in_cpython_and_micropython():
    names = ensure_corpus(CORPUS)
    assert len(names) >= 60
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(_compare, names))
    bad = []
    for name, a, b in results:
        if a != b:
            first = next(i for i in range(min(len(a), len(b))) if a[i] != b[i]) if min(len(a), len(b)) else 0
            bad.append("%s: line %d\n  cpython:     %s\n  micropython: %s" % (
                name, first + 1, a[first] if first < len(a) else "<end>", b[first] if first < len(b) else "<end>"))
    assert not bad, "\n".join(bad[:5])
    # not trivially equal: the corpus produces reps
    assert sum(1 for _, a, _ in results for line in a if '"rep_end"' in line) >= 300


def _board_lines(trace):
    """The events a board computes: heelcore under boardmodel, driven by
    heeldrop.replay.run_engine as the host's is."""
    with boardmodel.board_engine() as E:
        ev = sys.modules["heelcore.events"]
        api = (E.Engine, sys.modules["heelcore.config"].Config, ev.TraceClock)
        return [ev.to_json(e) for e in run_engine(trace, heelcore=api)]


def _corpus_and_committed():
    names = ensure_corpus(CORPUS)
    paths = [os.path.join(CORPUS, n + ".csv") for n in names]
    tdir = os.path.join(ROOT, "tests", "traces")
    paths += sorted(os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".csv"))
    return paths


MP32 = os.path.join(ROOT, "build", "unix32", "micropython")


def _compare32(path):
    tr = read_trace(path)
    return path, _host_lines(path, tr), run_engine_micropython(tr, micropython=MP32)


def test_every_corpus_trace_same_events_on_a_32_bit_single_float_port():
    # Issue 11: with single-precision floats, 30 of 117 traces gave other
    # event lines on a board (hundredths rounded from float ms, a float32
    # acos, float truncations in the frame and the accelerometer gates).
    # The 32-bit, single-float unix port (`make unix32`) computes as a Pico
    # or an ESP32 does: 32-bit viper words, 31-bit small ints, float32.
    assert os.path.exists(MP32), "%s missing: run `make unix32`" % MP32
    paths = _corpus_and_committed()
    with ThreadPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(_compare32, paths))
    bad = []
    for path, a, b in results:
        if a != b:
            i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
            bad.append("%s line %d\n  cpython: %s\n  32-bit:  %s" % (
                os.path.basename(path), i + 1, a[i] if i < len(a) else "<end>", b[i] if i < len(b) else "<end>"))
    assert not bad, "%d of %d traces differ on the 32-bit port:\n%s" % (len(bad), len(paths), "\n".join(bad[:5]))


def test_a_board_computes_the_same_events_as_the_host():
    # The same on CPython, through a model of the board's arithmetic
    # (tests/host/boardmodel.py: every float rounded to single precision,
    # viper ints wrapped to 32 bits), which also names the line of any
    # viper intermediate that would need more than 32 bits. The committed
    # traces (the 32-bit port above runs the whole corpus).
    tdir = os.path.join(ROOT, "tests", "traces")
    paths = sorted(os.path.join(tdir, f) for f in os.listdir(tdir) if f.endswith(".csv"))
    with ProcessPoolExecutor(max_workers=2) as ex:
        results = list(ex.map(_board_vs_host, paths))
    bad = [r for r, _ in results if r]
    overflows = {}
    for _, o in results:
        overflows.update(o)
    assert not bad, "%d of %d traces differ on a board:\n%s" % (len(bad), len(paths), "\n".join(bad[:5]))
    assert not overflows, "viper intermediates beyond 32 bits (module, line): %s" % overflows


def _board_vs_host(path):
    boardmodel.overflows.clear()
    tr = read_trace(path)
    host = [to_json(e) for e in run_engine(tr)]
    board = _board_lines(tr)
    diff = ""
    if host != board:
        i = next((k for k in range(min(len(host), len(board))) if host[k] != board[k]), min(len(host), len(board)))
        diff = "%s line %d\n  host:  %s\n  board: %s" % (
            os.path.basename(path), i + 1, host[i] if i < len(host) else "<end>", board[i] if i < len(board) else "<end>")
    return diff, dict(boardmodel.overflows)


def _shifted(trace, offset, jump_at=None, jump=0):
    t = [x + offset + (jump if jump_at is not None and i >= jump_at else 0) for i, x in enumerate(trace.t_ms)]
    return Trace(t, trace.ax, trace.ay, trace.az, trace.gx, trace.gy, trace.gz, meta=trace.meta, path=trace.path)


def test_64_bit_timestamps_give_the_same_events_in_both_engines():
    # Issue 13 item 12: a device with a long uptime (t >= 2**31 ms after
    # `convert` unwraps its clock) gave an OverflowError in CPython while the
    # unix port truncated; a 10**9 ms jump must not hang anything.
    tr = read_trace(os.path.join(ROOT, "tests", "traces", "mixed_faults_right.csv"))
    base = [to_json(e) for e in run_engine(tr)]
    for offset in (1 << 31, (1 << 33) + 12345, (1 << 62)):
        big = _shifted(tr, offset)
        a = [to_json(e) for e in run_engine(big)]
        b = run_engine_micropython(big)
        assert a == b, offset
        # the same events, at the trace's own (shifted) times
        back = []
        for line in a:
            e = json.loads(line)
            for k in ("t_ms", "onset_ms", "start_ms", "end_ms"):
                if k in e:
                    e[k] -= offset
            back.append(to_json(e))
        assert back == base, offset
    n = len(tr.t_ms)
    jumped = _shifted(tr, 0, jump_at=n // 2, jump=10 ** 9)
    a = [to_json(e) for e in run_engine(jumped)]
    assert a == run_engine_micropython(jumped)
    assert len(a) < 2 * len(base) + 10
    summ = json.loads(a[-1])
    assert summ["gaps"] >= 1 and 0 <= jumped.t_ms[-1] - summ["t_ms"] <= 200, summ


def test_replay_clips_to_the_sensor_range_as_the_chip_does():
    # a reading beyond the configured range reaches the engine as the
    # 16-bit chip's rail, not as a value the chip can never give
    tr = read_trace(os.path.join(ROOT, "tests", "traces", "walk_to_step_left.csv"))
    t = Trace(tr.t_ms[:3], [0.0, 9.5, -9.5], [0.0] * 3, [1.0] * 3, [2000.0, -2000.0, 0.0],
              [0.0] * 3, [0.0] * 3, meta=tr.meta, path=tr.path)
    a, g = scales(t)
    c = to_counts(t)
    assert c[1][1] == 32767 and c[2][1] == -32768 and c[0][4] == 32767 and c[1][4] == -32768, (a, g, c)
